"""Accounts, plans and leads for the review tests (seed 002), on both databases."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadbill.accounts.models import Account
from leadbill.accounts.service import create_account
from leadbill.billing.invoices import invoice_lines
from leadbill.billing.models import Invoice
from leadbill.core.reviews import ReviewRules
from leadbill.leads.service import ingest_events
from leadbill.plans.models import Plan
from leadbill.plans.service import create_plan
from leadbill.reviews.calendar import ReviewConfig
from leadbill.subscriptions.service import create_subscription
from tests.conftest import utc

MARCH = utc(2026, 3, 1)
APRIL = utc(2026, 4, 1)
MAY = utc(2026, 5, 1)
JUNE = utc(2026, 6, 1)
# US holidays are irrelevant in March-May 2026 but for Memorial Day (May 25).
CONFIG = ReviewConfig(
    rules=ReviewRules(),
    time_zone="America/New_York",
    holidays={datetime(2026, 5, 25).date()},
    country="US",
    subdivision=None,
)
EXPLANATION = "The caller was looking for a job as a plumber's apprentice."


def ppl_plan(session: Session) -> Plan:
    """Pay per lead: no fee, 40.00 a lead, roofing leads 55.00."""
    return create_plan(
        session,
        code="ppl",
        name="Pay per lead",
        currency="USD",
        interval="month",
        fee="0",
        included_leads=0,
        per_lead_rate="40.00",
        counting_policy="received_unless_excluded",
        category_prices={"roofing": "55.00"},
        as_of=MARCH,
    )


def package_plan(session: Session) -> Plan:
    """A package of 3 leads for 500.00 a month, 30.00 for each lead beyond."""
    return create_plan(
        session,
        code="pack-3",
        name="Package 3",
        currency="USD",
        interval="month",
        fee="500.00",
        included_leads=3,
        per_lead_rate="30.00",
        counting_policy="received_unless_excluded",
        as_of=MARCH,
    )


def called_package_plan(session: Session) -> Plan:
    """Seed 000's package: 3 called leads for 500.00 a month, 30.00 for each lead beyond."""
    return create_plan(
        session,
        code="isa-3",
        name="ISA 3",
        currency="USD",
        interval="month",
        fee="500.00",
        included_leads=3,
        per_lead_rate="30.00",
        counting_policy="called",
        as_of=MARCH,
    )


def account_on(session: Session, plan: Plan, code: str = "pipes") -> Account:
    account = create_account(
        session,
        code=code,
        name=code.title(),
        currency="USD",
        time_zone="UTC",
        billing_email=f"billing@{code}.test",
        as_of=MARCH,
    )
    create_subscription(session, account=account, plan=plan, start=MARCH)
    return account


_counter = iter(range(1, 1_000_000))


def _row(account: str, lead: str, kind: str, at: datetime, **extra: str) -> dict[str, str | None]:
    row: dict[str, str | None] = {
        "idempotency_key": f"r-{next(_counter)}",
        "account": account,
        "lead_id": lead,
        "event_type": kind,
        "occurred_at": at.isoformat().replace("+00:00", "Z"),
    }
    row.update(extra)
    return row


def add_lead(
    session: Session,
    account: str,
    lead: str,
    received: datetime,
    *,
    answered: bool = True,
    recording: bool = True,
    category: str | None = None,
) -> None:
    """One phone lead: received, then answered (or missed), with a recording or not."""
    extra = {"source": "phone", "phone": f"+1303555{next(_counter) % 10000:04d}"}
    if category:
        extra["category"] = category
    rows = [_row(account, lead, "received", received, **extra)]
    call = received + timedelta(minutes=1)
    rows.append(_row(account, lead, "call_answered" if answered else "call_missed", call))
    if recording:
        rows.append(_row(account, lead, "recording_available", call + timedelta(minutes=5)))
    result = ingest_events(session, rows, as_of=received)
    assert result.rejected == 0, result.rejections


def invoice_at(session: Session, account: Account, boundary: int) -> Invoice:
    invoice = session.scalar(
        select(Invoice).where(Invoice.account_id == account.id, Invoice.boundary_index == boundary)
    )
    assert invoice is not None
    return invoice


def lines_of(session: Session, invoice: Invoice) -> list[tuple[str, int, str, str]]:
    """(kind, quantity, unit price, amount) of each line."""
    return [
        (line.kind, line.quantity, f"{line.unit_price:.2f}", f"{line.amount:.2f}")
        for line in invoice_lines(session, invoice.id)
    ]


def money(value: str) -> Decimal:
    return Decimal(value)
