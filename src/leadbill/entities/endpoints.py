"""HTTP routes of billing entities: admins create and change them and choose the default;
every staff role reads them. Customer keys get 403: a customer sees the entity that bills
it in its billing details (`/accounts/{code}/billing-details`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from sqlalchemy import select

from leadbill.auth.dependencies import Caller, DbSession, allow
from leadbill.auth.idempotency import LeadbillRoute
from leadbill.auth.service import STAFF_READERS, Role
from leadbill.console import now
from leadbill.entities import service
from leadbill.entities.models import BillingEntity
from leadbill.entities.schemas import (
    BillingEntityChange,
    BillingEntityCreate,
    BillingEntityOut,
    BillingEntityPage,
)
from leadbill.pagination import DEFAULT_LIMIT, MAX_LIMIT, decode_cursor, page_info
from leadbill.schemas import PROBLEM_RESPONSES

router = APIRouter(
    prefix="/billing-entities",
    tags=["billing entities"],
    route_class=LeadbillRoute,
    responses=PROBLEM_RESPONSES,
)
READERS: tuple[Role, ...] = tuple(sorted(STAFF_READERS))
EDITORS: tuple[Role, ...] = (Role.ADMIN,)
Code = Annotated[str, Path(min_length=1, max_length=32)]


@router.post("", status_code=201, response_model=BillingEntityOut)
def create_entity(
    body: BillingEntityCreate, session: DbSession, caller: Caller
) -> BillingEntityOut:
    """Add a billing entity (admin); the first one becomes the default."""
    allow(caller, *EDITORS)
    entity = service.create_entity(session, code=body.code, fields=body.fields(), as_of=now())
    return BillingEntityOut.of(entity)


@router.get("", response_model=BillingEntityPage)
def list_entities(
    session: DbSession,
    caller: Caller,
    cursor: str | None = None,
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
) -> BillingEntityPage:
    """The billing entities by code (staff)."""
    allow(caller, *READERS)
    after = decode_cursor(cursor, str)
    query = select(BillingEntity).order_by(BillingEntity.code).limit(limit)
    if after is not None:
        query = query.where(BillingEntity.code > after)
    entities = list(session.scalars(query))
    return BillingEntityPage(
        data=[BillingEntityOut.of(e) for e in entities],
        page=page_info(entities, limit, lambda e: e.code),
    )


@router.get("/{code}", response_model=BillingEntityOut)
def get_entity(code: Code, session: DbSession, caller: Caller) -> BillingEntityOut:
    """One billing entity by its code (staff)."""
    allow(caller, *READERS)
    return BillingEntityOut.of(service.get_entity(session, code))


@router.patch("/{code}", response_model=BillingEntityOut)
def update_entity(
    code: Code, body: BillingEntityChange, session: DbSession, caller: Caller
) -> BillingEntityOut:
    """Change an entity's settings (admin): an omitted field is kept, null clears an
    optional one. Finalized invoices and credit notes keep the issuer they took."""
    allow(caller, *EDITORS)
    return BillingEntityOut.of(service.update_entity(session, code, body.fields(), now()))


@router.post("/{code}/default", response_model=BillingEntityOut)
def make_default(code: Code, session: DbSession, caller: Caller) -> BillingEntityOut:
    """Make this entity the default (admin): it bills every account that names none."""
    allow(caller, *EDITORS)
    return BillingEntityOut.of(service.make_default(session, code, now()))
