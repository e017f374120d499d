"""HTTP routes of plans: create (admin), list and read (every role that reads)."""

from __future__ import annotations

from fastapi import APIRouter, Query
from sqlalchemy import select

from leadbill.auth.dependencies import Caller, DbSession, allow
from leadbill.auth.idempotency import LeadbillRoute
from leadbill.auth.service import STAFF_READERS, Role
from leadbill.console import now
from leadbill.pagination import DEFAULT_LIMIT, MAX_LIMIT, PageInfo, decode_cursor, encode_cursor
from leadbill.plans import service
from leadbill.plans.models import Plan
from leadbill.plans.schemas import PlanCreate, PlanOut, PlanPage
from leadbill.schemas import PROBLEM_RESPONSES

router = APIRouter(
    prefix="/plans", tags=["plans"], route_class=LeadbillRoute, responses=PROBLEM_RESPONSES
)
READERS = (*STAFF_READERS, Role.CUSTOMER)


@router.post("", status_code=201, response_model=PlanOut)
def create_plan(body: PlanCreate, session: DbSession, caller: Caller) -> PlanOut:
    """Add a plan to the catalogue (admin)."""
    allow(caller, Role.ADMIN)
    plan = service.create_plan(session, **body.model_dump(), as_of=now())
    return PlanOut.of(plan)


@router.get("", response_model=PlanPage)
def list_plans(
    session: DbSession,
    caller: Caller,
    cursor: str | None = None,
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
) -> PlanPage:
    """The catalogue, by plan code."""
    allow(caller, *READERS)
    after = decode_cursor(cursor, str)
    query = select(Plan).order_by(Plan.code).limit(limit)
    if after is not None:
        query = query.where(Plan.code > after)
    plans = list(session.scalars(query))
    next_cursor = encode_cursor(plans[-1].code) if len(plans) == limit else None
    return PlanPage(
        data=[PlanOut.of(p) for p in plans], page=PageInfo(limit=limit, next_cursor=next_cursor)
    )


@router.get("/{code}", response_model=PlanOut)
def get_plan(code: str, session: DbSession, caller: Caller) -> PlanOut:
    """One plan by its code."""
    allow(caller, *READERS)
    return PlanOut.of(service.get_plan(session, code))
