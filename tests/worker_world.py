"""A job table as a worker leaves it: billing ran fine, an export job failed twice.

Shared by the API and staff page tests of the worker's jobs.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from leadbill.jobs.service import Job, JobResult, register, run_due

EVERY = timedelta(minutes=5)


def _failing(_started: datetime) -> JobResult:
    raise ConnectionError("export target refused the connection")


def run_jobs(sessions: sessionmaker[Session], at: datetime) -> None:
    """At `at` and 30 seconds later, on worker `host-a:41`: billing once, export twice, failing."""
    jobs = [
        Job("billing", EVERY, timedelta(minutes=30), lambda _at: JobResult("0 invoices issued")),
        Job("export", EVERY, timedelta(minutes=1), _failing),
    ]
    register(sessions, jobs, at)
    run_due(sessions, jobs, lambda: at, "host-a:41")
    run_due(sessions, jobs, lambda: at + timedelta(seconds=30), "host-a:41")
