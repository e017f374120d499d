"""Running the worker's periodic jobs: register, claim a due job's lease, record its run.

A job is due at its `next_run_at`. A worker claims it with one conditional
UPDATE (due, and no live lease), runs it outside any transaction, then records
the outcome under the same lease. A good run schedules the next one an
interval after this one started; a failed run is retried after a backoff that
doubles with each failure in a row (from `retry_base`, at most the interval,
never less than `retry_base`). A job that raises is recorded as failed and the
round goes on with the next job.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from leadbill.core.errors import RuleViolation
from leadbill.core.periods import require_utc
from leadbill.errors import from_rule
from leadbill.jobs.models import WorkerJob

RETRY_BASE = timedelta(seconds=30)
ERROR_LENGTH = 500
SUMMARY_LENGTH = 200


@dataclass(frozen=True)
class JobResult:
    """What a run did: a one-line summary, whether more work is waiting right now
    (the worker then starts the next round without pausing), and whether the
    summary is worth printing (an idle outbox round is not)."""

    summary: str
    busy: bool = False
    notable: bool = True


@dataclass(frozen=True)
class Job:
    """A periodic job: its name, how often it runs, how long a run may hold it, and the run.

    `run` receives the instant the run started (billing uses it as `as_of`).
    """

    name: str
    interval: timedelta
    lease: timedelta
    run: Callable[[datetime], JobResult]
    retry_base: timedelta = RETRY_BASE


@dataclass(frozen=True)
class Ran:
    """One job run by this worker in a round: `ok`, `failed`, or `superseded` (its lease
    ran out and another worker took the job before this run was recorded)."""

    name: str
    outcome: str
    result: JobResult | None = None
    error: str | None = None
    retry_at: datetime | None = None


@dataclass
class JobStatus:
    """A job as `leadbill worker status`, the API and the staff page show it."""

    job: WorkerJob
    running: bool  # a worker holds the job's lease now
    due: bool  # nobody runs it and its next run is not in the future


def retry_delay(job: Job, failures: int) -> timedelta:
    """The wait before retrying a job that failed `failures` times in a row."""
    cap = max(job.interval, job.retry_base)
    doubled: timedelta = job.retry_base * (2 ** min(failures - 1, 30))
    return min(doubled, cap)


def register(sessions: sessionmaker[Session], jobs: Sequence[Job], now: datetime) -> None:
    """Add the rows of jobs the table does not have yet (due at once); store each interval."""
    with sessions() as session, session.begin():
        make = (
            postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        )
        for job in jobs:
            seconds = int(job.interval.total_seconds())
            session.execute(
                make(WorkerJob)
                .values(
                    name=job.name, interval_seconds=seconds, next_run_at=now, runs=0, failures=0
                )
                .on_conflict_do_nothing(index_elements=["name"])
            )
            session.execute(
                update(WorkerJob)
                .where(WorkerJob.name == job.name, WorkerJob.interval_seconds != seconds)
                .values(interval_seconds=seconds)
                .execution_options(synchronize_session=False)
            )


def claim(sessions: sessionmaker[Session], job: Job, now: datetime, holder: str) -> str | None:
    """Take the job's lease if it is due and nobody holds it; the lease token, or None."""
    token = secrets.token_hex(16)
    with sessions() as session, session.begin():
        taken = session.execute(
            update(WorkerJob)
            .where(
                WorkerJob.name == job.name,
                WorkerJob.next_run_at <= now,
                or_(WorkerJob.leased_until.is_(None), WorkerJob.leased_until <= now),
            )
            .values(lease=token, leased_until=now + job.lease, held_by=holder, last_started_at=now)
            .execution_options(synchronize_session=False)
        )
    return token if taken.rowcount == 1 else None  # type: ignore[attr-defined]


def record(
    sessions: sessionmaker[Session],
    job: Job,
    token: str,
    started: datetime,
    finished: datetime,
    holder: str,
    *,
    result: JobResult | None,
    error: str | None,
) -> Ran:
    """Record a run under its lease, schedule the next one and release the job."""
    with sessions() as session, session.begin():
        row = session.scalar(
            select(WorkerJob).where(WorkerJob.name == job.name, WorkerJob.lease == token)
        )
        if row is None:
            return Ran(job.name, "superseded", result, error)
        row.lease = row.leased_until = row.held_by = None
        row.last_worker = holder
        row.last_finished_at = finished
        row.last_duration_ms = max(0, int((finished - started).total_seconds() * 1000))
        row.runs += 1
        if error is None:
            assert result is not None
            row.last_outcome, row.last_error = "ok", None
            row.last_summary = result.summary[:SUMMARY_LENGTH]
            row.failures = 0
            row.next_run_at = started + job.interval
            return Ran(job.name, "ok", result)
        row.last_outcome, row.last_error, row.last_summary = "failed", error[:ERROR_LENGTH], None
        row.failures += 1
        row.next_run_at = finished + retry_delay(job, row.failures)
        return Ran(job.name, "failed", None, error, row.next_run_at)


def run_due(
    sessions: sessionmaker[Session],
    jobs: Sequence[Job],
    clock: Callable[[], datetime],
    holder: str,
    *,
    on_error: Callable[[Exception], None] = lambda _error: None,
) -> list[Ran]:
    """Run, one after another, every job that is due and not held by another worker.

    A job that raises is recorded as failed; a database error while claiming or
    recording one job goes to `on_error` and the round goes on with the next.
    """
    ran: list[Ran] = []
    for job in jobs:
        try:
            started = _instant(clock())
            token = claim(sessions, job, started, holder)
            if token is None:
                continue
            result: JobResult | None = None
            error: str | None = None
            try:
                result = job.run(started)
            except Exception as failure:  # any failure is the job's, recorded and retried
                error = f"{type(failure).__name__}: {failure}".strip()
            finished = max(_instant(clock()), started)
            ran.append(
                record(sessions, job, token, started, finished, holder, result=result, error=error)
            )
        except DBAPIError as failure:
            on_error(failure)
    return ran


def list_jobs(session: Session, now: datetime) -> list[JobStatus]:
    """Every job by name, with whether a worker holds it now and whether it is due."""
    now = _instant(now)
    rows = session.scalars(select(WorkerJob).order_by(WorkerJob.name)).all()
    return [
        JobStatus(
            job=row, running=_held(row, now), due=not _held(row, now) and row.next_run_at <= now
        )
        for row in rows
    ]


def _held(row: WorkerJob, now: datetime) -> bool:
    return row.leased_until is not None and row.leased_until > now


def _instant(value: datetime) -> datetime:
    try:
        return require_utc(value, "now")
    except RuleViolation as error:
        raise from_rule(error) from None
