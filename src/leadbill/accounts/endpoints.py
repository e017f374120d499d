"""HTTP routes of accounts: create (admin), list and read (a customer sees only its own)."""

from __future__ import annotations

from fastapi import APIRouter, Query
from sqlalchemy import select

from leadbill.accounts import service
from leadbill.accounts.models import Account
from leadbill.accounts.schemas import AccountCreate, AccountOut, AccountPage
from leadbill.auth.dependencies import Caller, DbSession, allow, visible_account
from leadbill.auth.idempotency import LeadbillRoute
from leadbill.auth.service import STAFF_READERS, Role
from leadbill.console import now
from leadbill.pagination import DEFAULT_LIMIT, MAX_LIMIT, decode_cursor, page_info
from leadbill.schemas import PROBLEM_RESPONSES

router = APIRouter(
    prefix="/accounts", tags=["accounts"], route_class=LeadbillRoute, responses=PROBLEM_RESPONSES
)
READERS = (*STAFF_READERS, Role.CUSTOMER)


@router.post("", status_code=201, response_model=AccountOut)
def create_account(body: AccountCreate, session: DbSession, caller: Caller) -> AccountOut:
    """Create a customer account (admin)."""
    allow(caller, Role.ADMIN)
    return AccountOut.of(service.create_account(session, **body.model_dump(), as_of=now()))


@router.get("", response_model=AccountPage)
def list_accounts(
    session: DbSession,
    caller: Caller,
    cursor: str | None = None,
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
) -> AccountPage:
    """Accounts by code; a customer key lists only its own account."""
    allow(caller, *READERS)
    after = decode_cursor(cursor, str)
    query = select(Account).order_by(Account.code).limit(limit)
    if caller.role is Role.CUSTOMER:
        query = query.where(Account.id == caller.account_id)
    if after is not None:
        query = query.where(Account.code > after)
    accounts = list(session.scalars(query))
    return AccountPage(
        data=[AccountOut.of(a) for a in accounts],
        page=page_info(accounts, limit, lambda a: a.code),
    )


@router.get("/{account}", response_model=AccountOut)
def get_account(account: str, session: DbSession, caller: Caller) -> AccountOut:
    """One account by its code."""
    return AccountOut.of(visible_account(session, caller, account, *READERS))
