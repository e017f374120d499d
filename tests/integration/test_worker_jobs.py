"""The worker's job table: scheduled billing on an injected clock, failures retried with
backoff without stopping the other jobs, leases between workers, and `leadbill worker status`.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from leadbill import console
from leadbill.billing.models import Invoice
from leadbill.cli import app
from leadbill.jobs.models import WorkerJob
from leadbill.jobs.service import Job, JobResult, claim, record, register, run_due
from leadbill.worker import BILLING_LEASE, billing_job, run_forever
from tests.conftest import utc
from tests.integration.test_billing_run import subscribed

T = utc(2026, 2, 1, 0, 0, 30)  # just after acme's first period ended
EVERY = timedelta(minutes=5)
runner = CliRunner()


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


class Flaky:
    """A job body that fails while `broken`, then works; counts its calls."""

    def __init__(self) -> None:
        self.broken = True
        self.calls: list[datetime] = []

    def __call__(self, started: datetime) -> JobResult:
        self.calls.append(started)
        if self.broken:
            raise RuntimeError("ledger export target unreachable")
        return JobResult("exported")


@pytest.fixture
def acme(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """Acme, subscribed monthly from Jan 1 (its boundary-0 invoice issued)."""
    with sessions.begin() as session:
        subscribed(session, "acme")
    return sessions


def _job(sessions: sessionmaker[Session], name: str) -> WorkerJob:
    with sessions() as session:
        row = session.get(WorkerJob, name)
        assert row is not None
        session.expunge(row)
        return row


def _invoices(sessions: sessionmaker[Session]) -> list[tuple[int, int]]:
    with sessions() as session:
        return [
            (boundary, count)
            for boundary, count in session.execute(
                select(Invoice.boundary_index, func.count(Invoice.id))
                .group_by(Invoice.boundary_index)
                .order_by(Invoice.boundary_index)
            )
        ]


def test_billing_runs_at_t_then_not_before_five_minutes_then_again(
    acme: sessionmaker[Session],
) -> None:
    clock = Clock(T)
    jobs = [billing_job(acme, EVERY)]
    register(acme, jobs, clock())

    first = run_due(acme, jobs, clock, "w1")
    assert [(r.name, r.outcome) for r in first] == [("billing", "ok")]
    assert first[0].result is not None
    assert first[0].result.summary.startswith("as of 2026-02-01T00:00:30Z: 1 invoices issued")
    assert _invoices(acme) == [(0, 1), (1, 1)]
    row = _job(acme, "billing")
    assert (row.last_started_at, row.next_run_at, row.runs) == (T, T + EVERY, 1)
    assert (row.last_outcome, row.last_worker, row.held_by, row.lease) == ("ok", "w1", None, None)

    clock.at = T + EVERY - timedelta(seconds=1)
    assert run_due(acme, jobs, clock, "w1") == []
    assert run_due(acme, jobs, clock, "w2") == []  # nor for another worker

    clock.at = T + EVERY
    again = run_due(acme, jobs, clock, "w2")
    assert [(r.name, r.outcome) for r in again] == [("billing", "ok")]
    assert again[0].result is not None and "0 invoices issued" in again[0].result.summary
    row = _job(acme, "billing")
    assert (row.last_started_at, row.next_run_at, row.runs) == (T + EVERY, T + 2 * EVERY, 2)
    assert row.last_worker == "w2"
    assert _invoices(acme) == [(0, 1), (1, 1)]  # the period is billed once


def test_the_loop_bills_every_five_minutes_on_an_injected_clock(
    acme: sessionmaker[Session],
) -> None:
    clock = Clock(T)
    started: list[datetime] = []

    def sleep(seconds: float) -> None:
        clock.at += timedelta(seconds=seconds)

    def on_run(ran: object) -> None:
        started.append(clock.at)

    run_forever(
        acme,
        [billing_job(acme, EVERY)],
        interval=60,
        clock=clock,
        sleep=sleep,
        holder="w1",
        should_stop=lambda: clock.at >= T + timedelta(minutes=11),
        on_run=on_run,
    )
    # Eleven simulated minutes, polled once a minute: runs at 0, 5 and 10 minutes only.
    assert started == [T, T + EVERY, T + 2 * EVERY]
    assert _job(acme, "billing").runs == 3
    assert _invoices(acme) == [(0, 1), (1, 1)]


def test_a_failing_job_is_recorded_retried_with_backoff_and_does_not_stop_the_others(
    acme: sessionmaker[Session], database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock(T)
    flaky = Flaky()
    jobs = [Job("export", EVERY, timedelta(minutes=1), flaky), billing_job(acme, EVERY)]
    register(acme, jobs, clock())

    ran = run_due(acme, jobs, clock, "w1")
    assert [(r.name, r.outcome) for r in ran] == [("export", "failed"), ("billing", "ok")]
    assert ran[0].error == "RuntimeError: ledger export target unreachable"
    assert ran[0].retry_at == T + timedelta(seconds=30)
    assert _invoices(acme) == [(0, 1), (1, 1)]  # billing ran after the failure
    export = _job(acme, "export")
    assert (export.last_outcome, export.failures, export.runs) == ("failed", 1, 1)
    assert export.last_error == "RuntimeError: ledger export target unreachable"
    assert export.next_run_at == T + timedelta(seconds=30)
    assert export.lease is None  # released for the retry

    _status_shows_the_failure(database_url, monkeypatch)

    clock.at = T + timedelta(seconds=29)
    assert run_due(acme, jobs, clock, "w1") == []
    clock.at = T + timedelta(seconds=30)
    assert [r.retry_at for r in run_due(acme, jobs, clock, "w1")] == [
        T + timedelta(seconds=90)  # the second failure in a row waits twice as long
    ]
    assert _job(acme, "export").failures == 2

    flaky.broken = False
    clock.at = T + timedelta(seconds=90)
    assert [(r.name, r.outcome) for r in run_due(acme, jobs, clock, "w1")] == [("export", "ok")]
    export = _job(acme, "export")
    assert (export.last_outcome, export.failures, export.last_error) == ("ok", 0, None)
    assert (export.last_summary, export.runs) == ("exported", 3)
    assert export.next_run_at == T + timedelta(seconds=90) + EVERY
    assert flaky.calls == [T, T + timedelta(seconds=30), T + timedelta(seconds=90)]


def _status_shows_the_failure(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADBILL_DATABASE_URL", database_url)
    monkeypatch.setattr(console.out, "width", 250)
    console.sessions.cache_clear()
    try:
        table = runner.invoke(app, ["worker", "status"])
        assert table.exit_code == 0, table.output
        billing, export = [line for line in table.output.splitlines() if " 5 min " in line]
        assert billing.split()[1] == "billing" and "ok at 2026-02-01 00:00:30Z" in billing
        assert "1 invoices issued" in billing
        assert export.split()[1] == "export"
        assert "failed at 2026-02-01 00:00:30Z (1 in a row): RuntimeError: ledger" in export
        as_json = runner.invoke(app, ["worker", "status", "--format", "json"])
        assert as_json.exit_code == 0, as_json.output
        data = {job["name"]: job for job in json.loads(as_json.output)["data"]}
        assert set(data) == {"billing", "export"}
        assert data["export"]["last_outcome"] == "failed"
        assert data["export"]["failures"] == 1
        assert data["export"]["next_run_at"] == "2026-02-01T00:01:00Z"
        assert data["export"]["last_error"] == "RuntimeError: ledger export target unreachable"
        assert data["billing"]["next_run_at"] == "2026-02-01T00:05:30Z"
        assert data["billing"]["last_duration_ms"] == 0  # the injected clock did not move
        assert data["billing"]["interval_seconds"] == 300 and data["billing"]["runs"] == 1
        wrong = runner.invoke(app, ["worker", "status", "--format", "xml"])
        assert wrong.exit_code == 2 and "--format" in wrong.output
    finally:
        console.sessions().kw["bind"].dispose()
        console.sessions.cache_clear()


def test_a_job_held_by_another_worker_is_skipped_until_its_lease_runs_out(
    acme: sessionmaker[Session],
) -> None:
    clock = Clock(T)
    job = billing_job(acme, EVERY)
    register(acme, [job], clock())
    # Worker w1 takes the job and dies before recording the run.
    token = claim(acme, job, T, "w1")
    assert token is not None
    assert claim(acme, job, T, "w2") is None
    clock.at = T + BILLING_LEASE - timedelta(seconds=1)
    assert run_due(acme, [job], clock, "w2") == []
    assert _invoices(acme) == [(0, 1)]
    with acme() as session:
        from leadbill.jobs.service import list_jobs

        (status,) = list_jobs(session, clock.at)
        assert status.running and status.job.held_by == "w1"

    clock.at = T + BILLING_LEASE
    ran = run_due(acme, [job], clock, "w2")
    assert [(r.name, r.outcome) for r in ran] == [("billing", "ok")]
    assert _invoices(acme) == [(0, 1), (1, 1)]
    # w1's late result does not overwrite w2's run.
    late = record(
        acme, job, token, T, T + BILLING_LEASE, "w1", result=JobResult("late"), error=None
    )
    assert late.outcome == "superseded"
    row = _job(acme, "billing")
    assert (row.last_worker, row.runs, row.next_run_at) == ("w2", 1, T + BILLING_LEASE + EVERY)


def test_register_keeps_the_schedule_and_stores_a_new_interval(
    sessions: sessionmaker[Session],
) -> None:
    job = Job("export", EVERY, timedelta(minutes=1), lambda _at: JobResult("done"))
    register(sessions, [job], T)
    register(sessions, [job], T + timedelta(hours=1))  # a second worker starting later
    row = _job(sessions, "export")
    assert (row.next_run_at, row.interval_seconds, row.runs) == (T, 300, 0)
    register(sessions, [Job("export", timedelta(hours=1), job.lease, job.run)], T)
    assert _job(sessions, "export").interval_seconds == 3600


def test_a_naive_clock_is_refused_naming_the_field(sessions: sessionmaker[Session]) -> None:
    from leadbill.errors import InvalidInput

    job = Job("export", EVERY, timedelta(minutes=1), lambda _at: JobResult("done"))
    register(sessions, [job], T)
    with pytest.raises(InvalidInput) as raised:
        run_due(sessions, [job], lambda: datetime(2026, 2, 1), "w1")
    assert raised.value.field == "now"
