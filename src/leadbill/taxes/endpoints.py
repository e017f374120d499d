"""HTTP routes of tax rates: admins add and end them; every staff role reads them.

A rate in use is never edited: end it (its last day) and add the next one from the
following day; issued invoices keep the rate they were issued with.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from sqlalchemy import select

from leadbill.auth.dependencies import Caller, DbSession, allow
from leadbill.auth.idempotency import LeadbillRoute
from leadbill.auth.service import STAFF_READERS, Role
from leadbill.console import now
from leadbill.pagination import DEFAULT_LIMIT, MAX_LIMIT, decode_cursor, page_info
from leadbill.schemas import PROBLEM_RESPONSES
from leadbill.taxes import service
from leadbill.taxes.models import TaxRate
from leadbill.taxes.schemas import TaxRateCreate, TaxRateEnd, TaxRateOut, TaxRatePage

router = APIRouter(
    prefix="/tax-rates", tags=["tax rates"], route_class=LeadbillRoute, responses=PROBLEM_RESPONSES
)
READERS: tuple[Role, ...] = tuple(sorted(STAFF_READERS))
EDITORS: tuple[Role, ...] = (Role.ADMIN,)
RateId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.post("", status_code=201, response_model=TaxRateOut)
def create_rate(body: TaxRateCreate, session: DbSession, caller: Caller) -> TaxRateOut:
    """Add a tax rate (admin); 409 when it overlaps another of the same country and region."""
    allow(caller, *EDITORS)
    return TaxRateOut.of(service.create_rate(session, **body.model_dump(), as_of=now()))


@router.get("", response_model=TaxRatePage)
def list_rates(
    session: DbSession,
    caller: Caller,
    country: str | None = Query(None, max_length=2, description="Only this country's rates"),
    cursor: str | None = None,
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
) -> TaxRatePage:
    """Tax rates by id (staff)."""
    allow(caller, *READERS)
    after = decode_cursor(cursor, int)
    query = select(TaxRate).order_by(TaxRate.id).limit(limit)
    if country is not None:
        query = query.where(TaxRate.country == country.strip().upper())
    if after is not None:
        query = query.where(TaxRate.id > after)
    rates = list(session.scalars(query))
    return TaxRatePage(
        data=[TaxRateOut.of(r) for r in rates], page=page_info(rates, limit, lambda r: r.id)
    )


@router.post("/{rate_id}/end", response_model=TaxRateOut)
def end_rate(rate_id: RateId, body: TaxRateEnd, session: DbSession, caller: Caller) -> TaxRateOut:
    """Set the last day a rate applies (admin); it may not end before it starts."""
    allow(caller, *EDITORS)
    return TaxRateOut.of(service.end_rate(session, rate_id, body.valid_to))
