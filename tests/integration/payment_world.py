"""A Swedish entity paid to an IBAN and a US entity paid to an ABA account, one customer each."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadbill.accounts.billing_details import DetailsChange, set_details
from leadbill.accounts.models import Account
from leadbill.accounts.service import create_account
from leadbill.billing.models import Invoice
from leadbill.entities.service import EntityFields, create_entity
from leadbill.plans.service import create_plan
from leadbill.subscriptions.service import create_subscription
from leadbill.taxes.service import create_rate
from tests.conftest import utc

START = utc(2026, 10, 1)
SE_IBAN = "SE4550000000058398257466"
US_ENTITY = EntityFields(
    legal_name="Leadbill Demo Inc.",
    address_line1="1 Main St",
    city="Denver",
    postal_code="80202",
    region="US-CO",
    country="US",
    tax_id="12-3456789",
    bank_name="First Denver Bank",
    account_number="000123456789",
    routing_number="111000025",
)
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
    bank_name="SEB",
    iban="SE45 5000 0000 0583 9825 7466",
)


def account(session: Session, code: str, currency: str, entity: str, country: str) -> Account:
    """A customer billed by `entity`."""
    found = create_account(
        session,
        code=code,
        name=code.title(),
        currency=currency,
        time_zone="Europe/Stockholm" if country == "SE" else "America/Denver",
        billing_email=f"billing@{code}.test",
        as_of=START,
    )
    details = DetailsChange(
        legal_name=f"{code.title()} AB" if country == "SE" else f"{code.title()} LLC",
        address_line1="Kungsgatan 1" if country == "SE" else "5 Broadway",
        city="Göteborg" if country == "SE" else "New York",
        postal_code="411 19" if country == "SE" else "10001",
        region=None if country == "SE" else "US-NY",
        country=country,
        tax_id="SE556036079301" if country == "SE" else None,
        billing_entity=entity,
    )
    set_details(session, found, details, START)
    return found


def world(session: Session, *, bank: bool = True) -> dict[str, Account]:
    """The two entities (with their bank details unless `bank` is False) and a customer each,
    subscribed on START: each has one first-fee invoice (SE: 400.00 + 25 % = 500.00 EUR)."""
    us_fields, nordic_fields = US_ENTITY, NORDIC
    if not bank:
        us_fields = replace(us_fields, bank_name=None, account_number=None, routing_number=None)
        nordic_fields = replace(nordic_fields, bank_name=None, iban=None)
    create_entity(session, code="us", fields=us_fields, as_of=START)
    create_entity(session, code="nordic", fields=nordic_fields, as_of=START)
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
    accounts = {
        "se": account(session, "fjord", "EUR", "nordic", "SE"),
        "us": account(session, "acme", "USD", "us", "US"),
    }
    for key, found in accounts.items():
        plan = create_plan(
            session,
            code=f"prospect-{key}",
            name="Prospect 40",
            currency=found.currency,
            interval="month",
            fee="400.00",
            included_leads=40,
            per_lead_rate="12.00",
            counting_policy="contact_found",
            as_of=START,
        )
        create_subscription(session, account=found, plan=plan, start=START)
    return accounts


def invoices_of(session: Session, found: Account) -> list[Invoice]:
    """The account's invoices, oldest first."""
    return list(
        session.scalars(select(Invoice).where(Invoice.account_id == found.id).order_by(Invoice.id))
    )
