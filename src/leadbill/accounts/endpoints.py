"""HTTP routes of accounts: create (admin), list and read (a customer sees only its own),
and an account's billing details (staff and its own customer read them; admin, billing
and the account's customer change them, the customer all but what staff set)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from sqlalchemy import select
from sqlalchemy.orm import Session

from leadbill.accounts import service
from leadbill.accounts.billing_details import details_of, set_details
from leadbill.accounts.models import Account, BillingDetails
from leadbill.accounts.schemas import (
    AccountCreate,
    AccountOut,
    AccountPage,
    BillingDetailsChange,
    BillingDetailsOut,
)
from leadbill.auth.dependencies import Caller, DbSession, allow, visible_account
from leadbill.auth.idempotency import LeadbillRoute
from leadbill.auth.service import STAFF_READERS, Role
from leadbill.billing.taxation import account_billing
from leadbill.console import now
from leadbill.entities.models import BillingEntity
from leadbill.errors import Forbidden
from leadbill.pagination import DEFAULT_LIMIT, MAX_LIMIT, decode_cursor, page_info
from leadbill.schemas import PROBLEM_RESPONSES

router = APIRouter(
    prefix="/accounts", tags=["accounts"], route_class=LeadbillRoute, responses=PROBLEM_RESPONSES
)
READERS = (*STAFF_READERS, Role.CUSTOMER)
DETAILS_EDITORS = (Role.ADMIN, Role.BILLING, Role.CUSTOMER)
# What only operator staff set: who issues, the terms, and an exemption from tax.
STAFF_ONLY = ("billing_entity", "payment_terms_days", "tax_exemption")


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


def _entity_code(session: Session, details: BillingDetails | None) -> str | None:
    """The code of the account's own billing entity (None: it has the default)."""
    if details is None or details.billing_entity_id is None:
        return None
    return session.get_one(BillingEntity, details.billing_entity_id).code


def _details_out(session: Session, account: Account) -> BillingDetailsOut:
    details = details_of(session, account.id)
    return BillingDetailsOut.of(
        account, details, _entity_code(session, details), account_billing(session, account.id)
    )


def _refuse_staff_fields(session: Session, account: Account, body: BillingDetailsChange) -> None:
    """A customer may send what staff set only unchanged (a read-modify-write of GET's
    answer), never a new value."""
    details = details_of(session, account.id)
    stored: dict[str, Any] = {
        "billing_entity": _entity_code(session, details),
        "payment_terms_days": details.payment_terms_days if details else None,
        "tax_exemption": details.tax_exemption if details else None,
    }
    for name in STAFF_ONLY:
        if name not in body.model_fields_set:
            continue
        sent = getattr(body, name)
        if isinstance(sent, str):
            sent = " ".join(sent.split()) or None
            if name == "billing_entity" and sent is not None:
                sent = sent.lower()
        if sent != stored[name]:
            raise Forbidden(f"{name} is set by operator staff; a customer key may not change it")


@router.get("/{account}/billing-details", response_model=BillingDetailsOut)
def get_billing_details(account: str, session: DbSession, caller: Caller) -> BillingDetailsOut:
    """What the account's invoices say of it (legal name, address, tax number, PO), and
    the entity and terms they are issued with."""
    return _details_out(session, visible_account(session, caller, account, *READERS))


@router.put("/{account}/billing-details", response_model=BillingDetailsOut)
def set_billing_details(
    account: str, body: BillingDetailsChange, session: DbSession, caller: Caller
) -> BillingDetailsOut:
    """Change the account's billing details (admin, billing, the account's customer): an
    omitted field is kept, null clears it; nothing is stored when a field is refused. A
    customer key gets 403 for a new billing_entity, payment_terms_days or tax_exemption."""
    owner = visible_account(session, caller, account, *DETAILS_EDITORS)
    if caller.role is Role.CUSTOMER:
        _refuse_staff_fields(session, owner, body)
    set_details(session, owner, body.change(), now())
    return _details_out(session, owner)
