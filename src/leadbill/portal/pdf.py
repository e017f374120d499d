"""Invoices and credit notes as PDF documents (fpdf2).

The figures are the ones of the invoice page, formatted by the same `money`
filter, so a PDF and its page always read alike. Dates are in the account's
time zone. A document's creation date is its issue instant: the same invoice
gives the same file whenever it is downloaded, as long as the same font files
are installed (fpdf2 subsets them the same way for the same text, under a fixed
subset tag); a new version of a font package changes the bytes, not the text.

Names print as written: the documents embed Unicode TrueType fonts that Debian
packages install (`FONTS`, the one place their paths live). DejaVu Sans
(fonts-dejavu-core) covers Latin with its extensions (Polish, German, Czech,
Vietnamese, ...), Greek, Cyrillic, Armenian and Georgian. A character it lacks
falls back to WenQuanYi Micro Hei (fonts-wqy-microhei): Chinese, Japanese kanji
and kana, Korean Hangul, with Chinese glyph shapes, and in its regular face inside
bold text too (it has no bold). Not as written: Arabic and Hebrew print left to
right (Arabic letters unjoined; fpdf2 shapes text only with uharfbuzz, which is
not installed), and a character neither font has (Thai, Devanagari and the other
Indic scripts) is left out, with a warning in the log.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import TTFFont

from leadbill.accounts.models import Account
from leadbill.credit_notes.service import CreditNoteView
from leadbill.portal.web import last_day, local, money

if TYPE_CHECKING:
    from leadbill.portal.documents import InvoiceDocument


class Font(NamedTuple):
    """A font file the documents embed, and the Debian package that installs it."""

    family: str
    style: str
    path: Path
    package: str


_TRUETYPE = Path("/usr/share/fonts/truetype")
FONT = "DejaVuSans"
CJK_FONT = "WenQuanYiMicroHei"
# Every font file of the documents, in one place (regular, bold, CJK fallback); .ci/run
# installs the packages, and the README names them.
FONTS = (
    Font(FONT, "", _TRUETYPE / "dejavu/DejaVuSans.ttf", "fonts-dejavu-core"),
    Font(FONT, "B", _TRUETYPE / "dejavu/DejaVuSans-Bold.ttf", "fonts-dejavu-core"),
    Font(CJK_FONT, "", _TRUETYPE / "wqy/wqy-microhei.ttc", "fonts-wqy-microhei"),
)


def _font_files() -> tuple[Font, ...]:
    """The fonts, once each file is known to exist; a missing one is the server's set-up."""
    missing = [font for font in FONTS if not font.path.is_file()]
    if missing:
        files = ", ".join(f"{font.path} (Debian package {font.package})" for font in missing)
        packages = " ".join(dict.fromkeys(font.package for font in missing))
        raise RuntimeError(
            f"the PDF documents need the font files {files}: install them with "
            f"`apt-get install {packages}`"
        )
    return FONTS


class _Document(FPDF):
    """A portrait A4 page with the seller's name on top and page numbers at the foot."""

    def __init__(self, seller: str, title: str, issued_at: datetime) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        regular, bold, self._cjk = _font_files()
        faces: list[set[int]] = []
        for font in (regular, bold):
            self.add_font(font.family, font.style, font.path)
            face = self.fonts[f"{font.family.lower()}{font.style}"]
            assert isinstance(face, TTFFont)
            faces.append(set(face.cmap))
        # The characters both DejaVu faces have: any other one needs the CJK font.
        self._covered = faces[0] & faces[1]
        self._cjk_added = False
        self.seller = seller
        self.set_title(title)
        self.set_author(seller)
        self.set_creation_date(issued_at)
        self.set_auto_page_break(auto=True, margin=18)
        self.alias_nb_pages()
        self.add_page()

    def normalize_text(self, text: str) -> str:
        # fpdf2 passes every text here before it measures or prints it. Loading the CJK font
        # costs about three times the rest of a document (fpdf2 parses its 5 MB file for each
        # document), so it is added only to a document that has a character DejaVu lacks:
        # which depends on the document's text alone, so its bytes stay the same.
        if not self._cjk_added and not self._covered.issuperset(map(ord, text)):
            self._cjk_added = True
            self.add_font(self._cjk.family, self._cjk.style, self._cjk.path)
            # The CJK font has no bold: bold text falls back to its regular face.
            self.set_fallback_fonts([self._cjk.family], exact_match=False)
        return super().normalize_text(text)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FONT, size=8)
        self.cell(0, 5, f"{self.seller} · page {self.page_no()} of {{nb}}", align="C")

    def heading(self, text: str, size: int = 12) -> None:
        self.ln(3)
        self.set_font(FONT, "B", size)
        self.cell(0, 7, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font(FONT, size=10)

    def pairs(self, rows: Sequence[tuple[str, str]]) -> None:
        self.set_font(FONT, size=10)
        for label, value in rows:
            self.set_font(FONT, "B", 10)
            self.cell(32, 6, label)
            self.set_font(FONT, size=10)
            self.cell(0, 6, value, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def grid(
        self,
        headings: Sequence[str],
        rows: Sequence[Sequence[str]],
        widths: Sequence[int],
        numeric: int,
        footer: Sequence[str] | None = None,
    ) -> None:
        """A table whose last `numeric` columns are right-aligned figures."""
        align = ["LEFT"] * (len(headings) - numeric) + ["RIGHT"] * numeric
        self.set_font(FONT, size=9)
        with self.table(
            col_widths=tuple(widths),
            text_align=tuple(align),
            line_height=5.5,
            padding=1.2,
            first_row_as_headings=True,
        ) as table:
            for cells in [headings, *rows, *([footer] if footer else [])]:
                row = table.row()
                for cell in cells:
                    row.cell(cell)
        self.set_font(FONT, size=10)


def invoice_pdf(document: InvoiceDocument, *, seller: str) -> bytes:
    """The invoice: seller and account, number, status, dates, lines, totals, payments."""
    invoice, account = document.invoice, document.account
    cur, tz = invoice.currency, account.time_zone
    pdf = _Document(seller, f"Invoice {invoice.number}", invoice.issued_at)
    pdf.set_font(FONT, "B", 16)
    pdf.cell(0, 9, seller, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.heading(f"Invoice {invoice.number}", 14)
    period = document.period
    pdf.pairs(
        [
            ("Bill to", f"{account.name} ({account.code})"),
            ("E-mail", account.billing_email),
            ("Status", invoice.status),
            ("Issued", local(invoice.issued_at, tz, "%Y-%m-%d")),
            (
                "Period",
                f"{local(period[0], tz, '%Y-%m-%d')} - {last_day(period[1], tz)}"
                if period
                else "-",
            ),
            ("Total", money(invoice.total, cur)),
            ("Balance due", money(document.balance, cur)),
        ]
    )
    pdf.heading("Lines")
    pdf.grid(
        ["Description", "Period", "Quantity", "Unit price", "Amount"],
        [
            [
                line.description,
                (
                    f"{local(line.period_start, tz, '%Y-%m-%d')} - {last_day(line.period_end, tz)}"
                    if line.period_start
                    else ""
                ),
                str(line.quantity),
                money(line.unit_price, cur),
                money(line.amount, cur),
            ]
            for line in document.lines
        ],
        widths=[70, 38, 18, 27, 27],
        numeric=3,
        footer=["Total", "", "", "", money(invoice.total, cur)],
    )
    pdf.heading("Payments")
    if document.payments:
        pdf.grid(
            ["Received", "Reference", "Amount"],
            [
                [
                    local(payment.received_at, tz),
                    payment.reference,
                    money(payment.amount, payment.currency),
                ]
                for payment in document.payments
            ],
            widths=[45, 95, 40],
            numeric=1,
        )
    else:
        pdf.cell(0, 6, "No payments received.", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)
    pdf.pairs([("Balance due", money(document.balance, cur))])
    if document.credit_notes:
        numbers = {note.id: note.number for note in document.credit_notes}
        pdf.heading("Credit notes against this invoice")
        pdf.grid(
            ["Credit note", "Line", "Amount"],
            [
                [numbers[line.credit_note_id], line.description, money(line.amount, cur)]
                for line in document.credited
                if line.credit_note_id in numbers
            ],
            widths=[30, 115, 35],
            numeric=1,
        )
        pdf.set_font(FONT, size=9)
        pdf.multi_cell(
            0, 5, "A credit note is applied as a negative line on the account's next invoice."
        )
    return bytes(pdf.output())


def credit_note_pdf(view: CreditNoteView, account: Account, *, seller: str) -> bytes:
    """The credit note: what it credits, the invoice it corrects, its lines and applications."""
    note, cur, tz = view.note, view.note.currency, account.time_zone
    pdf = _Document(seller, f"Credit note {note.number}", note.issued_at)
    pdf.set_font(FONT, "B", 16)
    pdf.cell(0, 9, seller, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.heading(f"Credit note {note.number}", 14)
    pdf.pairs(
        [
            ("Account", f"{account.name} ({account.code})"),
            ("Issued", local(note.issued_at, tz, "%Y-%m-%d")),
            ("Invoice", view.invoice_number),
            ("Credits", view.subject),
            ("Reason", note.reason),
            ("Total", money(note.total, cur)),
            ("Applied", money(view.applied)),
            ("Remaining", money(view.remaining)),
        ]
    )
    pdf.heading("Lines")
    pdf.grid(
        ["Description", "Quantity", "Unit price", "Amount"],
        [
            [
                line.description,
                str(line.quantity),
                money(line.unit_price, cur),
                money(line.amount, cur),
            ]
            for line in view.lines
        ],
        widths=[100, 20, 30, 30],
        numeric=3,
        footer=["Total", "", "", money(note.total, cur)],
    )
    if view.applications:
        pdf.heading("Applied to")
        pdf.grid(
            ["Invoice", "Applied", "Amount"],
            [
                [number, local(at, tz), money(amount, cur)]
                for number, amount, at in view.applications
            ],
            widths=[60, 70, 50],
            numeric=1,
        )
    return bytes(pdf.output())
