"""The job table: one row per periodic job of the worker, with its schedule and last run.

A worker runs a job only while it holds the job's lease (`lease`, valid until
`leased_until`), taken by one conditional UPDATE: on PostgreSQL the row lock
serialises two workers' claims, on SQLite the database lock does, so several
workers never run one job at once and the others skip it. A worker that dies
while holding a job leaves the lease to run out; another takes the job then.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from leadbill.db import Base, UTCDateTime


class WorkerJob(Base):
    """A job's schedule, its lease and what its last run did.

    `last_outcome` is `ok` or `failed`; `failures` counts the failed runs since
    the last good one (the retry backoff grows with it). `held_by` names the
    worker (host:pid) running the job now; `last_worker` the one that ran it last.
    """

    __tablename__ = "worker_jobs"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    interval_seconds: Mapped[int] = mapped_column(Integer)
    next_run_at: Mapped[datetime] = mapped_column(UTCDateTime())
    lease: Mapped[str | None] = mapped_column(String(32))
    leased_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    held_by: Mapped[str | None] = mapped_column(String(100))
    last_worker: Mapped[str | None] = mapped_column(String(100))
    last_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_duration_ms: Mapped[int | None] = mapped_column(Integer)
    last_outcome: Mapped[str | None] = mapped_column(String(16))
    last_summary: Mapped[str | None] = mapped_column(String(200))
    last_error: Mapped[str | None] = mapped_column(String(500))
    runs: Mapped[int] = mapped_column(Integer)
    failures: Mapped[int] = mapped_column(Integer)
