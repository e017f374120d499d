"""Invoice and credit note PDFs, the payments page and balances in the portal (R15)."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy.orm import Session, sessionmaker

from leadbill.api import create_app
from leadbill.billing.invoices import get_invoice, invoice_lines, list_invoices
from leadbill.billing.payments import record_payment
from leadbill.billing.service import run_billing
from leadbill.documents import pdf
from leadbill.portal.web import money
from leadbill.reviews.flows import decide_review
from leadbill.reviews.service import submit_review
from leadbill.settings import Settings
from tests.conftest import utc
from tests.portal.conftest import sign_in
from tests.portal.world import PortalWorld, add_february_lead, build_pay_per_lead, build_world


def pdf_text(content: bytes) -> str:
    """The text of every page of a PDF, whitespace collapsed to single spaces."""
    reader = PdfReader(io.BytesIO(content))
    return " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)


@pytest.fixture
def clock() -> list[datetime]:
    """The portal's clock, moved by the test."""
    return [utc(2026, 3, 2)]


@pytest.fixture
def seller() -> str:
    """The operator's name printed on the documents (a test may parametrize it)."""
    return "Lead Line LLC"


@pytest.fixture
def account_name() -> str:
    """The name of the `credited` account (a test may parametrize it)."""
    return "Pipe Pros"


@pytest.fixture
def app_client(
    sessions: sessionmaker[Session], database_url: str, clock: list[datetime], seller: str
) -> Iterator[TestClient]:
    """A client whose portal clock is `clock[0]` and whose operator is `seller`."""
    app = create_app(sessions)
    app.state.portal_clock = lambda: clock[0]
    app.state.portal_settings = Settings(database_url=database_url, operator_name=seller)
    with TestClient(
        app, base_url="https://testserver", raise_server_exceptions=False, follow_redirects=False
    ) as client:
        yield client


@pytest.fixture
def credited(sessions: sessionmaker[Session], account_name: str) -> tuple[str, str]:
    """Pipe Pros: January (3 leads at 40.00) credited one lead, paid 50.00; February billed.

    Returns the numbers of the January and February invoices.
    """
    build_pay_per_lead(sessions, name=account_name)
    with sessions() as session, session.begin():
        review = submit_review(
            session,
            "pipe",
            "PIPE-1",
            reason="solicitor",
            explanation="A van leasing sales call.",
            submitted_by="dana@pipe.test",
            as_of=utc(2026, 2, 2, 15),
        )
        decide_review(session, review.id, "approve", decided_by="qa@op.test", as_of=utc(2026, 2, 3))
        january = [i for i in list_invoices(session) if i.number][-1]
        record_payment(
            session,
            invoice=january,
            amount="50.00",
            currency="USD",
            reference="wire-7731",
            received_at=utc(2026, 2, 5, 14, 30),
        )
    add_february_lead(sessions)
    run_billing(sessions, utc(2026, 3, 1, 1))
    with sessions() as session:
        numbers = [i.number for i in list_invoices(session) if i.number]
    return numbers[-2], numbers[-1]


def test_r15_invoice_pdf_has_every_line_the_total_payments_balance_and_credit_notes(
    app_client: TestClient, credited: tuple[str, str], sessions: sessionmaker[Session]
) -> None:
    january, february = credited
    sign_in(app_client, "dana@pipe.test")
    page = app_client.get(f"/portal/invoices/{january}").text
    assert f'href="/portal/invoices/{january}/pdf"' in page
    response = app_client.get(f"/portal/invoices/{january}/pdf")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert f'filename="{january}.pdf"' in response.headers["content-disposition"]
    text = pdf_text(response.content)
    assert "Lead Line LLC" in text  # the seller
    assert f"Invoice {january}" in text
    assert "Bill to Pipe Pros" in text and "billing@pipe.test" in text
    assert "Account pipe" in text
    assert "Status open" in text
    assert "Invoice date 2026-02-01" in text
    assert "Due date 2026-02-16" in text  # net 15: no billing entity is set up
    # January's leads in arrears and February's fee in advance: the lines span both months.
    assert "Period 2026-01-01 - 2026-02-28" in text
    with sessions() as session:
        invoice = get_invoice(session, january)
        lines = invoice_lines(session, invoice.id)
    assert invoice.total == Decimal("120.00")
    for line in lines:
        assert line.description in text
        # The amounts read as on the page: the same money filter.
        assert money(line.amount, "USD") in page
        row = f"{line.quantity} {money(line.unit_price, 'USD')} {money(line.amount, 'USD')}"
        assert row in text, row
    assert "Total to pay 120.00 USD" in text
    assert "Net 120.00 USD" in text and "Gross 120.00 USD" in text
    assert "wire-7731" in text and "2026-02-05 14:30" in text and "50.00 USD" in text
    assert "Balance due 70.00 USD" in text  # 120.00 less the payment of 50.00
    # The credit note of the approved review, as the page lists it.
    assert "Credit notes against this invoice" in text
    assert re.search(r"CN-000001 Credit for lead PIPE-1: .* 40\.00 USD", text), text

    following = pdf_text(app_client.get(f"/portal/invoices/{february}/pdf").content)
    assert f"Invoice {february}" in following
    assert "-40.00 USD" in following  # the credit applied as a negative line
    # February's lead (40.00) less the credit: nothing to pay, paid at once.
    assert "Status paid" in following and "Total to pay 0.00 USD" in following
    assert "Balance due 0.00 USD" in following


def test_r15_credit_note_pdf_names_the_invoice_the_lead_and_where_it_was_applied(
    app_client: TestClient, credited: tuple[str, str]
) -> None:
    january, february = credited
    sign_in(app_client, "dana@pipe.test")
    assert (
        'href="/portal/credit-notes/CN-000001/pdf"'
        in app_client.get(f"/portal/invoices/{january}").text
    )
    response = app_client.get("/portal/credit-notes/CN-000001/pdf")
    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
    text = pdf_text(response.content)
    assert "Credit note CN-000001" in text
    assert f"Invoice {january}" in text and "lead PIPE-1" in text
    assert "Total 40.00 USD" in text
    assert f"{february} " in text and "Remaining 0.00 USD" in text


def test_a_customer_gets_404_for_another_accounts_pdf_and_staff_get_any(
    app_client: TestClient, sessions: sessionmaker[Session], clock: list[datetime]
) -> None:
    world: PortalWorld = build_world(sessions)
    clock[0] = utc(2026, 1, 20, 15)
    sign_in(app_client, "ana@acme.test")
    mine = app_client.get(f"/portal/invoices/{world.invoices['acme'][0]}/pdf")
    assert mine.status_code == 200 and mine.content.startswith(b"%PDF-")
    assert "Acme Realty" in pdf_text(mine.content)
    for number in world.invoices["other"]:
        theirs = app_client.get(f"/portal/invoices/{number}/pdf")
        assert theirs.status_code == 404
        assert theirs.headers["content-type"].startswith("text/html")
        assert "does not exist" in theirs.text and "Other Realty" not in theirs.text
    assert app_client.get("/portal/invoices/INV-999999/pdf").status_code == 404
    assert app_client.get("/portal/credit-notes/CN-000001/pdf").status_code == 404
    app_client.cookies.clear()
    assert app_client.get(f"/portal/invoices/{world.invoices['other'][0]}/pdf").status_code == 303
    sign_in(app_client, "vic@operator.test")  # a viewer: staff read every account's
    theirs = app_client.get(f"/portal/invoices/{world.invoices['other'][0]}/pdf")
    assert theirs.status_code == 200 and "Other Realty" in pdf_text(theirs.content)


def test_payments_page_lists_every_payment_and_invoices_show_the_balance_due(
    app_client: TestClient, sessions: sessionmaker[Session], clock: list[datetime]
) -> None:
    world: PortalWorld = build_world(sessions)
    clock[0] = utc(2026, 1, 20, 15)
    first, seat_fee = world.invoices["acme"][:2]
    with sessions() as session, session.begin():
        fee = get_invoice(session, first)
        assert fee.total == Decimal("500.00")
        record_payment(
            session,
            invoice=fee,
            amount="120.50",
            currency="USD",
            reference="ach-1",
            received_at=utc(2026, 1, 5, 9),
        )
        record_payment(
            session,
            invoice=fee,
            amount="79.50",
            currency="USD",
            reference="ach-2",
            received_at=utc(2026, 1, 12, 9),
        )
        record_payment(
            session,
            invoice=get_invoice(session, world.invoices["other"][0]),
            amount="10.00",
            currency="USD",
            reference="other-pay",
            received_at=utc(2026, 1, 6),
        )
    sign_in(app_client, "ana@acme.test")
    payments = app_client.get("/portal/payments")
    assert payments.status_code == 200
    rows = re.findall(
        r"<tr>\s*<td>([^<]+)</td>\s*<td><a[^>]*>([^<]+)</a></td>\s*"
        r"<td>([^<]+)</td>\s*<td class=\"num\">([^<]+)</td>",
        payments.text,
    )
    assert rows == [
        ("2026-01-12 09:00", first, "ach-2", "79.50 USD"),
        ("2026-01-05 09:00", first, "ach-1", "120.50 USD"),
    ]
    assert "other-pay" not in payments.text
    listing = app_client.get("/portal/invoices").text
    assert re.search(rf'data-figure="balance-{first}">300\.00 USD<', listing)  # 500 - 200
    assert re.search(rf'data-figure="balance-{seat_fee}">57\.00 USD<', listing)
    assert ">open<" in listing
    app_client.cookies.clear()
    sign_in(app_client, "vic@operator.test")  # staff: every account's, on their paged list
    moved = app_client.get("/portal/payments")
    assert moved.status_code == 303 and moved.headers["location"] == "/portal/staff/payments"
    every = app_client.get("/portal/staff/payments").text
    assert "ach-1" in every and "ach-2" in every and "other-pay" in every
    assert ">other</a>" in every and ">acme</a>" in every


def embedded_fonts(content: bytes) -> set[str]:
    """The base names of the fonts a PDF's pages use, without their subset tag."""
    reader = PdfReader(io.BytesIO(content))
    return {
        str(font.get_object()["/BaseFont"]).split("+")[-1]
        for page in reader.pages
        for font in page["/Resources"]["/Font"].values()
    }


@pytest.mark.parametrize(
    "account_name",
    [
        "Łukasz Żak",
        "Müller GmbH",
        "株式会社リード",
        "주식회사 리드",
        "Пётр Иванов",
        "Γιώργος Παπαδόπουλος",
        "Nguyễn Văn Anh",
    ],
)
def test_invoice_and_credit_note_pdfs_print_the_account_name_as_written(
    app_client: TestClient, credited: tuple[str, str], account_name: str
) -> None:
    january, _ = credited
    sign_in(app_client, "dana@pipe.test")
    invoice = pdf_text(app_client.get(f"/portal/invoices/{january}/pdf").content)
    assert f"Bill to {account_name}" in invoice, invoice
    note = pdf_text(app_client.get("/portal/credit-notes/CN-000001/pdf").content)
    assert f"Account {account_name} (pipe)" in note, note
    # Nothing is replaced any more: the documents print no question mark at all.
    assert "?" not in invoice and "?" not in note


@pytest.mark.parametrize(("account_name", "seller"), [("株式会社リード", "リード・ライン合同会社")])
def test_a_cjk_seller_prints_in_the_bold_heading_and_the_same_invoice_gives_the_same_bytes(
    app_client: TestClient, credited: tuple[str, str], clock: list[datetime], seller: str
) -> None:
    january, _ = credited
    sign_in(app_client, "dana@pipe.test")
    first = app_client.get(f"/portal/invoices/{january}/pdf").content
    text = pdf_text(first)
    # The seller heads the page in bold, which the CJK font (regular only) prints too.
    assert text.startswith(f"{seller} Invoice {january}"), text
    assert f"{seller} · page 1 of 1" in text  # the footer
    assert PdfReader(io.BytesIO(first)).metadata.author == seller
    clock[0] = utc(2026, 6, 1)  # downloaded again months later
    sign_in(app_client, "dana@pipe.test")
    assert app_client.get(f"/portal/invoices/{january}/pdf").content == first
    note = app_client.get("/portal/credit-notes/CN-000001/pdf").content
    assert app_client.get("/portal/credit-notes/CN-000001/pdf").content == note


@pytest.mark.parametrize("account_name", ["Müller GmbH", "株式会社リード"])
def test_the_cjk_font_is_embedded_only_in_a_document_that_needs_it(
    app_client: TestClient, credited: tuple[str, str], account_name: str
) -> None:
    january, _ = credited
    sign_in(app_client, "dana@pipe.test")
    fonts = embedded_fonts(app_client.get(f"/portal/invoices/{january}/pdf").content)
    # Loading it is most of a document's cost, so a Latin name goes without it.
    expected = {"DejaVuSansBook", "DejaVuSansBold"}
    if account_name == "株式会社リード":
        expected.add("WenQuanYiMicroHei")
    assert fonts == expected


def test_a_missing_font_file_fails_the_pdf_naming_the_file_and_its_package(
    app_client: TestClient,
    credited: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    january, _ = credited
    sign_in(app_client, "dana@pipe.test")
    regular, bold, cjk = pdf.FONTS
    missing = cjk._replace(path=Path("/nonexistent/wqy-microhei.ttc"))
    monkeypatch.setattr(pdf, "FONTS", (regular, bold, missing))
    response = app_client.get(f"/portal/invoices/{january}/pdf")
    assert response.status_code == 500
    assert "/nonexistent" not in response.text  # the server's paths are for its log
    assert (
        "the PDF documents need the font files /nonexistent/wqy-microhei.ttc "
        "(Debian package fonts-wqy-microhei): install them with "
        "`apt-get install fonts-wqy-microhei`"
    ) in caplog.text
