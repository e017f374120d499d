"""Staff page of the worker's jobs: each job's last run, duration, outcome and next run.

As the API (GET /v1/worker-jobs): admins and billing staff read it; other roles
are refused.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from leadbill.auth.dependencies import DbSession
from leadbill.jobs.schemas import WorkerJobOut
from leadbill.jobs.service import list_jobs
from leadbill.portal.permissions import READS_WORKER_JOBS
from leadbill.portal.web import PortalRoute, SignedIn, clock_of, render

router = APIRouter(route_class=PortalRoute, include_in_schema=False)


@router.get("/staff/worker")
def worker_jobs(request: Request, visitor: SignedIn, db: DbSession) -> Response:
    """The job table, by name."""
    visitor.require(*READS_WORKER_JOBS)
    jobs = [WorkerJobOut.of(row) for row in list_jobs(db, clock_of(request))]
    return render(
        request, "staff_worker.html", visitor, db, nav="staff-worker", title="Worker", jobs=jobs
    )
