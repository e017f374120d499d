"""HTTP routes of an account's usage summary and master call report (R9)."""

from __future__ import annotations

from fastapi import APIRouter, Query

from leadbill.auth.dependencies import Caller, DbSession, visible_account
from leadbill.auth.idempotency import LeadbillRoute
from leadbill.auth.service import STAFF_READERS, Role
from leadbill.console import now
from leadbill.pagination import PageInfo, decode_cursor, encode_cursor
from leadbill.reports.schemas import CallReportPageOut, CallReportRowOut, UsageSummaryOut
from leadbill.reports.service import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    CallReportFilter,
    billing_summary,
    filtered_call_report_page,
    report_scope,
)
from leadbill.schemas import PROBLEM_RESPONSES, Instant
from leadbill.subscriptions.schemas import PeriodOut

router = APIRouter(
    prefix="/accounts/{account}",
    tags=["reports"],
    route_class=LeadbillRoute,
    responses=PROBLEM_RESPONSES,
)
READERS = (*STAFF_READERS, Role.CUSTOMER)
# 2,000 periods: 166 years of months, 2,000 of years; beyond, the calendar overflows.
MAX_PERIOD_INDEX = 2_000


@router.get("/usage", response_model=UsageSummaryOut)
def usage_summary(
    account: str,
    session: DbSession,
    caller: Caller,
    as_of: Instant | None = Query(None, description="default: now"),
) -> UsageSummaryOut:
    """Usage, allowance, overage so far and projected cost of the period containing `as_of`."""
    owner = visible_account(session, caller, account, *READERS)
    return UsageSummaryOut.of(billing_summary(session, owner, as_of or now()))


@router.get("/call-report", response_model=CallReportPageOut)
def call_report(
    account: str,
    session: DbSession,
    caller: Caller,
    as_of: Instant | None = Query(None, description="the period containing it (default: now)"),
    period: int | None = Query(
        None, ge=0, le=MAX_PERIOD_INDEX, description="period number (0: first)"
    ),
    seat: str | None = Query(None, max_length=64, description="only this seat's leads"),
    counted: bool | None = Query(None, description="only leads that count (true) or not"),
    reason: str | None = Query(
        None, max_length=32, description="only leads with this reason code (e.g. never_called)"
    ),
    phone: str | None = Query(
        None, max_length=64, description="search: leads with this phone (compared normalised)"
    ),
    email: str | None = Query(
        None, max_length=254, description="search: leads with this e-mail (case-insensitive)"
    ),
    cursor: str | None = None,
    limit: int = Query(DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE),
) -> CallReportPageOut:
    """One page of the master call report: every lead of the period, whether and why it counts.

    A lead is in a period's report when one of its received, call or found events
    happened in the period; a lead received or found again in a later period is in
    that period's report too (counted in the period it counts in).

    Filters combine. With `counted` or `reason` a page may hold fewer than `limit`
    leads and still have a `next_cursor`: keep paging until it is null.
    """
    owner = visible_account(session, caller, account, *READERS)
    scope = report_scope(session, owner, as_of=as_of or now(), period_index=period)
    wanted = CallReportFilter(seat=seat, counted=counted, reason=reason, phone=phone, email=email)
    page = filtered_call_report_page(
        session, scope, wanted, after=decode_cursor(cursor, str), limit=limit
    )
    next_cursor = encode_cursor(page.next_after) if page.next_after is not None else None
    return CallReportPageOut(
        account=owner.code,
        plan=scope.plan.code,
        period=PeriodOut(index=scope.period.index, start=scope.period.start, end=scope.period.end),
        data=[CallReportRowOut.of(row) for row in page.rows],
        page=PageInfo(limit=limit, next_cursor=next_cursor),
    )
