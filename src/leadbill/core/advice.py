"""Plan advice: what past periods would have cost under each plan of a ladder.

Each period is priced exactly as the billing run prices it: the fee line of
`core.rating.fee_in_advance` and the overage line of `core.rating.overage_in_arrears`,
each rounded once. Leads lost to expiry are included leads left unused (R5).

The recommendation is the plan with the lowest total. On a tie the current plan
stays recommended (a change would save nothing); between other tied plans the
one with more included leads wins (the same money buys more headroom), then the
plan code, so the advice is deterministic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from leadbill.core.errors import RuleViolation
from leadbill.core.money import Money, total
from leadbill.core.periods import Interval, Period
from leadbill.core.plans import PlanTerms
from leadbill.core.rating import (
    charges_per_lead,
    fee_in_advance,
    leads_in_arrears,
    overage_in_arrears,
)


@dataclass(frozen=True, slots=True)
class PeriodUsage:
    """The leads counted in one closed period (by category for pay-per-lead prices)."""

    period: Period
    counted_leads: int
    by_category: tuple[tuple[str | None, int], ...] = ()


@dataclass(frozen=True, slots=True)
class PeriodCost:
    """What one period would have cost under one plan."""

    period: Period
    counted_leads: int
    fee: Money
    overage_leads: int
    overage: Money
    total: Money
    lost_leads: int


@dataclass(frozen=True, slots=True)
class PlanCost:
    """What the periods would have cost under one plan, period by period and in total."""

    plan: PlanTerms
    periods: tuple[PeriodCost, ...]
    total: Money
    lost_leads: int


@dataclass(frozen=True, slots=True)
class Advice:
    """Every plan of the ladder priced on the same usage, and the one to choose."""

    current: PlanCost
    options: tuple[PlanCost, ...]
    recommended: PlanCost
    reasoning: str


def period_cost(plan: PlanTerms, usage: PeriodUsage) -> PeriodCost:
    """Fee plus overage (or per-lead charges) of one period under `plan`, lines rounded once."""
    fee = fee_in_advance(plan, usage.period).amount
    if charges_per_lead(plan):
        # Pay per lead (R10): every counted lead at its category price, as invoiced.
        by_category = dict(usage.by_category) or {None: usage.counted_leads}
        lines = leads_in_arrears(plan, usage.period, by_category)
        charged, quantity = (
            total([line.amount for line in lines], plan.currency),
            sum(line.quantity for line in lines),
        )
    else:
        overage = overage_in_arrears(plan, usage.period, usage.counted_leads)
        charged, quantity = overage.amount, overage.quantity
    return PeriodCost(
        period=usage.period,
        counted_leads=usage.counted_leads,
        fee=fee,
        overage_leads=quantity,
        overage=charged,
        total=total([fee, charged], plan.currency),
        lost_leads=max(0, plan.included_leads - usage.counted_leads),
    )


def plan_cost(plan: PlanTerms, usage: Sequence[PeriodUsage]) -> PlanCost:
    """What the given periods would have cost under `plan`."""
    periods = tuple(period_cost(plan, item) for item in usage)
    return PlanCost(
        plan=plan,
        periods=periods,
        total=total([cost.total for cost in periods], plan.currency),
        lost_leads=sum(cost.lost_leads for cost in periods),
    )


def same_ladder(current: PlanTerms, other: PlanTerms) -> bool:
    """True when `other` can be compared with `current`: same currency, interval, policy."""
    return (
        other.currency == current.currency
        and other.interval == current.interval
        and other.counting_policy == current.counting_policy
    )


def _amount(money: Money) -> str:
    return str(money)


def _periods_text(count: int, interval: Interval) -> str:
    return f"{count} {interval.value if count == 1 else interval.value + 's'}"


def _usage_text(usage: Sequence[PeriodUsage], interval: Interval) -> str:
    counts = [item.counted_leads for item in usage]
    low, high = min(counts), max(counts)
    spread = str(low) if low == high else f"{low}\u2013{high}"
    return f"you used {spread} leads a {interval.value}"


def advise(current: PlanTerms, ladder: Sequence[PlanTerms], usage: Sequence[PeriodUsage]) -> Advice:
    """Price `usage` under `current` and every plan of its ladder; recommend the cheapest."""
    if not usage:
        raise RuleViolation("periods", "advice needs at least one closed period")
    for plan in ladder:
        if not same_ladder(current, plan):
            raise RuleViolation(
                "ladder", f"plan {plan.code} cannot be compared with {current.code}"
            )
    plans = {plan.code: plan for plan in ladder}
    plans[current.code] = current
    costs = [plan_cost(plan, usage) for plan in plans.values()]

    def rank(cost: PlanCost) -> tuple[object, ...]:
        return (
            cost.total.amount,
            cost.plan.code != current.code,
            -cost.plan.included_leads,
            cost.plan.code,
        )

    options = tuple(sorted(costs, key=rank))
    mine = next(cost for cost in costs if cost.plan.code == current.code)
    best = options[0]
    spans = _periods_text(len(usage), current.interval)
    used = _usage_text(usage, current.interval)
    if best is not mine:
        saving = mine.total - best.total
        reasoning = (
            f"{best.plan.code} would have cost {_amount(best.total)} over {spans}, "
            f"{_amount(saving)} less than your {current.code}; {used}"
        )
    elif len(options) == 1:
        reasoning = (
            f"your {current.code} is the only plan of its ladder: {_amount(mine.total)} "
            f"over {spans}; {used}"
        )
    else:
        runner = options[1]
        reasoning = (
            f"your {current.code} is the cheapest: {_amount(mine.total)} over {spans}, "
            f"{_amount(runner.total - mine.total)} less than {runner.plan.code}; {used}"
        )
    return Advice(current=mine, options=options, recommended=best, reasoning=reasoning)
