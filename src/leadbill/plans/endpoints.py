"""HTTP routes of plans: create (admin), list and read (every role that reads), and an
account's plan advice (staff readers and the account's customer)."""

from __future__ import annotations

from fastapi import APIRouter, Query
from sqlalchemy import select

from leadbill.auth.dependencies import Caller, DbSession, allow, visible_account
from leadbill.auth.idempotency import LeadbillRoute
from leadbill.auth.service import STAFF_READERS, Role
from leadbill.console import now
from leadbill.pagination import DEFAULT_LIMIT, MAX_LIMIT, decode_cursor, page_info
from leadbill.plans import service
from leadbill.plans.advice import DEFAULT_PERIODS, MAX_PERIODS, advise_account
from leadbill.plans.models import Plan
from leadbill.plans.schemas import PlanAdviceOut, PlanCreate, PlanOut, PlanPage
from leadbill.schemas import PROBLEM_RESPONSES, Instant

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
    return PlanPage(
        data=[PlanOut.of(p) for p in plans], page=page_info(plans, limit, lambda p: p.code)
    )


@router.get("/{code}", response_model=PlanOut)
def get_plan(code: str, session: DbSession, caller: Caller) -> PlanOut:
    """One plan by its code."""
    allow(caller, *READERS)
    return PlanOut.of(service.get_plan(session, code))


advice = APIRouter(
    prefix="/accounts/{account}",
    tags=["plans"],
    route_class=LeadbillRoute,
    responses=PROBLEM_RESPONSES,
)


@advice.get("/plan-advice", response_model=PlanAdviceOut)
def plan_advice(
    account: str,
    session: DbSession,
    caller: Caller,
    as_of: Instant | None = Query(None, description="default: now"),
    periods: int = Query(DEFAULT_PERIODS, ge=1, le=MAX_PERIODS, description="closed periods"),
) -> PlanAdviceOut:
    """What the account's last closed periods would have cost under each plan of its ladder,
    and the cheapest one (409 before the first period has closed)."""
    owner = visible_account(session, caller, account, *READERS)
    return PlanAdviceOut.of(advise_account(session, owner, as_of=as_of or now(), periods=periods))
