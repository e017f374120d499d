"""Subscription use cases: start, cancel at period end, read periods."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadbill.accounts.models import Account
from leadbill.billing.invoices import issue_invoice
from leadbill.core.errors import RuleViolation
from leadbill.core.periods import Interval, Period, period_at, require_utc
from leadbill.core.rating import fee_in_advance
from leadbill.errors import Conflict, InvalidInput, NotFound, from_rule
from leadbill.plans.models import Plan
from leadbill.plans.service import terms
from leadbill.subscriptions.models import Subscription, SubscriptionPeriod, SubscriptionSegment


def period_of(subscription: Subscription, account: Account, plan: Plan, index: int) -> Period:
    """Period number `index` of the subscription, from the core's calendar."""
    return period_at(subscription.anchor_at, account.time_zone, Interval(plan.interval), index)


def open_period_rows(
    subscription: Subscription, account_id: int, plan_id: int, period: Period
) -> tuple[dict[str, object], dict[str, object]]:
    """Rows recording an opened period and its first segment."""
    common = {
        "account_id": account_id,
        "subscription_id": subscription.id,
        "period_index": period.index,
        "start": period.start,
        "end": period.end,
    }
    return common, {**common, "plan_id": plan_id}


def create_subscription(
    session: Session, *, account: Account, plan: Plan, start: datetime
) -> Subscription:
    """Put an account on a plan from `start`; the first period's fee is invoiced at once (R1)."""
    try:
        start = require_utc(start, "start")
    except RuleViolation as error:
        raise from_rule(error) from None
    if plan.currency != account.currency:
        raise InvalidInput(
            "plan", f"plan {plan.code} is in {plan.currency}, account is in {account.currency}"
        )
    active = session.scalar(
        select(Subscription.id).where(
            Subscription.account_id == account.id, Subscription.status == "active"
        )
    )
    if active is not None:
        raise Conflict(f"account {account.code} already has an active subscription ({active})")
    subscription = Subscription(
        account_id=account.id,
        plan_id=plan.id,
        status="active",
        anchor_at=start,
        current_period_index=0,
        current_period_start=start,
        current_period_end=start,
        cancel_at_period_end=False,
        created_at=start,
    )
    first = period_of(subscription, account, plan, 0)
    subscription.current_period_end = first.end
    session.add(subscription)
    session.flush()
    period_row, segment_row = open_period_rows(subscription, account.id, plan.id, first)
    session.add(SubscriptionPeriod(**period_row))
    session.add(SubscriptionSegment(**segment_row))
    issue_invoice(
        session,
        account_id=account.id,
        currency=account.currency,
        lines=[fee_in_advance(terms(plan), first, account.time_zone)],
        issued_at=first.start,
        kind="period",
        subscription_id=subscription.id,
        boundary_index=0,
    )
    return subscription


def cancel_subscription(
    session: Session, subscription: Subscription, as_of: datetime
) -> Subscription:
    """Cancel at the end of the current period (R6); the final invoice carries its overage."""
    if subscription.status != "active":
        raise Conflict(f"subscription {subscription.id} has already ended")
    if subscription.cancel_at_period_end:
        return subscription
    subscription.cancel_at_period_end = True
    subscription.cancel_requested_at = require_utc(as_of, "as_of")
    session.flush()
    return subscription


def get_subscription(session: Session, subscription_id: int) -> Subscription:
    """A subscription by id."""
    subscription = session.get(Subscription, subscription_id)
    if subscription is None:
        raise NotFound(f"subscription {subscription_id} does not exist")
    return subscription


def current_subscription(session: Session, account: Account) -> Subscription:
    """The account's active subscription, or else its most recent one."""
    subscription = session.scalar(
        select(Subscription)
        .where(Subscription.account_id == account.id)
        .order_by((Subscription.status == "active").desc(), Subscription.id.desc())
        .limit(1)
    )
    if subscription is None:
        raise NotFound(f"account {account.code} has no subscription")
    return subscription


def periods(session: Session, subscription_id: int) -> list[SubscriptionPeriod]:
    """The periods opened so far, oldest first."""
    return list(
        session.scalars(
            select(SubscriptionPeriod)
            .where(SubscriptionPeriod.subscription_id == subscription_id)
            .order_by(SubscriptionPeriod.period_index)
        )
    )
