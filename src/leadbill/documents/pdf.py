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
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import TTFFont

from leadbill.accounts.models import Account
from leadbill.core.billability import reason_label
from leadbill.credit_notes.service import CreditNoteView
from leadbill.documents.formats import last_day, local, money

if TYPE_CHECKING:
    from leadbill.documents.invoice import InvoiceDocument


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
            self.cell(36, 6, label)
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


def party_lines(snapshot: dict[str, Any] | None, fallback: str) -> list[str]:
    """A party's block as printed: legal name, address, country, tax number."""
    if snapshot is None:
        return [fallback]
    place = " ".join(
        str(part) for part in (snapshot.get("postal_code"), snapshot.get("city")) if part
    )
    region = snapshot.get("region")
    country = snapshot.get("country")
    lines = [
        str(snapshot.get("legal_name") or fallback),
        *(str(snapshot[key]) for key in ("address_line1", "address_line2") if snapshot.get(key)),
        *([place] if place else []),
        *([f"{region + ', ' if region else ''}{country}"] if country else []),
    ]
    if snapshot.get("tax_id"):
        lines.append(f"Tax number: {snapshot['tax_id']}")
    if snapshot.get("email"):
        lines.append(str(snapshot["email"]))
    return lines


def _rate(category: str | None, rate: Decimal) -> str:
    if category is None:
        return ""
    return f"{category} {rate.normalize():f} %"


def _parties(pdf: _Document, issuer: list[str], customer: list[str]) -> None:
    """The issuer's and the customer's blocks side by side."""
    top = bottom = pdf.get_y()
    for column, (label, lines) in enumerate((("From", issuer), ("Bill to", customer))):
        pdf.set_xy(pdf.l_margin + column * 95, top)
        pdf.set_font(FONT, "B", 10)
        pdf.multi_cell(92, 5, label, new_x=XPos.LEFT, new_y=YPos.NEXT)
        pdf.set_font(FONT, size=10)
        pdf.multi_cell(92, 5, "\n".join(lines), new_x=XPos.LEFT, new_y=YPos.NEXT)
        bottom = max(bottom, pdf.get_y())
    pdf.set_xy(pdf.l_margin, bottom + 2)


def _tax_summary(pdf: _Document, rows: list[tuple[str, str]]) -> None:
    """Right-aligned label and amount rows under a table: net, tax by rate, gross, due."""
    pdf.ln(1)
    for label, value in rows:
        bold = label in ("Total to pay", "Balance due", "Total")
        pdf.set_font(FONT, "B" if bold else "", 10)
        pdf.cell(140, 6, label, align="R")
        pdf.cell(50, 6, value, align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, size=10)


def invoice_pdf(document: InvoiceDocument, *, seller: str) -> bytes:
    """The invoice: issuer and customer, dates, PO, lines with tax, totals by rate, payments."""
    invoice, account = document.invoice, document.account
    cur, tz = invoice.currency, account.time_zone
    issuer = party_lines(invoice.issuer, seller)
    pdf = _Document(issuer[0], f"Invoice {invoice.number}", invoice.issued_at)
    pdf.set_font(FONT, "B", 16)
    pdf.cell(0, 9, issuer[0], new_x=XPos.LMARGIN, new_y=YPos.NEXT)  # the letterhead
    pdf.heading(f"Invoice {invoice.number}", 14)
    pdf.ln(1)
    customer = party_lines(invoice.customer, account.name)
    if invoice.customer is None:  # finalized before 0016: the account as it is
        customer.append(account.billing_email)
    _parties(pdf, issuer, customer)
    period = document.period
    purchase_order = (invoice.customer or {}).get("purchase_order")
    exemption = (invoice.customer or {}).get("tax_exemption")
    pdf.pairs(
        [
            ("Invoice date", local(invoice.issued_at, tz, "%Y-%m-%d")),
            ("Due date", invoice.due_on.isoformat() if invoice.due_on else "-"),
            ("Status", invoice.status),
            (
                "Period",
                f"{local(period[0], tz, '%Y-%m-%d')} - {last_day(period[1], tz)}"
                if period
                else "-",
            ),
            ("Account", account.code),
            *([("PO / reference", str(purchase_order))] if purchase_order else []),
            *([("Tax exemption", str(exemption))] if exemption else []),
        ]
    )
    pdf.heading("Lines")
    pdf.grid(
        ["Description", "Qty", "Unit price", "Tax", "Net", "Tax amount"],
        [
            [
                line.description,
                str(line.quantity),
                money(line.unit_price, cur),
                _rate(line.tax_category, line.tax_rate),
                money(line.amount, cur),
                money(line.tax_amount, cur) if line.tax_category else "",
            ]
            for line in document.lines
        ],
        widths=[76, 12, 26, 20, 28, 28],
        numeric=5,
    )
    totals = document.totals
    rows = [("Net", money(totals.net))]
    rows += [
        (f"Tax {_rate(part.category, part.rate)} on {money(part.basis)}", money(part.tax))
        for part in totals.subtotals
    ]
    rows.append(("Gross", money(totals.gross)))
    if not totals.credits.is_zero():
        rows.append(("Credit notes applied", money(totals.credits)))
    rows += [
        ("Total to pay", money(invoice.total, cur)),
        ("Amount paid", money(document.paid, cur)),
        ("Balance due", money(document.balance, cur)),
    ]
    _tax_summary(pdf, rows)
    if invoice.tax_mention:
        pdf.ln(1)
        pdf.set_font(FONT, "B", 9)
        pdf.multi_cell(0, 5, invoice.tax_mention, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font(FONT, size=10)
    instructions = document.instructions
    if instructions is not None and document.balance > 0:
        pdf.heading("How to pay")
        pdf.pairs(
            [
                *instructions.printed(),
                ("Amount", money(instructions.amount, cur)),
                ("Due date", instructions.due_on.isoformat() if instructions.due_on else "-"),
            ]
        )
        pdf.set_font(FONT, size=9)
        pdf.multi_cell(
            0,
            5,
            f"Quote the reference {instructions.printed()[-1][1]} with your transfer, so that "
            "your payment is matched to this invoice.",
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )
        pdf.set_font(FONT, size=10)
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
    """The credit note: issuer and customer, what it credits, its lines with tax, applications."""
    note, cur, tz = view.note, view.note.currency, account.time_zone
    issuer = party_lines(note.issuer, seller)
    pdf = _Document(issuer[0], f"Credit note {note.number}", note.issued_at)
    pdf.set_font(FONT, "B", 16)
    pdf.cell(0, 9, issuer[0], new_x=XPos.LMARGIN, new_y=YPos.NEXT)  # the letterhead
    pdf.heading(f"Credit note {note.number}", 14)
    pdf.ln(1)
    _parties(pdf, issuer, party_lines(note.customer, account.name))
    pdf.pairs(
        [
            ("Account", f"{account.name} ({account.code})"),
            ("Issued", local(note.issued_at, tz, "%Y-%m-%d")),
            ("Invoice", view.invoice_number),
            ("Credits", view.subject),
            ("Reason", reason_label(note.reason)),
            ("Total", money(note.total, cur)),
            ("Applied", money(view.applied)),
            ("Remaining", money(view.remaining)),
        ]
    )
    pdf.heading("Lines")
    pdf.grid(
        ["Description", "Qty", "Unit price", "Tax", "Net", "Tax amount"],
        [
            [
                line.description,
                str(line.quantity),
                money(line.unit_price, cur),
                _rate(line.tax_category, line.tax_rate),
                money(line.amount, cur),
                money(line.tax_amount, cur) if line.tax_category else "",
            ]
            for line in view.lines
        ],
        widths=[76, 12, 26, 20, 28, 28],
        numeric=5,
    )
    _tax_summary(
        pdf,
        [
            ("Net", money(note.net_total, cur)),
            ("Tax", money(note.tax_total, cur)),
            ("Total", money(note.total, cur)),
        ],
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
