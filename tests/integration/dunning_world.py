"""An entity, an account and one open invoice due on DUE, for the dunning tests.

The invoice of 1,234.50 USD is issued on 2026-03-01 with the default entity's 15 days
of terms: it is due on 2026-03-16. The job runs at 10:00 UTC each day.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from leadbill.accounts.service import create_account
from leadbill.billing.invoices import issue_invoice
from leadbill.billing.models import Invoice
from leadbill.billing.payments import record_payment
from leadbill.core.money import Money
from leadbill.core.rating import Line, LineKind
from leadbill.dunning.models import DunningReminder
from leadbill.dunning.service import DunningResult, run_dunning
from leadbill.entities.service import EntityFields, create_entity
from tests.conftest import utc

START = utc(2026, 1, 1)
ISSUED = utc(2026, 3, 1, 12)
DUE = date(2026, 3, 16)
TOTAL = "1234.50"
US = EntityFields(
    legal_name="Leadbill Demo Inc.",
    address_line1="1 Main St",
    city="Denver",
    country="US",
    email="billing@operator.test",
)


def at_ten(day: date) -> datetime:
    """10:00 UTC on `day`."""
    return datetime.combine(day, time(10), tzinfo=UTC)


def days(first: date, count: int) -> list[date]:
    """`count` consecutive dates from `first`."""
    return [first + timedelta(days=n) for n in range(count)]


def world(
    sessions: sessionmaker[Session],
    *,
    time_zone: str = "UTC",
    steps: tuple[int, ...] | None = None,
    action: str | None = None,
) -> str:
    """The default entity (with these dunning settings), account acme and its invoice."""
    with sessions() as session, session.begin():
        entity = create_entity(session, code="us", fields=US, as_of=START)
        if steps is not None:
            entity.dunning_steps = ",".join(map(str, steps))
        if action is not None:
            entity.dunning_action = action
        account = create_account(
            session,
            code="acme",
            name="Acme Realty",
            currency="USD",
            time_zone=time_zone,
            billing_email="billing@acme.test",
            as_of=START,
        )
        invoice = issue_invoice(
            session,
            account_id=account.id,
            currency="USD",
            lines=[_line(TOTAL)],
            issued_at=ISSUED,
            kind="period",
        )
        assert invoice.number is not None
        return invoice.number


def _line(total: str) -> Line:
    amount = Money(Decimal(total), "USD")
    return Line(LineKind.PLAN_FEE, "Package March", 1, amount, amount)


def run_days(sessions: sessionmaker[Session], dates: Iterable[date]) -> DunningResult:
    """The job at 10:00 UTC on each date (twice, as a rerun would), totals of the first runs."""
    total = DunningResult()
    for day in dates:
        result = run_dunning(sessions, at_ten(day))
        again = run_dunning(sessions, at_ten(day) + timedelta(minutes=5))
        assert (again.reminders, again.overdue, again.uncollectible, again.paused) == (0, 0, 0, 0)
        for name in ("reminders", "overdue", "uncollectible", "paused", "cancelled"):
            setattr(total, name, getattr(total, name) + getattr(result, name))
    return total


def sent_steps(sessions: sessionmaker[Session], number: str) -> dict[int, date]:
    """The reminder steps queued for an invoice, with the local date of each."""
    with sessions() as session:
        rows = session.execute(
            select(DunningReminder.step, DunningReminder.local_date)
            .join(Invoice, Invoice.id == DunningReminder.invoice_id)
            .where(Invoice.number == number)
        )
        return {int(step): on for step, on in rows}


def pay(sessions: sessionmaker[Session], number: str, amount: str, at: datetime) -> None:
    """Record a payment against the invoice."""
    with sessions() as session, session.begin():
        invoice = session.scalars(select(Invoice).where(Invoice.number == number)).one()
        record_payment(
            session,
            invoice=invoice,
            amount=amount,
            currency="USD",
            reference=f"pay-{amount}-{at:%m%d}",
            received_at=at,
        )
