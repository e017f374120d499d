"""The demo's issuers: a US operator, its Swedish subsidiary, a tax rate, billing details.

- `leadbill-demo` (Leadbill Demo Leads Inc., Denver, CO) is the default billing
  entity: it issues the US accounts' invoices (INV-, net 15, no sales tax set up);
- `nordic` (Lead Data Nordic AB, Stockholm) issues the EUR accounts' invoices
  (SE-, credit notes SECN-, net 30) with Swedish VAT at 25 %;
- `fjord-analytics` gets its Swedish legal name, address and VAT id: 25 % VAT;
- `mueller-daten` (Müller Daten GmbH, Berlin) is an EU business with a German
  VAT id on the same data plan: reverse charge, 0 % with the legal mention.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from leadbill.accounts.billing_details import DetailsChange, set_details
from leadbill.accounts.models import Account
from leadbill.accounts.service import create_account
from leadbill.entities.service import EntityFields, create_entity
from leadbill.plans.service import get_plan
from leadbill.subscriptions.service import create_subscription
from leadbill.taxes.service import create_rate

OPERATOR = "leadbill-demo"
NORDIC = "nordic"
EU_BUSINESS = "mueller-daten"
EU_BUSINESS_ZONE = "Europe/Berlin"


def load_issuers(session: Session, as_of: datetime) -> None:
    """The two billing entities (the US one first: the default) and Sweden's VAT rate."""
    create_entity(
        session,
        code=OPERATOR,
        fields=EntityFields(
            legal_name="Leadbill Demo Leads Inc.",
            address_line1="1600 Market Street, Suite 400",
            city="Denver",
            postal_code="80202",
            region="US-CO",
            country="US",
            tax_id="84-1234567",
            email="billing@leadbill-demo.example",
            payment_terms_days=15,
            default_currency="USD",
        ),
        as_of=as_of,
    )
    create_entity(
        session,
        code=NORDIC,
        fields=EntityFields(
            legal_name="Lead Data Nordic AB",
            address_line1="Sveavägen 44",
            city="Stockholm",
            postal_code="111 34",
            country="SE",
            tax_id="SE556036079301",
            email="faktura@leaddata-nordic.example",
            invoice_prefix="SE-",
            credit_note_prefix="SECN-",
            payment_terms_days=30,
            default_currency="EUR",
        ),
        as_of=as_of,
    )
    create_rate(
        session,
        name="Moms 25%",
        rate="25",
        country="SE",
        region=None,
        valid_from=date(2020, 1, 1),
        valid_to=None,
        as_of=as_of,
    )


def bill_from_sweden(session: Session, account: Account, as_of: datetime) -> None:
    """The data vendor's Swedish customer: its legal details, billed by `nordic`."""
    set_details(
        session,
        account,
        DetailsChange(
            legal_name="Fjord Analytics AB",
            address_line1="Kungsportsavenyen 21",
            city="Göteborg",
            postal_code="411 36",
            country="SE",
            tax_id="SE556036079301",
            purchase_order="PO-2026-118",
            billing_entity=NORDIC,
        ),
        as_of,
    )


def load_eu_business(session: Session, as_of: datetime, start: datetime) -> None:
    """A German business on the data plan from `start`: reverse charge on every invoice."""
    account = create_account(
        session,
        code=EU_BUSINESS,
        name="Müller Daten",
        currency="EUR",
        time_zone=EU_BUSINESS_ZONE,
        billing_email=f"rechnung@{EU_BUSINESS}.example",
        as_of=as_of,
    )
    set_details(
        session,
        account,
        DetailsChange(
            legal_name="Müller Daten GmbH",
            address_line1="Friedrichstraße 123",
            city="Berlin",
            postal_code="10117",
            country="DE",
            tax_id="DE136695976",
            billing_entity=NORDIC,
        ),
        as_of,
    )
    create_subscription(
        session, account=account, plan=get_plan(session, "prospect-40"), start=start
    )


def eu_business_events(rng: random.Random, months: list[tuple[int, int]]) -> list[dict[str, str]]:
    """About 45 searches a month for the German business, four in five with a contact found."""
    zone = ZoneInfo(EU_BUSINESS_ZONE)
    rows: list[dict[str, str]] = []
    for year, month in months:
        start = datetime(year, month, 1, tzinfo=zone).astimezone(UTC)
        for number in range(45):
            lead = f"MD-{year % 100}{month:02d}-{number:02d}"
            at = start + timedelta(days=rng.uniform(0, 27), hours=rng.uniform(8, 17))
            rows.append(_row(lead, "received", at, source="search", name=f"Vertrieb {number}"))
            found = at + timedelta(hours=rng.uniform(2, 20))
            if rng.random() < 0.2:
                rows.append(_row(lead, "contact_not_found", found))
            else:
                rows.append(
                    _row(lead, "contact_found", found, email=f"vertrieb{number}@kunde.example")
                )
    return rows


def _row(lead: str, event_type: str, at: datetime, **columns: str) -> dict[str, str]:
    instant = at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return {
        "idempotency_key": f"{lead}-{event_type}",
        "account": EU_BUSINESS,
        "lead_id": lead,
        "event_type": event_type,
        "occurred_at": instant,
        **columns,
    }
