"""API shapes of the worker's jobs (also what `leadbill worker status --format json` prints)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from leadbill.jobs.service import JobStatus


class WorkerJobOut(BaseModel):
    """One periodic job: its schedule, who runs it, and what its last run did."""

    name: str = Field(examples=["billing"])
    interval_seconds: int = Field(description="0: every round of the worker", examples=[300])
    state: Literal["running", "due", "scheduled"] = Field(
        description="`running`: a worker holds it now; `due`: it runs at the next round of "
        "any worker; `scheduled`: it waits for `next_run_at`"
    )
    next_run_at: datetime
    held_by: str | None = Field(description="The worker (host:pid) running it now")
    last_worker: str | None = Field(description="The worker that ran it last")
    last_started_at: datetime | None
    last_finished_at: datetime | None
    last_duration_ms: int | None
    last_outcome: Literal["ok", "failed"] | None
    last_summary: str | None
    last_error: str | None
    runs: int = Field(description="Runs recorded so far")
    failures: int = Field(description="Failed runs in a row since the last good one")

    @classmethod
    def of(cls, status: JobStatus) -> WorkerJobOut:
        """The shape of a job's status."""
        job = status.job
        state: Literal["running", "due", "scheduled"] = (
            "running" if status.running else "due" if status.due else "scheduled"
        )
        return cls(
            name=job.name,
            interval_seconds=job.interval_seconds,
            state=state,
            next_run_at=job.next_run_at,
            held_by=job.held_by if status.running else None,
            last_worker=job.last_worker,
            last_started_at=job.last_started_at,
            last_finished_at=job.last_finished_at,
            last_duration_ms=job.last_duration_ms,
            last_outcome=job.last_outcome,  # type: ignore[arg-type]
            last_summary=job.last_summary,
            last_error=job.last_error,
            runs=job.runs,
            failures=job.failures,
        )


class WorkerJobList(BaseModel):
    """Every job of the worker, by name."""

    data: list[WorkerJobOut]
