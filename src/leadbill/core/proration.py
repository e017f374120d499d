"""Proration: plan changes inside a period (R7) and licence changes (R20-R22).

Plan change at instant t (R7). The plan with the higher fee is the upgrade; both
plans must share currency, interval and counting policy. An upgrade takes effect
at once; a downgrade at the period end unless the operator makes downgrades
immediate. An immediate change splits the period `[start, end)` into segments
`[start, t)` on the old plan and `[t, end)` on the new one:

- the old segment keeps the old plan's full allowance; its leads beyond it are
  charged at the old plan's per-lead rate, at the period end;
- the new segment is charged (new fee - old fee) x remaining share, invoiced at
  once at t, one line rounded once; for an immediate downgrade it is negative
  and is issued as a credit note instead, against the invoices that charged the
  fee being reduced, newest charge first (`downgrade_credit_lines`);
- the new segment's allowance is the new plan's included leads x remaining
  share, rounded down to whole leads; its leads beyond it are charged at the
  new plan's per-lead rate at the period end.

The remaining share is `core.periods.remaining_share`: an exact ratio of seconds.
Several changes in one period generalise: every segment after the first gets
its own plan's prorated allowance and is charged its fee minus the previous
segment's fee, prorated from its own start.

Licences (R20-R22): an addition is charged at once, added licences x licence
price x remaining share (one line); a removal takes effect at the period end
with no refund; a customer may reach the plan's self-serve cap, only staff
may go beyond it.
"""

from __future__ import annotations

import enum
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

from leadbill.core.errors import RuleViolation
from leadbill.core.money import Money, format_money, total
from leadbill.core.periods import Period, describe_period, remaining_share, require_utc
from leadbill.core.plans import PlanTerms
from leadbill.core.rating import (
    Line,
    LineKind,
    SegmentSummary,
    UsageSummary,
    elapsed_share,
    invoice_total,
    projected,
    prorated_line,
)
from leadbill.core.wording import count_of


class Actor(enum.StrEnum):
    """Who asks for a subscription change: the customer (self-serve) or operator staff."""

    CUSTOMER = "customer"
    STAFF = "staff"


def check_plan_change(old: PlanTerms, new: PlanTerms) -> None:
    """Refuse a change between plans that cannot be compared (R7)."""
    if old.code == new.code:
        raise RuleViolation("plan", f"the subscription is already on {new.code}")
    for field in ("currency", "interval", "counting_policy"):
        if getattr(old, field) != getattr(new, field):
            raise RuleViolation(
                "plan",
                f"{new.code} has {field} {getattr(new, field)}, {old.code} has "
                f"{getattr(old, field)}; a plan change keeps the {field}",
            )
    if old.has_licences != new.has_licences:
        raise RuleViolation("plan", "a plan change cannot move between licence and lead plans")


def is_upgrade(old: PlanTerms, new: PlanTerms) -> bool:
    """An upgrade is a change to a plan with a higher fee (R7)."""
    check_plan_change(old, new)
    return old.fee < new.fee


def takes_effect_at_once(old: PlanTerms, new: PlanTerms, downgrade_immediate: bool = False) -> bool:
    """Upgrades take effect at once, downgrades at the period end unless configured (R7)."""
    return is_upgrade(old, new) or downgrade_immediate


def segment_allowance(plan: PlanTerms, period: Period, segment_start: datetime) -> int:
    """Included leads of a segment: full from the period start, else prorated, rounded down."""
    segment_start = require_utc(segment_start, "segment_start")
    if segment_start == period.start:
        return plan.included_leads
    share = remaining_share(period, segment_start)
    return math.floor(plan.included_leads * share)


def _share_text(share: Fraction) -> str:
    return f"{share.numerator}/{share.denominator}"


def change_fee_line(
    old: PlanTerms, new: PlanTerms, period: Period, at: datetime, time_zone: str = "UTC"
) -> Line:
    """The fee difference for the rest of the period, invoiced at the change (R7)."""
    check_plan_change(old, new)
    share = remaining_share(period, at)
    difference = new.fee - old.fee
    allowance = segment_allowance(new, period, at)
    return prorated_line(
        LineKind.PRORATION,
        f"Plan change {old.code} -> {new.code} at {at:%Y-%m-%d %H:%M} UTC: "
        f"({_amount(new.fee)} - {_amount(old.fee)}) x {_share_text(share)} of "
        f"{describe_period(period, time_zone)}; "
        f"{count_of(allowance, 'lead')} included to period end",
        1,
        difference,
        share,
        Period(period.index, at, period.end),
    )


def downgrade_credit_lines(fee_line: Line, available: Sequence[Money]) -> list[Line | None]:
    """Credit a negative fee difference (R7) against the invoices that charged the fee.

    `fee_line` is `change_fee_line` of an immediate downgrade (negative amount,
    rounded once); `available` is, per invoice that charged the reduced fee,
    newest charge first, what is left of that charge to credit. The credit takes
    from the newest charge first and never more than an invoice charged: one
    positive line per invoice that gives something (None for one that gives
    nothing). A line that takes the whole credit keeps the R7 description.
    """
    credit = -fee_line.amount
    if credit.amount <= 0:
        raise RuleViolation("plan", "only a negative fee difference is credited")
    left = credit
    lines: list[Line | None] = []
    for room in available:
        take = left if left <= room else room
        if take.amount <= 0:
            lines.append(None)
            continue
        described = fee_line.description
        if take != credit:
            described += (
                f"; {_amount(take.rounded())} of the {_amount(credit)} credited on this invoice"
            )
        lines.append(
            Line(
                kind=fee_line.kind,
                description=described,
                quantity=fee_line.quantity,
                unit_price=-fee_line.unit_price,
                amount=take,
                period_start=fee_line.period_start,
                period_end=fee_line.period_end,
            )
        )
        left = left - take
    if left.amount > 0:
        raise RuleViolation(
            "plan", f"the invoices of the period charged {credit - left} of a {credit} credit"
        )
    return lines


@dataclass(frozen=True, slots=True)
class SegmentUsage:
    """One segment of a closed period: its plan, its span and the leads counted in it."""

    plan: PlanTerms
    start: datetime
    end: datetime
    counted_leads: int


def segment_overage_lines(
    period: Period, segments: Sequence[SegmentUsage], time_zone: str = "UTC"
) -> list[Line]:
    """Overage of each segment of a split period at its own plan's rate (R7, R4).

    The first segment keeps its plan's full allowance; a later one has its plan's
    allowance prorated from its start and rounded down. One line per segment.
    """
    lines: list[Line] = []
    for segment in sorted(segments, key=lambda s: s.start):
        allowance = segment_allowance(segment.plan, period, segment.start)
        extra = max(0, segment.counted_leads - allowance)
        if segment.counted_leads < 0:
            raise RuleViolation("counted_leads", "must not be negative")
        lines.append(
            Line(
                kind=LineKind.OVERAGE,
                description=(
                    f"Overage {segment.plan.code} {segment.start:%Y-%m-%d %H:%M} to "
                    f"{segment.end:%Y-%m-%d %H:%M} UTC: {segment.counted_leads} leads counted, "
                    f"{allowance} included, {extra} over"
                ),
                quantity=extra,
                unit_price=segment.plan.per_lead_rate,
                amount=(segment.plan.per_lead_rate * extra).rounded(),
                period_start=segment.start,
                period_end=segment.end,
            )
        )
    return lines


def split_usage_summary(
    period: Period, segments: Sequence[SegmentUsage], as_of: datetime, time_zone: str = "UTC"
) -> UsageSummary:
    """Usage of a period split by plan changes, as the billing run will invoice it (R7).

    Each segment has its own allowance (the first its plan's full allowance, a later
    one its plan's prorated allowance) and its own overage line at its plan's rate;
    unused leads of an earlier segment do not pass to the next. The segment in force
    at `as_of` is projected at its own pace to its end; the cost is the first
    segment's fee, the change invoices and the projected overage lines.
    """
    ordered = sorted(segments, key=lambda s: s.start)
    if not ordered:
        raise RuleViolation("segments", "a period has at least one segment")
    as_of = require_utc(as_of, "as_of")
    lines = segment_overage_lines(period, ordered, time_zone)
    current = next((i for i in range(len(ordered) - 1, -1, -1) if ordered[i].start <= as_of), 0)
    ahead: list[SegmentUsage] = []
    for position, segment in enumerate(ordered):
        leads = segment.counted_leads
        if position == current:
            span = Period(period.index, segment.start, segment.end)
            leads = projected(leads, elapsed_share(span, as_of))
        ahead.append(SegmentUsage(segment.plan, segment.start, segment.end, leads))
    ahead_lines = segment_overage_lines(period, ahead, time_zone)
    currency = ordered[0].plan.currency
    fees = [ordered[0].plan.fee.rounded()] + [
        change_fee_line(before.plan, after.plan, period, after.start).amount
        for before, after in itertools.pairwise(ordered)
        if before.plan.code != after.plan.code
    ]
    summaries = tuple(
        SegmentSummary(
            plan_code=segment.plan.code,
            start=segment.start,
            end=segment.end,
            counted_leads=segment.counted_leads,
            allowance=segment_allowance(segment.plan, period, segment.start),
            overage_leads=line.quantity,
            overage=line.amount,
        )
        for segment, line in zip(ordered, lines, strict=True)
    )
    in_force = summaries[current]
    projected_overage = invoice_total(ahead_lines, currency)
    return UsageSummary(
        counted_leads=sum(s.counted_leads for s in ordered),
        included_leads=sum(s.allowance for s in summaries),
        remaining_leads=max(0, in_force.allowance - in_force.counted_leads),
        overage_leads=sum(line.quantity for line in lines),
        overage_so_far=invoice_total(lines, currency),
        projected_leads=sum(s.counted_leads for s in ahead),
        projected_overage=projected_overage,
        projected_cost=total([*fees, projected_overage], currency),
        elapsed_share=elapsed_share(period, as_of),
        segments=summaries,
    )


def check_licence_count(plan: PlanTerms, current: int, wanted: int, actor: Actor) -> None:
    """Refuse a licence count the plan or the actor does not allow (R22).

    A customer may change the count only while both the current and the wanted
    count stay within the plan's self-serve cap; staff may set any count.
    """
    if not plan.has_licences:
        raise RuleViolation("plan", f"{plan.code} is not a licence plan")
    if wanted < 0:
        raise RuleViolation("count", "licences cannot go below zero")
    cap = plan.licence_cap
    # Beyond the cap the subscription is staff-managed: a customer may neither go past
    # the cap nor change a count that staff already set past it (seed 004).
    if actor is Actor.CUSTOMER and cap is not None and max(current, wanted) > cap:
        raise SelfServeCapExceeded(cap, max(current, wanted))


class SelfServeCapExceeded(RuleViolation):
    """A customer asked for more licences than the plan's self-serve cap (R22)."""

    def __init__(self, cap: int, wanted: int) -> None:
        super().__init__(
            "count",
            f"{wanted} licences are beyond the self-serve cap of {cap}; "
            "operator staff must make this change",
        )
        self.cap = cap
        self.wanted = wanted


def licence_addition_line(
    plan: PlanTerms, period: Period, at: datetime, added: int, time_zone: str = "UTC"
) -> Line:
    """Added licences x licence price x remaining share, charged at once (R20)."""
    if plan.licence_price is None:
        raise RuleViolation("plan", f"{plan.code} is not a licence plan")
    if added <= 0:
        raise RuleViolation("count", "must be at least 1")
    share = remaining_share(period, at)
    return prorated_line(
        LineKind.LICENCES,
        f"{added} licences added at {at:%Y-%m-%d %H:%M} UTC: {added} x "
        f"{_amount(plan.licence_price)} x {_share_text(share)} of "
        f"{describe_period(period, time_zone)}",
        added,
        plan.licence_price,
        share,
        Period(period.index, require_utc(at), period.end),
    )


@dataclass(frozen=True, slots=True)
class LicencePreview:
    """What a licence change costs: due today, and the next renewal's licence amount."""

    licences_now: int
    licences_next_period: int
    total_due_today: Money
    next_renewal_amount: Money


def preview_licences(
    plan: PlanTerms,
    period: Period,
    at: datetime,
    current: int,
    next_count: int,
    change: int,
    actor: Actor,
) -> LicencePreview:
    """Preview adding (`change` > 0) or removing (`change` < 0) licences (R20-R22).

    `current` is the licence count now, `next_count` the count scheduled for the
    next period. The renewal amount is the next period's fee and licences.
    """
    if plan.licence_price is None:
        raise RuleViolation("plan", f"{plan.code} is not a licence plan")
    if change == 0:
        raise RuleViolation("count", "must not be zero")
    if change > 0:
        check_licence_count(plan, current, current + change, actor)
        due = licence_addition_line(plan, period, at, change).amount
        now, after = current + change, next_count + change
    else:
        after = next_count + change
        check_licence_count(plan, next_count, after, actor)
        due, now = Money.zero(plan.currency).rounded(), current
    renewal = (plan.licence_price * after).rounded()
    if not plan.fee.is_zero():
        renewal = renewal + plan.fee.rounded()
    return LicencePreview(now, after, due, renewal)


__all__ = [
    "Actor",
    "LicencePreview",
    "SegmentUsage",
    "SelfServeCapExceeded",
    "change_fee_line",
    "check_licence_count",
    "check_plan_change",
    "downgrade_credit_lines",
    "is_upgrade",
    "licence_addition_line",
    "preview_licences",
    "segment_allowance",
    "segment_overage_lines",
    "split_usage_summary",
    "takes_effect_at_once",
]


def _amount(money: Money) -> str:
    """An amount in a line's description, as people read it (no currency: the line has one)."""
    return format_money(money.amount, money.currency, code=False)
