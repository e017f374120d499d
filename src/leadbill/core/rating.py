"""Rating: usage and plan terms to invoice lines.

The plan fee is charged in advance at the start of each period (R1); counted
leads beyond the included leads are charged at the plan's per-lead rate at the
end of the period (R4); unused included leads expire (R5).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, localcontext
from fractions import Fraction

from leadbill.core.errors import RuleViolation
from leadbill.core.money import Money, total
from leadbill.core.periods import Period, describe_period, require_utc
from leadbill.core.plans import CountingPolicy, PlanTerms
from leadbill.core.wording import count_of


class LineKind(enum.StrEnum):
    """What an invoice line charges for."""

    PLAN_FEE = "plan_fee"
    OVERAGE = "overage"
    SEAT_FEE = "seat_fee"
    LEADS = "leads"
    LICENCES = "licences"
    PRORATION = "proration"
    # R15: a credit note applied to a later invoice, as a negative line.
    CREDIT = "credit"


@dataclass(frozen=True, slots=True)
class Line:
    """One invoice line; `amount` is rounded once, here, and never again."""

    kind: LineKind
    description: str
    quantity: int
    unit_price: Money
    amount: Money
    period_start: datetime | None = None
    period_end: datetime | None = None
    # Tax (core.tax): the EN 16931 category, the rate in percent and the line's tax,
    # rounded once. A line without a category carries no tax.
    tax_category: str | None = None
    tax_rate: Decimal = Decimal(0)
    tax: Money | None = None

    @property
    def tax_or_zero(self) -> Money:
        """The line's tax, zero when it carries none."""
        return self.tax if self.tax is not None else Money.zero(self.amount.currency)

    @property
    def gross(self) -> Money:
        """Net amount plus tax."""
        return self.amount + self.tax_or_zero


def _line(
    kind: LineKind,
    description: str,
    quantity: int,
    unit_price: Money,
    period: Period | None = None,
) -> Line:
    return Line(
        kind=kind,
        description=description,
        quantity=quantity,
        unit_price=unit_price,
        amount=(unit_price * quantity).rounded(),
        period_start=period.start if period else None,
        period_end=period.end if period else None,
    )


def prorated_line(
    kind: LineKind,
    description: str,
    quantity: int,
    unit_price: Money,
    share: Fraction,
    period: Period | None = None,
) -> Line:
    """A line of quantity x unit price x an exact share of a period, rounded once.

    The product is exact (the share is a ratio of seconds, so the quotient either
    terminates or stays far from a half-unit tie) until the one rounding of the line.
    """
    with localcontext() as context:
        context.prec = 60
        exact = unit_price.amount * quantity * share.numerator / share.denominator
    return Line(
        kind=kind,
        description=description,
        quantity=quantity,
        unit_price=unit_price,
        amount=Money(exact, unit_price.currency).rounded(),
        period_start=period.start if period else None,
        period_end=period.end if period else None,
    )


def licence_fee_in_advance(
    plan: PlanTerms, period: Period, licences: int, time_zone: str = "UTC"
) -> Line:
    """Licence price x licences for `period`, invoiced at its start (R19)."""
    if plan.licence_price is None:
        raise RuleViolation("plan", f"{plan.code} has no licence price")
    if licences < 0:
        raise RuleViolation("licences", "must not be negative")
    return _line(
        LineKind.LICENCES,
        f"{plan.name}: {licences} licences, {describe_period(period, time_zone)}",
        licences,
        plan.licence_price,
        period,
    )


def charges_in_advance(
    plan: PlanTerms, period: Period, licences: int = 0, time_zone: str = "UTC"
) -> list[Line]:
    """Everything charged at the start of `period`: the fee (R1) and the licences (R19).

    A pure licence plan (fee zero) carries only its licence line.
    """
    lines: list[Line] = []
    if not plan.has_licences or not plan.fee.is_zero():
        lines.append(fee_in_advance(plan, period, time_zone))
    if plan.has_licences:
        lines.append(licence_fee_in_advance(plan, period, licences, time_zone))
    return lines


def fee_in_advance(plan: PlanTerms, period: Period, time_zone: str = "UTC") -> Line:
    """The plan fee for `period`, invoiced at its start (R1); dates read in `time_zone`."""
    return _line(
        LineKind.PLAN_FEE,
        f"{plan.name}: {count_of(plan.included_leads, 'lead')}, "
        f"{describe_period(period, time_zone)}",
        1,
        plan.fee,
        period,
    )


def overage_leads(plan: PlanTerms, counted_leads: int) -> int:
    """Counted leads beyond the plan's included leads (R4)."""
    if counted_leads < 0:
        raise RuleViolation("counted_leads", "must not be negative")
    return max(0, counted_leads - plan.included_leads)


def overage_in_arrears(
    plan: PlanTerms, period: Period, counted_leads: int, time_zone: str = "UTC"
) -> Line:
    """The overage of a closed period at the plan's per-lead rate (R4, R5)."""
    extra = overage_leads(plan, counted_leads)
    return _line(
        LineKind.OVERAGE,
        f"Overage {describe_period(period, time_zone)}: "
        f"{count_of(counted_leads, 'lead')} counted, "
        f"{plan.included_leads} included, {extra} over",
        extra,
        plan.per_lead_rate,
        period,
    )


def charges_per_lead(plan: PlanTerms) -> bool:
    """Pay per lead (seed 002): every counted lead is charged, by category, no allowance."""
    return (
        plan.counting_policy is CountingPolicy.RECEIVED_UNLESS_EXCLUDED and plan.included_leads == 0
    )


def leads_in_arrears(
    plan: PlanTerms,
    period: Period,
    counted_by_category: Mapping[str | None, int],
    time_zone: str = "UTC",
) -> list[Line]:
    """Pay per lead (R10): one line per category, quantity x category price, in arrears.

    Leads of a category without a price (or without a category) are charged the
    per-lead rate on one line; a period without leads gives one line of 0 leads.
    """
    when = describe_period(period, time_zone)
    priced = {name for name, _price in plan.category_prices}
    quantities: dict[str | None, int] = {}
    for category, count in counted_by_category.items():
        if count < 0:
            raise RuleViolation("counted_leads", "must not be negative")
        key = category if category in priced else None
        quantities[key] = quantities.get(key, 0) + count
    lines = [
        _line(
            LineKind.LEADS,
            f"Leads {when}: {category}, {count_of(count, 'lead')}",
            count,
            plan.lead_price(category),
            period,
        )
        for category, count in sorted((c, n) for c, n in quantities.items() if c and n)
    ]
    other = quantities.get(None, 0)
    if other or not lines:
        lines.append(
            _line(
                LineKind.LEADS,
                f"Leads {when}: {count_of(other, 'lead')}",
                other,
                plan.per_lead_rate,
                period,
            )
        )
    return lines


def boundary_lines(
    closing_plan: PlanTerms,
    closing_period: Period,
    counted_leads: int,
    next_plan: PlanTerms | None,
    next_period: Period | None,
    time_zone: str = "UTC",
    counted_by_category: Mapping[str | None, int] | None = None,
    licences: int = 0,
) -> list[Line]:
    """Lines due at a period boundary: the closed period's leads or overage, then the next fee.

    A pay-per-lead plan without included leads charges its counted leads by
    category (`counted_by_category`, default all uncategorised); a pure licence
    plan (counting no leads) has no usage line; any other plan
    charges the overage beyond its included leads. The next period's charges
    include `licences` x the licence price on a licence plan (R19).
    """
    if charges_per_lead(closing_plan):
        by_category: Mapping[str | None, int] = (
            counted_by_category if counted_by_category is not None else {None: counted_leads}
        )
        lines = leads_in_arrears(closing_plan, closing_period, by_category, time_zone)
    elif closing_plan.has_licences and closing_plan.counting_policy is CountingPolicy.NONE:
        lines = []
    else:
        lines = [overage_in_arrears(closing_plan, closing_period, counted_leads, time_zone)]
    if next_plan is not None and next_period is not None:
        lines.extend(charges_in_advance(next_plan, next_period, licences, time_zone))
    return lines


def seat_fee(plan: PlanTerms, seat_label: str) -> Line:
    """The one-time fee of a new seat, invoiced at once (R8)."""
    return _line(LineKind.SEAT_FEE, f"Seat fee: {seat_label}", 1, plan.seat_fee)


def invoice_total(lines: list[Line], currency: str) -> Money:
    """The invoice total: the sum of its rounded lines and their rounded taxes."""
    return total([line.gross for line in lines], currency)


@dataclass(frozen=True, slots=True)
class SegmentSummary:
    """One segment of a period split by a plan change (R7), as the billing run rates it."""

    plan_code: str
    start: datetime
    end: datetime
    counted_leads: int
    allowance: int
    overage_leads: int
    overage: Money


@dataclass(frozen=True, slots=True)
class UsageSummary:
    """Where a subscription stands in its current period.

    For a period split by a plan change, `included_leads` is the sum of the segments'
    allowances, `remaining_leads` what is left in the segment in force, and the
    overage the sum of the segments' overage lines (`segments`). For a pay-per-lead
    plan the "overage" is the charge of every counted lead, by category.
    """

    counted_leads: int
    included_leads: int
    remaining_leads: int
    overage_leads: int
    overage_so_far: Money
    projected_leads: int
    projected_overage: Money
    projected_cost: Money
    elapsed_share: Fraction
    segments: tuple[SegmentSummary, ...] = ()


def elapsed_share(period: Period, as_of: datetime) -> Fraction:
    """The share of `period` elapsed at `as_of` (0 before it, 1 after it), exact."""
    as_of = require_utc(as_of, "as_of")
    elapsed = min(max(as_of, period.start), period.end) - period.start
    return Fraction(int(elapsed.total_seconds()), period.seconds)


def projected(counted_leads: int, share: Fraction) -> int:
    """Leads at period end if the pace so far holds: whole leads, rounded down."""
    if share == 0:
        return counted_leads
    return max(counted_leads, int(Fraction(counted_leads) / share))


def usage_summary(
    plan: PlanTerms,
    period: Period,
    counted_leads: int,
    as_of: datetime,
    counted_by_category: Mapping[str | None, int] | None = None,
) -> UsageSummary:
    """Usage so far and the projected cost if the current pace holds to period end.

    A pay-per-lead plan (no allowance) charges every counted lead at its category
    price (`counted_by_category`, R10), exactly the lines of the boundary invoice.
    """
    share = elapsed_share(period, as_of)
    projected_leads = projected(counted_leads, share)
    if charges_per_lead(plan):
        by_category = counted_by_category or {None: counted_leads}
        ahead = {category: projected(n, share) for category, n in by_category.items()}
        charged = invoice_total(leads_in_arrears(plan, period, by_category), plan.currency)
        charged_ahead = invoice_total(leads_in_arrears(plan, period, ahead), plan.currency)
        return UsageSummary(
            counted_leads=counted_leads,
            included_leads=0,
            remaining_leads=0,
            overage_leads=counted_leads,
            overage_so_far=charged,
            projected_leads=sum(ahead.values()),
            projected_overage=charged_ahead,
            projected_cost=plan.fee.rounded() + charged_ahead,
            elapsed_share=share,
        )
    over_now = overage_leads(plan, counted_leads)
    over_projected = overage_leads(plan, projected_leads)
    overage_now = (plan.per_lead_rate * over_now).rounded()
    overage_projected = (plan.per_lead_rate * over_projected).rounded()
    return UsageSummary(
        counted_leads=counted_leads,
        included_leads=plan.included_leads,
        remaining_leads=max(0, plan.included_leads - counted_leads),
        overage_leads=over_now,
        overage_so_far=overage_now,
        projected_leads=projected_leads,
        projected_overage=overage_projected,
        projected_cost=plan.fee.rounded() + overage_projected,
        elapsed_share=share,
    )
