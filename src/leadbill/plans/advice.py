"""Plan advice: what the last closed periods would have cost under each plan of the ladder.

The counted leads of every period come from one query, the billing run's own
usage query under the plan's counting policy (`billing.repository.counted_by_category`:
called, received unless excluded, contact found), so the figures are what the
invoices would have said. A period split by a plan change is priced as if the
whole period had been on each plan (its leads all count the same way: a plan
change keeps the counting policy). The ladder of a plan is every plan with the same
ladder name, currency, interval and counting policy (the same leads count the
same way under each, so one count per period serves them all); a plan without
a ladder is compared with itself only. Prices and the choice come from
`core.advice`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadbill.accounts.models import Account
from leadbill.billing import repository as usage_counts
from leadbill.billing.repository import ClosingPeriod
from leadbill.core.advice import Advice, PeriodUsage, advise, same_ladder
from leadbill.core.errors import RuleViolation
from leadbill.core.periods import Interval, Period, period_at, period_containing, require_utc
from leadbill.errors import Conflict, InvalidInput, from_rule
from leadbill.plans.models import Plan
from leadbill.plans.service import terms
from leadbill.subscriptions.models import Subscription
from leadbill.subscriptions.service import current_subscription

DEFAULT_PERIODS = 3
MAX_PERIODS = 36


@dataclass(frozen=True, slots=True)
class PlanAdvice:
    """The advice for one account as of an instant."""

    account_code: str
    time_zone: str
    as_of: datetime
    ladder: str | None
    advice: Advice


def _closed_periods(
    subscription: Subscription, account: Account, interval: Interval, as_of: datetime, count: int
) -> list[Period]:
    """The last `count` periods of the subscription that ended by `as_of`, oldest first.

    From the subscription's calendar, so periods the billing run has not closed
    yet count too; an ended subscription has no period after its end.
    """
    limit = as_of if subscription.ended_at is None else min(as_of, subscription.ended_at)
    if limit < subscription.anchor_at:
        return []
    anchor, zone = subscription.anchor_at, account.time_zone
    last = period_containing(anchor, zone, interval, limit).index - 1
    return [
        period_at(anchor, zone, interval, index)
        for index in range(max(0, last - count + 1), last + 1)
    ]


def ladder_plans(session: Session, plan: Plan) -> list[Plan]:
    """The plans `plan` can be compared with: its ladder's, same currency, interval, policy."""
    if plan.ladder is None:
        return [plan]
    current = terms(plan)
    candidates = session.scalars(
        select(Plan).where(Plan.ladder == plan.ladder).order_by(Plan.included_leads, Plan.code)
    )
    return [other for other in candidates if same_ladder(current, terms(other))]


def advise_account(
    session: Session, account: Account, *, as_of: datetime, periods: int = DEFAULT_PERIODS
) -> PlanAdvice:
    """Price the account's last `periods` closed periods under each plan of its ladder."""
    try:
        as_of = require_utc(as_of, "as_of")
    except RuleViolation as error:
        raise from_rule(error) from None
    if not 1 <= periods <= MAX_PERIODS:
        raise InvalidInput("periods", f"must be between 1 and {MAX_PERIODS}")
    subscription = current_subscription(session, account)
    plan = session.get_one(Plan, subscription.plan_id)
    closed = _closed_periods(subscription, account, Interval(plan.interval), as_of, periods)
    if not closed:
        raise Conflict(
            f"account {account.code} has no closed period before {as_of:%Y-%m-%d %H:%M} UTC; "
            "advice compares what past periods would have cost, so it needs at least one"
        )
    policy = terms(plan).counting_policy
    counts = usage_counts.counted_by_category(
        session,
        [ClosingPeriod(subscription.id, p.index, account.id, p.start, p.end) for p in closed],
        policy,
    )
    usage = []
    for p in closed:
        by_category = counts.get((subscription.id, p.index), {})
        usage.append(
            PeriodUsage(
                p,
                sum(by_category.values()),
                tuple(sorted(by_category.items(), key=lambda item: item[0] or "")),
            )
        )
    ladder = [terms(other) for other in ladder_plans(session, plan)]
    try:
        advice = advise(terms(plan), ladder, usage)
    except RuleViolation as error:
        raise from_rule(error) from None
    return PlanAdvice(account.code, account.time_zone, as_of, plan.ladder, advice)
