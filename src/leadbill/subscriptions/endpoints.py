"""HTTP routes of subscriptions: create and cancel (admin, billing), read."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from sqlalchemy.orm import Session

from leadbill.accounts.models import Account
from leadbill.auth.dependencies import Caller, DbSession, allow, owns, visible_account
from leadbill.auth.idempotency import LeadbillRoute
from leadbill.auth.service import STAFF_READERS, Principal, Role
from leadbill.console import now
from leadbill.plans.models import Plan
from leadbill.plans.service import get_plan
from leadbill.schemas import PROBLEM_RESPONSES
from leadbill.subscriptions import service
from leadbill.subscriptions.models import Subscription
from leadbill.subscriptions.schemas import PeriodOut, SubscriptionCreate, SubscriptionOut

router = APIRouter(
    prefix="/subscriptions",
    tags=["subscriptions"],
    route_class=LeadbillRoute,
    responses=PROBLEM_RESPONSES,
)
READERS = (*STAFF_READERS, Role.CUSTOMER)
SubscriptionId = Annotated[int, Path(ge=1, le=2**63 - 1)]
WRITERS = (Role.ADMIN, Role.BILLING)


def _out(session: Session, subscription: Subscription) -> SubscriptionOut:
    account = session.get_one(Account, subscription.account_id)
    plan = session.get_one(Plan, subscription.plan_id)
    return SubscriptionOut(
        id=subscription.id,
        account=account.code,
        plan=plan.code,
        status=subscription.status,
        current_period=PeriodOut(
            index=subscription.current_period_index,
            start=subscription.current_period_start,
            end=subscription.current_period_end,
        ),
        cancel_at_period_end=subscription.cancel_at_period_end,
        cancel_requested_at=subscription.cancel_requested_at,
        ended_at=subscription.ended_at,
        created_at=subscription.created_at,
    )


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
        session, account=account, plan=plan, start=body.start
    )
    return _out(session, subscription)


@router.get("/{subscription_id}", response_model=SubscriptionOut)
def get_subscription(
    subscription_id: SubscriptionId, session: DbSession, caller: Caller
) -> SubscriptionOut:
    """One subscription by id."""
    subscription = _visible(session, caller, subscription_id, *READERS)
    return _out(session, subscription)


@router.post("/{subscription_id}/cancel", response_model=SubscriptionOut)
def cancel_subscription(
    subscription_id: SubscriptionId, session: DbSession, caller: Caller
) -> SubscriptionOut:
    """Cancel at the end of the current period (admin, billing); again changes nothing."""
    subscription = _visible(session, caller, subscription_id, *WRITERS)
    return _out(session, service.cancel_subscription(session, subscription, now()))
