"""Bank transfer instructions over the API: on the invoice, its PDF and its Factur-X XML.

The Swedish entity is paid to an IBAN, the US one to an account and ABA routing
number (tests.integration.payment_world). The PDF is read back with pypdf and the
embedded XML validated against the EN 16931 schema of the Factur-X library.
"""

from __future__ import annotations

import io

import pytest
from drafthorse.models.document import Document
from fastapi.testclient import TestClient
from lxml import etree
from pypdf import PdfReader
from sqlalchemy.orm import Session, sessionmaker

from leadbill.auth.service import create_key
from leadbill.billing.invoices import get_invoice
from leadbill.billing.payments import record_payment
from tests.conftest import utc
from tests.integration.payment_world import START, invoices_of, world

RAM = "{urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100}"


@pytest.fixture
def keys(sessions: sessionmaker[Session]) -> dict[str, str]:
    """The two entities' customers; the Swedish first invoice (500.00 EUR) 120.50 paid."""
    with sessions.begin() as session:
        accounts = world(session)
        (first,) = invoices_of(session, accounts["se"])
        record_payment(
            session,
            invoice=first,
            amount="120.50",
            currency="EUR",
            reference="bg-77",
            received_at=utc(2026, 10, 3),
        )
        found = {}
        for role, account in (("billing", None), ("admin", None), ("customer", "fjord")):
            _row, found[role] = create_key(session, role=role, account_code=account, as_of=START)
    return found


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _pdf_text(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    return " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)


def test_invoice_shows_its_rf_reference_and_the_transfer_instructions(
    client: TestClient, keys: dict[str, str]
) -> None:
    response = client.get("/v1/invoices/SE-000001", headers=_auth(keys["customer"]))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["payment_reference"] == "RF24SE000001"
    assert body["payment_instructions"] == {
        "payee": "Lead Data Nordic AB",
        "bank_name": "SEB",
        "iban": "SE4550000000058398257466",
        "bic": "ESSESESS",
        "account_number": None,
        "routing_number": None,
        "reference": "RF24SE000001",
        "amount": {"amount": "379.50", "currency": "EUR"},
        "due_on": "2026-10-31",
    }
    listed = client.get("/v1/invoices", headers=_auth(keys["billing"])).json()["data"]
    assert {row["number"]: row["payment_reference"] for row in listed}["SE-000001"] == (
        "RF24SE000001"
    )


def test_pdf_prints_bank_iban_bic_reference_amount_and_due_date(
    client: TestClient, keys: dict[str, str]
) -> None:
    response = client.get("/v1/invoices/SE-000001/pdf", headers=_auth(keys["customer"]))
    assert response.status_code == 200
    text = _pdf_text(response.content)
    for expected in (
        "How to pay",
        "Pay to Lead Data Nordic AB",
        "Bank SEB",
        "IBAN SE45 5000 0000 0583 9825 7466",
        "BIC ESSESESS",
        "Reference RF24 SE00 0001",
        "Amount 379.50 EUR",
        "Due date 2026-10-31",
        "Quote the reference RF24 SE00 0001",
    ):
        assert expected in text, (expected, text)


def test_pdf_of_a_us_entity_prints_account_and_routing_number(
    client: TestClient, keys: dict[str, str]
) -> None:
    response = client.get("/v1/invoices/INV-000001/pdf", headers=_auth(keys["billing"]))
    text = _pdf_text(response.content)
    for expected in (
        "Bank First Denver Bank",
        "Account number 000123456789",
        "Routing number 111000025",
        "Reference RF69 INV0 0000 1",
        "Amount 400.00 USD",
    ):
        assert expected in text, (expected, text)
    assert "IBAN" not in text


def test_a_paid_invoice_prints_no_instructions(
    client: TestClient, keys: dict[str, str], sessions: sessionmaker[Session]
) -> None:
    with sessions.begin() as session:
        invoice = get_invoice(session, "INV-000001")
        record_payment(
            session,
            invoice=invoice,
            amount="400.00",
            currency="USD",
            reference="ach-1",
            received_at=utc(2026, 10, 4),
        )
    text = _pdf_text(
        client.get("/v1/invoices/INV-000001/pdf", headers=_auth(keys["billing"])).content
    )
    assert "How to pay" not in text
    assert "Balance due 0.00 USD" in text


@pytest.mark.parametrize(
    ("number", "means", "account"),
    [("SE-000001", "58", "SE4550000000058398257466"), ("INV-000001", "30", "000123456789")],
)
def test_facturx_carries_payment_means_and_the_reference_as_bt_83_and_stays_valid(
    client: TestClient, keys: dict[str, str], number: str, means: str, account: str
) -> None:
    response = client.get(
        f"/v1/invoices/{number}/pdf?format=facturx", headers=_auth(keys["billing"])
    )
    assert response.status_code == 200, response.text
    xml = PdfReader(io.BytesIO(response.content)).attachments["factur-x.xml"][0]
    Document.parse(xml).serialize(schema="FACTUR-X_EN16931")  # the library's XSD check
    tree = etree.fromstring(xml)
    settlement = f".//{RAM}ApplicableHeaderTradeSettlement"
    reference = "RF24SE000001" if number == "SE-000001" else "RF69INV000001"
    assert tree.findtext(f"{settlement}/{RAM}PaymentReference") == reference
    means_path = f"{settlement}/{RAM}SpecifiedTradeSettlementPaymentMeans"
    assert tree.findtext(f"{means_path}/{RAM}TypeCode") == means
    payee = f"{means_path}/{RAM}PayeePartyCreditorFinancialAccount"
    if means == "58":
        assert tree.findtext(f"{payee}/{RAM}IBANID") == account
        bic = f"{means_path}/{RAM}PayeeSpecifiedCreditorFinancialInstitution/{RAM}BICID"
        assert tree.findtext(bic) == "ESSESESS"
    else:
        assert tree.findtext(f"{payee}/{RAM}ProprietaryID") == account
        assert "ABA routing number 111000025" in (
            tree.findtext(f"{means_path}/{RAM}Information") or ""
        )


def test_admin_sets_bank_details_on_an_entity_and_a_bad_iban_is_a_problem(
    client: TestClient, keys: dict[str, str]
) -> None:
    bad = client.patch(
        "/v1/billing-entities/nordic",
        json={"iban": "SE4550000000058398257467"},
        headers=_auth(keys["admin"]),
    )
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert "iban" in bad.text
    changed = client.patch(
        "/v1/billing-entities/nordic",
        json={"iban": "DE89 3704 0044 0532 0130 00", "bank_name": "Commerzbank"},
        headers=_auth(keys["admin"]),
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["iban"], body["bic"], body["bank_name"]) == (
        "DE89370400440532013000",
        "COBADEFFXXX",
        "Commerzbank",
    )
    refused = client.patch(
        "/v1/billing-entities/nordic", json={"bank_name": None}, headers=_auth(keys["billing"])
    )
    assert refused.status_code == 403
