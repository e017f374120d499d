"""`leadbill worker status`: each job's last run, duration, outcome and next run."""

from __future__ import annotations

import json
from datetime import datetime

import typer
from rich.table import Table

from leadbill.console import now, out, unit_of_work
from leadbill.jobs.schemas import WorkerJobList, WorkerJobOut
from leadbill.jobs.service import list_jobs

FORMATS = ("table", "json")


def _when(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M:%S}Z" if value is not None else "-"


def _every(seconds: int) -> str:
    if seconds == 0:
        return "every round"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"


def _last(job: WorkerJobOut) -> str:
    if job.last_outcome is None:
        return "never run"
    text = f"{job.last_outcome} at {_when(job.last_finished_at)}"
    if job.last_outcome == "failed":
        return f"{text} ({job.failures} in a row): {job.last_error}"
    return f"{text}: {job.last_summary}" if job.last_summary else text


def _next(job: WorkerJobOut) -> str:
    if job.state == "running":
        return f"running on {job.held_by} since {_when(job.last_started_at)}"
    return "due now" if job.state == "due" else _when(job.next_run_at)


def status(
    output_format: str = typer.Option("table", "--format", help="table or json"),
) -> None:
    """Each job's last run, duration, outcome and next run (from the job table)."""
    if output_format not in FORMATS:
        raise typer.BadParameter(
            f"{output_format!r} is not one of {', '.join(FORMATS)}", param_hint="--format"
        )
    with unit_of_work() as session:
        jobs = [WorkerJobOut.of(row) for row in list_jobs(session, now())]
    if output_format == "json":
        print(json.dumps(WorkerJobList(data=jobs).model_dump(mode="json"), indent=2))
        return
    if not jobs:
        out.print("no jobs yet: start `leadbill worker`")
        return
    table = Table("job", "every", "last run", "duration", "outcome", "next run")
    for job in jobs:
        duration = (
            f"{job.last_duration_ms / 1000:.1f} s" if job.last_duration_ms is not None else "-"
        )
        table.add_row(
            job.name,
            _every(job.interval_seconds),
            _when(job.last_started_at),
            duration,
            _last(job),
            _next(job),
        )
    out.print(table)


__all__ = ["status"]
