"""Concurrent batches that share leads: no deadlock, every event stored and counted once.

Every test runs on SQLite (one writer at a time) and PostgreSQL (row locks).
"""

from __future__ import annotations

import threading

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from leadbill.accounts.service import create_account
from leadbill.leads.models import Lead, LeadEvent
from leadbill.leads.service import IngestResult, ingest_events
from leadbill.plans.service import create_plan
from leadbill.subscriptions.service import create_subscription
from tests.conftest import utc

START = utc(2026, 1, 1)
AS_OF = utc(2026, 1, 20)
LEADS = 200
ROUNDS = 3


def _setup(session: Session) -> None:
    # An allowance far above the test's usage: no threshold is crossed.
    plan = create_plan(
        session,
        code="pkg-big",
        name="Package",
        currency="USD",
        interval="month",
        fee="1000.00",
        included_leads=100_000,
        per_lead_rate="10.00",
        seat_fee="57.00",
        as_of=START,
    )
    for code in ("acme", "beta"):
        account = create_account(
            session,
            code=code,
            name=code.title(),
            currency="USD",
            time_zone="UTC",
            billing_email=f"billing@{code}.test",
            as_of=START,
        )
        create_subscription(session, account=account, plan=plan, start=START)


def _events(round_: int, sender: str) -> list[dict[str, str | None]]:
    """Every lead of the round received (the same key from both senders) and called
    by this sender (a key of its own); the two senders list the leads in opposite orders."""
    rows: list[dict[str, str | None]] = []
    for number in range(LEADS):
        account = "acme" if number % 2 else "beta"
        lead = f"R{round_}-L{number:04d}"
        rows.append(
            {
                "idempotency_key": f"{lead}-received",
                "account": account,
                "lead_id": lead,
                "event_type": "received",
                "occurred_at": "2026-01-05T10:00:00Z",
                "phone": f"+1303555{round_}{number:03d}",
            }
        )
        minute = 10 if sender == "one" else 20
        rows.append(
            {
                "idempotency_key": f"{lead}-call-{sender}",
                "account": account,
                "lead_id": lead,
                "event_type": "call_attempted",
                "occurred_at": f"2026-01-05T11:{minute}:00Z",
                "call_result": "no_answer",
            }
        )
    return rows if sender == "one" else list(reversed(rows))


def _send_at_once(sessions: sessionmaker[Session], round_: int) -> dict[str, IngestResult]:
    """Both senders' batches of one round, each in its own transaction, started together."""
    results: dict[str, IngestResult] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def send(sender: str) -> None:
        rows = _events(round_, sender)
        try:
            start.wait(10)
            with sessions() as session, session.begin():
                results[sender] = ingest_events(session, rows, as_of=AS_OF)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=send, args=(sender,)) for sender in ("one", "two")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    return results


def test_overlapping_batches_at_once_neither_deadlock_nor_double_count(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session, session.begin():
        _setup(session)
    for round_ in range(ROUNDS):
        results = _send_at_once(sessions, round_)
        # Each received event once (one sender's copy is a duplicate), each call once.
        assert sum(r.accepted for r in results.values()) == 3 * LEADS
        assert sum(r.duplicate for r in results.values()) == LEADS
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(LeadEvent)) == 3 * LEADS * ROUNDS
        assert session.scalar(select(func.count()).select_from(Lead)) == LEADS * ROUNDS
        called = session.scalars(select(Lead.first_called_at).distinct()).all()
        assert called == [utc(2026, 1, 5, 11, 10)]
