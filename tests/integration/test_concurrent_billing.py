"""Exactly once under concurrency: two billing runs at once over the same subscriptions.

On PostgreSQL the runs lock disjoint batches (FOR UPDATE SKIP LOCKED) and work
in parallel; whatever the interleaving, every subscription-boundary is invoiced
exactly once, numbers stay gapless, and the totals are right to the cent.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import threading
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from leadbill.billing.models import Invoice
from leadbill.billing.service import run_billing
from leadbill.db import make_engine, session_factory
from leadbill.subscriptions.models import Subscription
from tests.conftest import utc
from tests.integration.test_billing_run import add_leads, make_plan, spread, subscribed

SUBSCRIPTIONS = 200
LEADBILL = Path(sys.executable).parent / "leadbill"


def _called_in_january(number: int) -> int:
    return 80 + (number % 9) * 5  # 80..120 leads: some under, some over the 100 included


def _run(url: str, as_of: datetime, barrier: Any, results: Any) -> None:
    engine = make_engine(url)
    try:
        barrier.wait(timeout=60)
        result = run_billing(session_factory(engine), as_of, batch_size=5)
        results.put((result.invoices_issued, result.invoice_numbers, result.retries))
    finally:
        engine.dispose()


def _load(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        plan = make_plan(session)
        for number in range(SUBSCRIPTIONS):
            account, _ = subscribed(session, f"acct-{number:03d}", plan=plan)
            called = spread(utc(2026, 1, 2), _called_in_january(number), timedelta(hours=2))
            add_leads(session, account, called)


def _check(session: Session, boundaries: int) -> None:
    per_boundary = session.execute(
        select(Invoice.subscription_id, Invoice.boundary_index, func.count(Invoice.id)).group_by(
            Invoice.subscription_id, Invoice.boundary_index
        )
    ).all()
    assert len(per_boundary) == SUBSCRIPTIONS * (boundaries + 1)
    assert all(count == 1 for _, _, count in per_boundary)
    numbers = sorted(session.scalars(select(Invoice.number)).all())
    assert numbers == [f"INV-{value:06d}" for value in range(1, len(numbers) + 1)]
    assert len(numbers) == SUBSCRIPTIONS * (boundaries + 1)
    totals: dict[int, Decimal] = {}
    for subscription_id, total in session.execute(
        select(Invoice.subscription_id, Invoice.total).where(Invoice.boundary_index == 1)
    ):
        totals[subscription_id] = total
    ordered = session.scalars(select(Subscription.id).order_by(Subscription.id)).all()
    for number, subscription_id in enumerate(ordered):
        over = max(0, _called_in_january(number) - 100)
        assert totals[subscription_id] == Decimal("1000.00") + Decimal("9.50") * over
    stored = session.scalars(select(Subscription.current_period_index).distinct()).all()
    assert stored == [boundaries]


def test_two_runs_at_once_invoice_each_boundary_exactly_once(
    engine: Engine, sessions: sessionmaker[Session], database_url: str
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("row locks and parallel runs need PostgreSQL; SQLite runs serialise")
    _load(sessions)

    # Two processes released at the same instant, each billing Feb 1, Mar 1 and Apr 1.
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    results = context.Queue()
    workers = [
        context.Process(target=_run, args=(database_url, utc(2026, 4, 1), barrier, results))
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
    assert [worker.exitcode for worker in workers] == [0, 0]
    issued = [count for count, _, _ in outcomes]
    assert sum(issued) == SUBSCRIPTIONS * 3
    all_numbers = [number for _, numbers, _ in outcomes for number in numbers]
    assert len(set(all_numbers)) == len(all_numbers) == SUBSCRIPTIONS * 3
    with sessions.begin() as session:
        _check(session, boundaries=3)

    # The same through the command line: two `leadbill bill` processes at once.
    env = {**os.environ, "LEADBILL_DATABASE_URL": database_url}
    command = [str(LEADBILL), "bill", "--as-of", "2026-05-01T00:00:00Z", "--batch-size", "5"]
    processes = [
        subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = [process.communicate(timeout=120) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs
    counts = [int(stdout.split(" invoices issued")[0].rsplit(" ", 1)[1]) for stdout, _ in outputs]
    assert sum(counts) == SUBSCRIPTIONS
    with sessions.begin() as session:
        _check(session, boundaries=4)
        may = session.scalars(select(Invoice.total).where(Invoice.boundary_index == 4)).all()
        assert may == [Decimal("1000.00")] * SUBSCRIPTIONS

    # And a rerun afterwards finds nothing left to do.
    assert run_billing(sessions, utc(2026, 5, 1)).invoices_issued == 0


def test_run_waits_for_a_due_subscription_locked_elsewhere(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("row locks need PostgreSQL; SQLite runs serialise on the database lock")
    with sessions.begin() as session:
        plan = make_plan(session)
        ids = [subscribed(session, f"acct-{n}", plan=plan)[1].id for n in range(3)]

    # Another transaction (say, a cancellation being saved) holds one due subscription.
    holder = engine.connect()
    transaction = holder.begin()
    holder.execute(select(Subscription.id).where(Subscription.id == ids[1]).with_for_update())
    release = threading.Timer(1.0, transaction.commit)
    release.start()
    try:
        result = run_billing(sessions, utc(2026, 2, 1))
    finally:
        release.join()
        holder.close()

    # The run skipped it while taking free batches, then waited for it: nothing is left due.
    assert result.invoices_issued == 3
    with sessions.begin() as session:
        billed = session.scalars(
            select(Invoice.subscription_id).where(Invoice.boundary_index == 1)
        ).all()
        assert sorted(billed) == ids
