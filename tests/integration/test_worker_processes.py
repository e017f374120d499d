"""Two `leadbill worker` processes on one PostgreSQL database: one bills, the other skips,
and every subscription-boundary is invoiced exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from leadbill.billing.models import Invoice
from leadbill.jobs.models import WorkerJob
from tests.integration.test_billing_run import make_plan, subscribed

SUBSCRIPTIONS = 40
WORKER = [sys.executable, "-c", "from leadbill.cli import app; app()", "worker"]


def _months_ago(now: datetime, months: int) -> datetime:
    month = now.year * 12 + now.month - 1 - months
    return datetime(month // 12, month % 12 + 1, 1, tzinfo=UTC)


@pytest.mark.postgres_only
def test_two_worker_processes_never_bill_a_period_twice(
    engine: Engine, sessions: sessionmaker[Session], database_url: str
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("workers on different machines share a PostgreSQL database")
    # The workers bill at the wall clock: subscriptions from three months back have
    # three periods ended (plus the boundary-0 invoice each was created with).
    start = _months_ago(datetime.now(UTC), 3)
    with sessions.begin() as session:
        plan = make_plan(session)
        for number in range(SUBSCRIPTIONS):
            subscribed(session, f"acct-{number:03d}", start=start, plan=plan)

    environment = {**os.environ, "LEADBILL_DATABASE_URL": database_url}
    environment.pop("LEADBILL_SMTP_HOST", None)
    workers = [
        subprocess.Popen(
            [*WORKER, "--interval", "0.1"],
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with sessions() as session:
                billing = session.get(WorkerJob, "billing")
                if billing is not None and billing.runs >= 1:
                    break
            time.sleep(0.2)
        time.sleep(2)  # both workers keep polling: the second must skip billing
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        outputs = [worker.communicate(timeout=60)[0] for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0], outputs

    with sessions() as session:
        per_boundary = session.execute(
            select(
                Invoice.subscription_id, Invoice.boundary_index, func.count(Invoice.id)
            ).group_by(Invoice.subscription_id, Invoice.boundary_index)
        ).all()
        assert len(per_boundary) == SUBSCRIPTIONS * 4
        assert {count for _, _, count in per_boundary} == {1}
        assert {boundary for _, boundary, _ in per_boundary} == {0, 1, 2, 3}
        billing = session.get(WorkerJob, "billing")
        assert billing is not None
        assert (billing.runs, billing.last_outcome, billing.failures) == (1, "ok", 0)
        assert billing.last_summary is not None
        assert f": {SUBSCRIPTIONS * 3} invoices issued" in billing.last_summary
        webhooks = session.get(WorkerJob, "webhooks")
        assert webhooks is not None and webhooks.runs >= 2 and webhooks.last_outcome == "ok"
    billed = [output for output in outputs if "billing: as of" in output]
    assert len(billed) == 1, outputs  # one worker ran the job; the other skipped it
    assert f"{SUBSCRIPTIONS * 3} invoices issued" in billed[0]
    assert all("worker stopped" in output for output in outputs)
