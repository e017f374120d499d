"""HTTP route of the worker's jobs: their schedule and last runs, read by admin and billing.

Read-only: the jobs are run by `leadbill worker`, not over HTTP. Other roles
and customer keys get 403.
"""

from __future__ import annotations

from fastapi import APIRouter

from leadbill.auth.dependencies import Caller, DbSession, allow
from leadbill.auth.idempotency import LeadbillRoute
from leadbill.auth.service import Role
from leadbill.console import now
from leadbill.jobs.schemas import WorkerJobList, WorkerJobOut
from leadbill.jobs.service import list_jobs
from leadbill.schemas import PROBLEM_RESPONSES

router = APIRouter(tags=["worker"], route_class=LeadbillRoute, responses=PROBLEM_RESPONSES)
READERS = (Role.ADMIN, Role.BILLING)


@router.get("/worker-jobs", response_model=WorkerJobList)
def list_worker_jobs(session: DbSession, caller: Caller) -> WorkerJobList:
    """Each periodic job of the worker (billing, webhooks, mail): last run, duration,
    outcome, error and next run (admin, billing)."""
    allow(caller, *READERS)
    return WorkerJobList(data=[WorkerJobOut.of(row) for row in list_jobs(session, now())])
