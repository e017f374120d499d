"""HTTP routes of subscriptions: create, cancel and change plan (admin, billing), read;
licences (R19-R22): add now (admin, billing, and the account's customer up to the plan's
self-serve cap), preview the total due today, remove at the period end (admin, billing)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from sqlalchemy import select
from sqlalchemy.orm import Session

from leadbill.auth.dependencies import Caller, DbSession, acting_key, allow, owns, visible_account
from leadbill.auth.idempotency import LeadbillRoute
from leadbill.auth.service import STAFF_READERS, Principal, Role
from leadbill.billing.models import Invoice
from leadbill.console import now
from leadbill.errors import InvalidInput
from leadbill.pagination import DEFAULT_LIMIT, MAX_LIMIT, decode_cursor, page_info
from leadbill.password_links.service import invite_billing_contact
from leadbill.plans.service import get_plan
from leadbill.schemas import PROBLEM_RESPONSES, money
from leadbill.subscriptions import service
from leadbill.subscriptions.models import Subscription
from leadbill.subscriptions.pausing import resume_service
from leadbill.subscriptions.schemas import (
    CancelIn,
    ChangeOut,
    InvoiceRef,
    LicencePreviewOut,
    LicencesIn,
    PlanChangeIn,
    SubscriptionCreate,
    SubscriptionOut,
    SubscriptionPage,
)

router = APIRouter(
    prefix="/subscriptions",
    tags=["subscriptions"],
    route_class=LeadbillRoute,
    responses=PROBLEM_RESPONSES,
)
READERS = (*STAFF_READERS, Role.CUSTOMER)
SubscriptionId = Annotated[int, Path(ge=1, le=2**63 - 1)]
WRITERS = (Role.ADMIN, Role.BILLING)
LICENCE_BUYERS = (Role.ADMIN, Role.BILLING, Role.CUSTOMER)
TIMING: dict[str, bool | None] = {"default": None, "now": True, "period_end": False}


def _visible(
    session: Session, caller: Principal, subscription_id: int, *roles: Role
) -> Subscription:
    # Staff roles are checked first; a customer learns nothing of other accounts (404).
    if caller.role is not Role.CUSTOMER:
        allow(caller, *roles)
    subscription = service.get_subscription(session, subscription_id)
    owns(caller, subscription.account_id, f"subscription {subscription_id}")
    allow(caller, *roles)
    return subscription


@router.post("", status_code=201, response_model=SubscriptionOut)
def create_subscription(
    body: SubscriptionCreate, session: DbSession, caller: Caller
) -> SubscriptionOut:
    """Subscribe an account to a plan (admin, billing); the first fee is invoiced at once."""
    account = visible_account(session, caller, body.account, *WRITERS)
    plan = get_plan(session, body.plan)
    subscription = service.create_subscription(
        session, account=account, plan=plan, start=body.start, licences=body.licences
    )
    # A new customer contact gets a portal user and its invitation, in this transaction.
    invite_billing_contact(session, account, as_of=now())
    return SubscriptionOut.of(session, subscription)


@router.get("", response_model=SubscriptionPage)
def list_subscriptions(
    session: DbSession,
    caller: Caller,
    account: str | None = Query(None, max_length=64, description="only this account's"),
    cursor: str | None = None,
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
) -> SubscriptionPage:
    """Subscriptions, oldest first (by id); a customer key sees only its account's."""
    allow(caller, *READERS)
    after = decode_cursor(cursor, int)
    query = select(Subscription).order_by(Subscription.id).limit(limit)
    if account is not None:
        owner = visible_account(session, caller, account, *READERS)
        query = query.where(Subscription.account_id == owner.id)
    elif caller.role is Role.CUSTOMER:
        query = query.where(Subscription.account_id == caller.account_id)
    if after is not None:
        query = query.where(Subscription.id > after)
    rows = list(session.scalars(query))
    return SubscriptionPage(
        data=[SubscriptionOut.of(session, s) for s in rows],
        page=page_info(rows, limit, lambda s: s.id),
    )


@router.get("/{subscription_id}", response_model=SubscriptionOut)
def get_subscription(
    subscription_id: SubscriptionId, session: DbSession, caller: Caller
) -> SubscriptionOut:
    """One subscription by id."""
    subscription = _visible(session, caller, subscription_id, *READERS)
    return SubscriptionOut.of(session, subscription)


@router.post("/{subscription_id}/cancel", response_model=SubscriptionOut)
def cancel_subscription(
    subscription_id: SubscriptionId,
    session: DbSession,
    caller: Caller,
    body: CancelIn | None = None,
) -> SubscriptionOut:
    """Cancel as of `at` (default now), effective at the end of the period it falls in
    (admin, billing); `ends_at` says when. Again changes nothing."""
    subscription = _visible(session, caller, subscription_id, *WRITERS)
    clock = now()
    at = body.at if body is not None and body.at is not None else clock
    cancelled = service.cancel_subscription(
        session, subscription, at, by=acting_key(session, caller), clock=clock
    )
    return SubscriptionOut.of(session, cancelled)


@router.post("/{subscription_id}/resume", response_model=SubscriptionOut)
def resume_subscription(
    subscription_id: SubscriptionId, session: DbSession, caller: Caller
) -> SubscriptionOut:
    """Resume a subscription whose service dunning paused (admin, billing): the account's
    lead events are taken again. 409 when it is not paused."""
    subscription = _visible(session, caller, subscription_id, *WRITERS)
    return SubscriptionOut.of(session, resume_service(session, subscription))


def _invoice_ref(invoice: Invoice | None) -> InvoiceRef | None:
    if invoice is None:
        return None
    return InvoiceRef(
        number=invoice.number or str(invoice.id), total=money(invoice.total, invoice.currency)
    )


def _change_out(session: Session, result: service.ChangeResult) -> ChangeOut:
    subscription = service.get_subscription(session, result.change.subscription_id)
    return ChangeOut(
        subscription=SubscriptionOut.of(session, subscription),
        kind=result.change.kind,
        requested_at=result.change.requested_at,
        effective_at=result.change.effective_at,
        immediate=result.immediate,
        invoice=_invoice_ref(result.invoice),
    )


def _instant(caller: Principal, at: datetime | None) -> datetime:
    """The instant of a change: now, or the one staff chose."""
    if at is None:
        return now()
    if caller.role is Role.CUSTOMER:
        raise InvalidInput("at", "only operator staff may choose the instant of a change")
    return at


def _actor(caller: Principal) -> str:
    return "customer" if caller.role is Role.CUSTOMER else "staff"


@router.post("/{subscription_id}/change-plan", response_model=ChangeOut)
def change_plan(
    subscription_id: SubscriptionId, body: PlanChangeIn, session: DbSession, caller: Caller
) -> ChangeOut:
    """Change plan inside the period (admin, billing): an upgrade at once, with a prorated
    "change" invoice; a downgrade at the period end (R7)."""
    subscription = _visible(session, caller, subscription_id, *WRITERS)
    result = service.change_plan(
        session,
        subscription,
        get_plan(session, body.plan),
        _instant(caller, body.at),
        immediate=TIMING[body.timing],
    )
    return _change_out(session, result)


@router.post("/{subscription_id}/licences", response_model=ChangeOut)
def add_licences(
    subscription_id: SubscriptionId, body: LicencesIn, session: DbSession, caller: Caller
) -> ChangeOut:
    """Add licences now, invoiced at once prorated to the rest of the period (R20).

    The account's customer key may add licences up to the plan's self-serve cap;
    beyond it the refusal (403) says that operator staff must make the change (R22).
    """
    subscription = _visible(session, caller, subscription_id, *LICENCE_BUYERS)
    result = service.add_licences(
        session, subscription, body.count, _instant(caller, body.at), actor=_actor(caller)
    )
    return _change_out(session, result)


@router.post("/{subscription_id}/licences/removals", response_model=ChangeOut)
def remove_licences(
    subscription_id: SubscriptionId, body: LicencesIn, session: DbSession, caller: Caller
) -> ChangeOut:
    """Remove licences at the end of the period, with no refund (admin, billing) (R21)."""
    subscription = _visible(session, caller, subscription_id, *WRITERS)
    result = service.remove_licences(
        session, subscription, body.count, _instant(caller, body.at), actor="staff"
    )
    return _change_out(session, result)


@router.get("/{subscription_id}/licences/preview", response_model=LicencePreviewOut)
def preview_licences(
    subscription_id: SubscriptionId,
    session: DbSession,
    caller: Caller,
    change: int = Query(
        ge=-1_000_000,
        le=1_000_000,
        description="licences to add (positive) or remove (negative)",
    ),
) -> LicencePreviewOut:
    """The total due today and the next renewal amount of a licence change; changes nothing.

    For a customer key the self-serve cap applies, as it would to the change itself.
    """
    subscription = _visible(session, caller, subscription_id, *READERS)
    preview = service.preview_licence_change(
        session, subscription, change, now(), actor=_actor(caller)
    )
    return LicencePreviewOut.of(preview)
