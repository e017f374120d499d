"""Invoices an operator may send: issuer, customer details, due dates, taxes, numbering.

The worked example of docs/taxes.md runs through the billing run on SQLite and
PostgreSQL: a Swedish issuer bills a Swedish customer at 25 %, a German business
with a valid VAT id under reverse charge, and a US customer with no tax.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from leadbill.accounts.billing_details import DetailsChange, set_details
from leadbill.accounts.models import Account
from leadbill.accounts.service import create_account
from leadbill.billing.invoices import invoice_lines
from leadbill.billing.models import Invoice
from leadbill.billing.service import run_billing
from leadbill.core.tax import REVERSE_CHARGE_MENTION
from leadbill.credit_notes.models import CreditNote, CreditNoteLine
from leadbill.entities.service import EntityFields, create_entity, update_entity
from leadbill.errors import Conflict, InvalidInput
from leadbill.plans.service import create_plan
from leadbill.reviews.flows import decide_review
from leadbill.reviews.service import submit_review
from leadbill.subscriptions.service import create_subscription
from leadbill.taxes.service import create_rate
from tests.conftest import utc
from tests.integration.review_fixtures import CONFIG, EXPLANATION, add_lead

START = utc(2026, 10, 1)
NORDIC = EntityFields(
    legal_name="Lead Data Nordic AB",
    address_line1="Sveavägen 44",
    city="Stockholm",
    postal_code="111 34",
    country="SE",
    tax_id="SE556036079301",
    invoice_prefix="SE-",
    credit_note_prefix="SECN-",
    payment_terms_days=30,
    default_currency="EUR",
)
US = EntityFields(
    legal_name="Leadbill Demo Inc.",
    address_line1="1 Main St",
    city="Denver",
    postal_code="80202",
    region="US-CO",
    country="US",
    tax_id="12-3456789",
)


def _eur_account(session: Session, code: str, details: DetailsChange) -> Account:
    account = create_account(
        session,
        code=code,
        name=code.title(),
        currency="EUR",
        time_zone="Europe/Stockholm",
        billing_email=f"billing@{code}.test",
        as_of=START,
    )
    set_details(session, account, details, START)
    return account


def _world(session: Session) -> dict[str, Account]:
    """The US operator (default entity) and its Swedish subsidiary with three customers."""
    create_entity(session, code="us", fields=US, as_of=START)
    create_entity(session, code="nordic", fields=NORDIC, as_of=START)
    create_rate(
        session,
        name="Moms 25%",
        rate="25",
        country="SE",
        region=None,
        valid_from=date(2020, 1, 1),
        valid_to=None,
        as_of=START,
    )
    plan = create_plan(
        session,
        code="prospect-40",
        name="Prospect 40",
        currency="EUR",
        interval="month",
        fee="400.00",
        included_leads=40,
        per_lead_rate="12.00",
        counting_policy="contact_found",
        as_of=START,
    )
    accounts = {
        "se": _eur_account(
            session,
            "fjord",
            DetailsChange(
                legal_name="Fjord Analytics AB",
                address_line1="Kungsgatan 1",
                city="Göteborg",
                postal_code="411 19",
                country="SE",
                tax_id="SE556036079301",
                purchase_order="PO-7781",
                billing_entity="nordic",
            ),
        ),
        "de": _eur_account(
            session,
            "mueller",
            DetailsChange(
                legal_name="Müller GmbH",
                address_line1="Friedrichstraße 10",
                city="Berlin",
                postal_code="10117",
                country="DE",
                tax_id="DE136695976",
                billing_entity="nordic",
            ),
        ),
        "us": _eur_account(
            session,
            "acme-us",
            DetailsChange(
                legal_name="Acme Sales LLC",
                address_line1="5 Broadway",
                city="New York",
                region="US-NY",
                country="US",
                billing_entity="nordic",
            ),
        ),
    }
    for account in accounts.values():
        create_subscription(session, account=account, plan=plan, start=START)
    return accounts


def _first_invoice(session: Session, account: Account) -> Invoice:
    return session.scalars(
        select(Invoice).where(Invoice.account_id == account.id).order_by(Invoice.id)
    ).first()  # type: ignore[return-value]


def test_tax_worked_example_on_the_first_fee_invoices(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        accounts = _world(session)
    with sessions() as session:
        se, de, us = (_first_invoice(session, accounts[key]) for key in ("se", "de", "us"))
        assert (se.net_total, se.tax_total, se.total) == (
            Decimal("400.00"),
            Decimal("100.00"),
            Decimal("500.00"),
        )
        assert [
            (x.tax_category, x.tax_rate, x.tax_amount) for x in invoice_lines(session, se.id)
        ] == [("S", Decimal(25), Decimal("100.00"))]
        assert (de.net_total, de.tax_total, de.total) == (
            Decimal("400.00"),
            Decimal("0.00"),
            Decimal("400.00"),
        )
        assert de.tax_mention == REVERSE_CHARGE_MENTION
        assert invoice_lines(session, de.id)[0].tax_category == "AE"
        assert (us.total, invoice_lines(session, us.id)[0].tax_category) == (Decimal("400.00"), "O")
        # Numbered by the Swedish entity's own gapless counter, in issue order.
        assert sorted(i.number or "" for i in (se, de, us)) == [
            "SE-000001",
            "SE-000002",
            "SE-000003",
        ]
        # Issued 2026-10-01 in Stockholm, net 30 from the entity.
        assert se.due_on == date(2026, 10, 31)
        assert se.issuer is not None and se.issuer["legal_name"] == "Lead Data Nordic AB"
        assert se.customer is not None and se.customer["purchase_order"] == "PO-7781"
        assert de.customer is not None and de.customer["legal_name"] == "Müller GmbH"


def test_tax_billing_run_taxes_overage_and_renewal(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        accounts = _world(session)
    run_billing(sessions, utc(2026, 11, 2))
    with sessions() as session:
        invoice = session.scalars(
            select(Invoice).where(
                Invoice.account_id == accounts["se"].id, Invoice.boundary_index == 1
            )
        ).one()
        lines = invoice_lines(session, invoice.id)
        assert [(x.kind, x.amount, x.tax_amount) for x in lines] == [
            ("overage", Decimal("0.00"), Decimal("0.00")),
            ("plan_fee", Decimal("400.00"), Decimal("100.00")),
        ]
        assert (invoice.net_total, invoice.tax_total, invoice.total) == (
            Decimal("400.00"),
            Decimal("100.00"),
            Decimal("500.00"),
        )
        assert invoice.number == "SE-000004"
        assert invoice.due_on == date(2026, 12, 1)


def test_finalized_invoices_keep_the_issuer_and_customer_they_were_issued_with(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        accounts = _world(session)
    with sessions.begin() as session:
        update_entity(session, "nordic", EntityFields(legal_name="Nordic Leads AB"), START)
        set_details(session, accounts["se"], DetailsChange(legal_name="Fjord Group AB"), START)
    run_billing(sessions, utc(2026, 11, 2))
    with sessions() as session:
        first, second = session.scalars(
            select(Invoice).where(Invoice.account_id == accounts["se"].id).order_by(Invoice.id)
        ).all()
        assert first.issuer and first.issuer["legal_name"] == "Lead Data Nordic AB"
        assert first.customer and first.customer["legal_name"] == "Fjord Analytics AB"
        assert second.issuer and second.issuer["legal_name"] == "Nordic Leads AB"
        assert second.customer and second.customer["legal_name"] == "Fjord Group AB"


def test_each_entity_numbers_its_invoices_without_gaps(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        _world(session)
        us_account = create_account(
            session,
            code="denver",
            name="Denver",
            currency="USD",
            time_zone="America/Denver",
            billing_email="b@denver.test",
            as_of=START,
        )
        plan = create_plan(
            session,
            code="isa-50",
            name="ISA 50",
            currency="USD",
            interval="month",
            fee="750.00",
            included_leads=50,
            per_lead_rate="15.00",
            counting_policy="called",
            as_of=START,
        )
        create_subscription(session, account=us_account, plan=plan, start=START)
    run_billing(sessions, utc(2026, 12, 1, 12))
    with sessions() as session:
        numbers = [n for (n,) in session.execute(select(Invoice.number).order_by(Invoice.id))]
    us_numbers = sorted(n for n in numbers if n.startswith("INV-"))
    se_numbers = sorted(n for n in numbers if n.startswith("SE-"))
    # The default (US) entity continues INV-; the Swedish one counts on its own.
    assert us_numbers == [f"INV-{i:06d}" for i in range(1, 4)]
    assert se_numbers == [f"SE-{i:06d}" for i in range(1, 10)]


def test_tax_credit_note_carries_the_tax_of_the_invoice_it_corrects(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        create_entity(session, code="nordic", fields=NORDIC, as_of=START)
        create_rate(
            session,
            name="Moms 25%",
            rate="25",
            country="SE",
            region=None,
            valid_from=date(2020, 1, 1),
            valid_to=None,
            as_of=START,
        )
        plan = create_plan(
            session,
            code="ppl",
            name="Pay per lead",
            currency="USD",
            interval="month",
            fee="0",
            included_leads=0,
            per_lead_rate="40.00",
            counting_policy="received_unless_excluded",
            as_of=START,
        )
        account = create_account(
            session,
            code="pipes",
            name="Pipes",
            currency="USD",
            time_zone="UTC",
            billing_email="b@pipes.test",
            as_of=START,
        )
        set_details(session, account, DetailsChange(country="SE"), START)
        create_subscription(session, account=account, plan=plan, start=START)
        add_lead(session, "pipes", "L1", utc(2026, 10, 30))
        add_lead(session, "pipes", "L2", utc(2026, 10, 30, 1))
    run_billing(sessions, utc(2026, 11, 2))
    with sessions.begin() as session:
        review = submit_review(
            session,
            "pipes",
            "L1",
            reason="wrong_number",
            explanation=EXPLANATION,
            submitted_by="pat",
            as_of=utc(2026, 11, 1, 12),
            config=CONFIG,
        )
        decide_review(session, review.id, "approve", decided_by="qa", as_of=utc(2026, 11, 2))
    with sessions() as session:
        note = session.scalars(select(CreditNote)).one()
        line = session.scalars(select(CreditNoteLine)).one()
        # 2 leads at 40.00 + 25 % were invoiced; one is credited with its tax.
        assert (line.amount, line.tax_category, line.tax_rate, line.tax_amount) == (
            Decimal("40.00"),
            "S",
            Decimal(25),
            Decimal("10.00"),
        )
        assert (note.net_total, note.tax_total, note.total) == (
            Decimal("40.00"),
            Decimal("10.00"),
            Decimal("50.00"),
        )
        assert note.number == "SECN-000001"
        assert note.issuer and note.issuer["legal_name"] == "Lead Data Nordic AB"
    # The next invoice (one lead, 40.00 + 10.00) takes the credit with its tax, as a
    # line without tax of its own: nothing is left to pay.
    with sessions.begin() as session:
        add_lead(session, "pipes", "N1", utc(2026, 11, 20))
    run_billing(sessions, utc(2026, 12, 2))
    with sessions() as session:
        december = session.scalars(select(Invoice).where(Invoice.boundary_index == 2)).one()
        credit = [x for x in invoice_lines(session, december.id) if x.kind == "credit"]
        assert [(x.amount, x.tax_category, x.tax_amount) for x in credit] == [
            (Decimal("-50.00"), None, Decimal("0.00"))
        ]
        assert (december.net_total, december.tax_total, december.total) == (
            Decimal("40.00"),
            Decimal("10.00"),
            Decimal("0.00"),
        )


def test_billing_details_are_checked_where_they_come_in(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        create_entity(session, code="nordic", fields=NORDIC, as_of=START)
        account = create_account(
            session,
            code="x",
            name="X",
            currency="EUR",
            time_zone="UTC",
            billing_email="b@x.test",
            as_of=START,
        )
    cases = [
        (DetailsChange(country="DE", tax_id="DE136695977"), "tax_id", "check digit"),
        (DetailsChange(country="DE", tax_id="SE556036079301"), "tax_id", "must start with DE"),
        (DetailsChange(tax_id="DE136695976"), "tax_id", "needs the country"),
        (DetailsChange(country="Sweden"), "country", "ISO 3166-1"),
        (DetailsChange(country="US", region="CA"), "region", "ISO 3166-2"),
        (DetailsChange(legal_name="x" * 201), "legal_name", "at most 200"),
        (DetailsChange(city="Stock\x00holm"), "city", "control characters"),
        (DetailsChange(payment_terms_days=400), "payment_terms_days", "0 to 365"),
    ]
    for change, field, reason in cases:
        with sessions.begin() as session, pytest.raises(InvalidInput) as error:
            set_details(session, session.get_one(Account, account.id), change, START)
        assert error.value.field == field
        assert reason in error.value.reason
    with sessions.begin() as session, pytest.raises(Conflict, match="already used"):
        create_entity(
            session,
            code="other",
            fields=EntityFields(
                legal_name="Other",
                address_line1="x",
                city="y",
                country="SE",
                invoice_prefix="SE-",
                credit_note_prefix="O-",
            ),
            as_of=START,
        )
