"""Accounts on a package ladder, and leads sent as the operator sends them (ingest_events)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.orm import Session

from leadbill.accounts.models import Account
from leadbill.accounts.service import create_account
from leadbill.leads.service import IngestResult, ingest_events
from leadbill.plans.models import Plan
from leadbill.plans.service import create_plan
from leadbill.subscriptions.service import create_subscription
from tests.conftest import utc

START = utc(2026, 1, 1)


def account(session: Session, code: str, time_zone: str = "UTC") -> Account:
    """A USD account created at START."""
    return create_account(
        session,
        code=code,
        name=code.title(),
        currency="USD",
        time_zone=time_zone,
        billing_email=f"billing@{code}.test",
        as_of=START,
    )


def plan(
    session: Session,
    code: str,
    fee: str,
    included: int,
    rate: str,
    *,
    ladder: str | None = "isa",
    interval: str = "month",
    currency: str = "USD",
) -> Plan:
    """A `called` package plan."""
    return create_plan(
        session,
        code=code,
        name=code.upper(),
        currency=currency,
        interval=interval,
        fee=fee,
        included_leads=included,
        per_lead_rate=rate,
        seat_fee="57.00",
        ladder=ladder,
        as_of=START,
    )


def subscribed(session: Session, code: str, on: Plan) -> Account:
    """An account subscribed to `on` from START."""
    customer = account(session, code)
    create_subscription(session, account=customer, plan=on, start=START)
    return customer


def _z(instant: datetime) -> str:
    return instant.isoformat().replace("+00:00", "Z")


def lead_rows(
    customer: Account, lead_id: str, received_at: datetime, called_at: Iterable[datetime] = ()
) -> list[dict[str, str]]:
    """A received event and one call_attempted event per instant in `called_at`."""
    events = [("received", received_at), *(("call_attempted", at) for at in called_at)]
    return [
        {
            "idempotency_key": f"{customer.code}-{lead_id}-{number}",
            "account": customer.code,
            "lead_id": lead_id,
            "event_type": event_type,
            "occurred_at": _z(at),
            "call_result": "no_answer" if event_type == "call_attempted" else "",
        }
        for number, (event_type, at) in enumerate(events)
    ]


def ingest(session: Session, rows: list[dict[str, str]], as_of: datetime) -> IngestResult:
    """Ingest rows; every row must be accepted or a duplicate."""
    result = ingest_events(session, rows, as_of=as_of)
    assert result.rejections == []
    return result
