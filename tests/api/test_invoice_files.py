"""An invoice's PDF and Factur-X e-invoice over the API: every block a lawful invoice needs.

The Swedish issuer of docs/taxes.md bills a Swedish customer (25 %) and a German
business (reverse charge); the PDF is read back with pypdf, the embedded XML is
checked against the EN 16931 schema of the Factur-X library.
"""

from __future__ import annotations

import io

import pytest
from drafthorse.models.document import Document
from fastapi.testclient import TestClient
from lxml import etree
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from leadbill.accounts.models import Account
from leadbill.auth.service import create_key
from leadbill.billing.models import Invoice
from leadbill.billing.payments import record_payment
from tests.conftest import utc
from tests.integration.test_invoice_tax import START, _world

RAM = "{urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100}"


@pytest.fixture
def keys(sessions: sessionmaker[Session]) -> dict[str, str]:
    """The Swedish world, the Swedish customer's first invoice half paid, and API keys."""
    with sessions.begin() as session:
        _world(session)
        invoice = session.scalars(select(Invoice).where(Invoice.number == "SE-000001")).one()
        record_payment(
            session,
            invoice=invoice,
            amount=invoice.total / 2,
            currency=invoice.currency,
            reference="bg-1001",
            received_at=utc(2026, 10, 5),
        )
        found = {}
        for role, account in (("billing", None), ("customer", "mueller")):
            _row, found[role] = create_key(session, role=role, account_code=account, as_of=START)
    return found


def _number(sessions: sessionmaker[Session], code: str) -> str:
    with sessions() as session:
        return str(
            session.scalar(
                select(Invoice.number)
                .join(Account, Account.id == Invoice.account_id)
                .where(Account.code == code)
                .order_by(Invoice.id)
            )
        )


def _get(client: TestClient, key: str, path: str) -> bytes:
    response = client.get(path, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    return response.content


def _text(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    return " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)


def test_invoice_pdf_shows_issuer_customer_dates_po_tax_totals_and_balance(
    client: TestClient, keys: dict[str, str], sessions: sessionmaker[Session]
) -> None:
    number = _number(sessions, "fjord")
    text = _text(_get(client, keys["billing"], f"/v1/invoices/{number}/pdf"))
    for expected in (
        f"Invoice {number}",
        "From Lead Data Nordic AB Sveavägen 44 111 34 Stockholm SE Tax number: SE556036079301",
        "Bill to Fjord Analytics AB Kungsgatan 1 411 19 Göteborg SE Tax number: SE556036079301",
        "Invoice date 2026-10-01",
        "Due date 2026-10-31",
        "PO / reference PO-7781",
        "S 25 % 400.00 EUR 100.00 EUR",
        "Net 400.00 EUR",
        "Tax S 25 % on 400.00 EUR 100.00 EUR",
        "Gross 500.00 EUR",
        "Total to pay 500.00 EUR",
        "Amount paid 250.00 EUR",
        "Balance due 250.00 EUR",
        "bg-1001",
    ):
        assert expected in text, (expected, text)
    assert "Reverse charge" not in text


def test_tax_reverse_charge_mention_printed_on_the_pdf(
    client: TestClient, keys: dict[str, str], sessions: sessionmaker[Session]
) -> None:
    number = _number(sessions, "mueller")
    text = _text(_get(client, keys["customer"], f"/v1/invoices/{number}/pdf"))
    assert "Bill to Müller GmbH Friedrichstraße 10 10117 Berlin DE" in text
    assert "Tax number: DE136695976" in text
    assert "AE 0 % 400.00 EUR 0.00 EUR" in text
    assert "Reverse charge: VAT to be accounted for by the recipient" in text
    # The customer key reaches only its own account's invoices.
    other = client.get(
        f"/v1/invoices/{_number(sessions, 'fjord')}/pdf",
        headers={"Authorization": f"Bearer {keys['customer']}"},
    )
    assert other.status_code == 404


@pytest.mark.parametrize("code", ["fjord", "mueller", "acme-us"])
def test_facturx_download_embeds_xml_valid_against_en16931(
    client: TestClient, keys: dict[str, str], sessions: sessionmaker[Session], code: str
) -> None:
    number = _number(sessions, code)
    content = _get(client, keys["billing"], f"/v1/invoices/{number}/pdf?format=facturx")
    reader = PdfReader(io.BytesIO(content))
    xml = reader.attachments["factur-x.xml"][0]
    # The library's own schema check of the EN 16931 profile.
    Document.parse(xml).serialize(schema="FACTUR-X_EN16931")
    tree = etree.fromstring(xml)
    assert tree.findtext(".//{*}ExchangedDocument/{*}ID") == number
    category = {"fjord": "S", "mueller": "AE", "acme-us": "O"}[code]
    assert tree.findtext(f".//{RAM}ApplicableTradeTax/{RAM}CategoryCode") == category
    due = tree.findtext(
        f".//{RAM}SpecifiedTradeSettlementHeaderMonetarySummation/{RAM}DuePayableAmount"
    )
    grand = {"fjord": "500.00", "mueller": "400.00", "acme-us": "400.00"}[code]
    assert due == grand
    # The PDF inside still reads as the plain download.
    assert f"Invoice {number}" in _text(content)


def test_tax_invoice_api_shows_net_tax_issuer_and_customer(
    client: TestClient, keys: dict[str, str], sessions: sessionmaker[Session]
) -> None:
    number = _number(sessions, "fjord")
    response = client.get(
        f"/v1/invoices/{number}", headers={"Authorization": f"Bearer {keys['billing']}"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["net_total"] == {"amount": "400.00", "currency": "EUR"}
    assert body["tax_total"] == {"amount": "100.00", "currency": "EUR"}
    assert body["total"] == {"amount": "500.00", "currency": "EUR"}
    assert body["issuer"]["legal_name"] == "Lead Data Nordic AB"
    assert body["customer"]["tax_id"] == "SE556036079301"
    assert [(x["tax_category"], x["tax_rate"], x["tax"]["amount"]) for x in body["lines"]] == [
        ("S", "25", "100.00")
    ]
