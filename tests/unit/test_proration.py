"""R7 plan changes inside a period and R19-R22 licences, in the pure core, to the cent."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction

import pytest

from leadbill.core.errors import RuleViolation
from leadbill.core.money import Money
from leadbill.core.periods import Interval, Period, remaining_share
from leadbill.core.plans import CountingPolicy, PlanTerms
from leadbill.core.proration import (
    Actor,
    SegmentUsage,
    SelfServeCapExceeded,
    change_fee_line,
    check_licence_count,
    downgrade_credit_lines,
    is_upgrade,
    licence_addition_line,
    preview_licences,
    segment_allowance,
    segment_overage_lines,
    split_usage_summary,
    takes_effect_at_once,
)
from leadbill.core.rating import boundary_lines, charges_in_advance


def _at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def usd(amount: str) -> Money:
    return Money.of(amount, "USD")


def package(code: str, fee: str, included: int, rate: str) -> PlanTerms:
    return PlanTerms(
        code=code,
        name=code,
        currency="USD",
        interval=Interval.MONTH,
        fee=usd(fee),
        included_leads=included,
        per_lead_rate=usd(rate),
        seat_fee=usd("0"),
        counting_policy=CountingPolicy.CALLED,
    )


def licence_plan(price: str = "1200.00", cap: int | None = 5) -> PlanTerms:
    return PlanTerms(
        code="enterprise-annual",
        name="Enterprise annual",
        currency="USD",
        interval=Interval.YEAR,
        fee=usd("0"),
        included_leads=0,
        per_lead_rate=usd("0"),
        seat_fee=usd("0"),
        counting_policy=CountingPolicy.NONE,
        licence_price=usd(price),
        licence_cap=cap,
    )


SMALL = package("pkg-100", "1000.00", 100, "9.50")
LARGE = package("pkg-200", "1800.00", 200, "8.00")
APRIL = Period(3, _at(2026, 4, 1), _at(2026, 5, 1))  # 30 days
DAY_11 = _at(2026, 4, 11)
YEAR = Period(0, _at(2026, 1, 1), _at(2027, 1, 1))


def test_r7_worked_example_in_core() -> None:
    # docs/plan-changes.md: 120 leads before the change, 150 after.
    assert remaining_share(APRIL, DAY_11) == Fraction(2, 3)
    fee = change_fee_line(SMALL, LARGE, APRIL, DAY_11)
    assert fee.amount == usd("533.33")
    assert segment_allowance(LARGE, APRIL, DAY_11) == 133
    assert segment_allowance(SMALL, APRIL, APRIL.start) == 100
    old, new = segment_overage_lines(
        APRIL,
        [
            SegmentUsage(SMALL, APRIL.start, DAY_11, 120),
            SegmentUsage(LARGE, DAY_11, APRIL.end, 150),
        ],
    )
    assert (old.quantity, old.amount) == (20, usd("190.00"))
    assert (new.quantity, new.amount) == (17, usd("136.00"))


def test_r7_upgrade_is_the_higher_fee_and_takes_effect_at_once() -> None:
    assert is_upgrade(SMALL, LARGE)
    assert not is_upgrade(LARGE, SMALL)
    assert takes_effect_at_once(SMALL, LARGE)
    assert not takes_effect_at_once(LARGE, SMALL)
    assert takes_effect_at_once(LARGE, SMALL, downgrade_immediate=True)


def test_r7_immediate_downgrade_credits_the_prorated_difference() -> None:
    line = change_fee_line(LARGE, SMALL, APRIL, DAY_11)
    assert line.amount == usd("-533.33")
    assert segment_allowance(SMALL, APRIL, DAY_11) == 66


def test_r7_downgrade_credit_is_the_rounded_difference_never_more_than_charged() -> None:
    line = change_fee_line(LARGE, SMALL, APRIL, DAY_11)
    (whole,) = downgrade_credit_lines(line, [usd("1800.00")])
    assert whole is not None
    assert (whole.amount, whole.unit_price, whole.description) == (
        usd("533.33"),
        usd("800.00"),
        line.description,
    )
    skipped, newest, oldest = downgrade_credit_lines(line, [usd("0.00"), usd("500.00"), usd("99")])
    assert skipped is None and newest is not None and oldest is not None
    assert (newest.amount, oldest.amount) == (usd("500.00"), usd("33.33"))
    assert oldest.description.endswith("; 33.33 of the 533.33 credited on this invoice")
    with pytest.raises(RuleViolation, match=r"charged 500\.00"):
        downgrade_credit_lines(line, [usd("500.00")])
    with pytest.raises(RuleViolation, match="negative"):
        downgrade_credit_lines(change_fee_line(SMALL, LARGE, APRIL, DAY_11), [usd("1800.00")])


def test_r7_change_needs_same_interval_currency_and_policy() -> None:
    yearly = replace(LARGE, interval=Interval.YEAR)
    with pytest.raises(RuleViolation, match="interval"):
        is_upgrade(SMALL, yearly)
    with pytest.raises(RuleViolation, match="already on"):
        is_upgrade(SMALL, SMALL)


def test_r7_allowance_rounds_down() -> None:
    # 2/3 of 200 is 133.33 -> 133, never 134.
    assert segment_allowance(LARGE, APRIL, DAY_11) == 133
    assert segment_allowance(LARGE, APRIL, _at(2026, 4, 30, 23, 59, 59)) == 0


def test_r19_licence_plan_charges_licences_in_advance_without_a_zero_fee_line() -> None:
    (line,) = charges_in_advance(licence_plan(), YEAR, 3)
    assert (line.kind.value, line.quantity, line.amount) == ("licences", 3, usd("3600.00"))


def test_r19_renewal_of_a_licence_plan_has_no_overage_line() -> None:
    nxt = Period(1, YEAR.end, _at(2028, 1, 1))
    lines = boundary_lines(licence_plan(), YEAR, 0, licence_plan(), nxt, licences=4)
    assert [(line.kind.value, line.amount) for line in lines] == [("licences", usd("4800.00"))]


def test_r20_two_licences_added_at_2026_07_02_cost_183_365() -> None:
    at = _at(2026, 7, 2)
    assert remaining_share(YEAR, at) == Fraction(183, 365)
    line = licence_addition_line(licence_plan(), YEAR, at, 2)
    assert line.amount == usd("1203.29")
    assert line.quantity == 2


def test_r20_preview_total_due_today_and_next_renewal() -> None:
    preview = preview_licences(licence_plan(), YEAR, _at(2026, 7, 2), 3, 3, 2, Actor.CUSTOMER)
    assert preview.total_due_today == usd("1203.29")
    assert preview.next_renewal_amount == usd("6000.00")
    assert (preview.licences_now, preview.licences_next_period) == (5, 5)


def test_r21_preview_removal_due_nothing_today() -> None:
    preview = preview_licences(licence_plan(), YEAR, _at(2026, 7, 2), 4, 4, -1, Actor.CUSTOMER)
    assert preview.total_due_today.amount == Decimal("0.00")
    assert preview.next_renewal_amount == usd("3600.00")
    assert preview.licences_now == 4


def test_r22_customer_up_to_the_cap_staff_beyond() -> None:
    plan = licence_plan(cap=5)
    check_licence_count(plan, 3, 5, Actor.CUSTOMER)
    with pytest.raises(SelfServeCapExceeded, match="staff"):
        check_licence_count(plan, 3, 6, Actor.CUSTOMER)
    check_licence_count(plan, 3, 6, Actor.STAFF)
    # Above the cap (set by staff) only staff may change the count, even downwards.
    with pytest.raises(SelfServeCapExceeded, match="staff"):
        check_licence_count(plan, 8, 7, Actor.CUSTOMER)
    check_licence_count(plan, 8, 7, Actor.STAFF)


def test_r22_cap_needs_a_licence_price_and_the_plan_currency() -> None:
    with pytest.raises(RuleViolation, match="licence_cap"):
        replace(SMALL, licence_cap=5)
    with pytest.raises(RuleViolation, match="licence_price"):
        replace(SMALL, licence_price=Money.of("10", "EUR"))


def test_r7_split_usage_summary_is_what_the_boundary_invoice_charges() -> None:
    small, large = SMALL, LARGE
    april = Period(0, _at(2026, 4, 1), _at(2026, 5, 1))
    segments = [
        SegmentUsage(small, april.start, _at(2026, 4, 11), 120),
        SegmentUsage(large, _at(2026, 4, 11), april.end, 150),
    ]
    summary = split_usage_summary(april, segments, _at(2026, 4, 30))
    assert [(s.allowance, s.overage_leads, s.overage.amount) for s in summary.segments] == [
        (100, 20, Decimal("190.00")),
        (133, 17, Decimal("136.00")),
    ]
    assert (summary.included_leads, summary.remaining_leads) == (233, 0)
    assert summary.overage_so_far.amount == Decimal("326.00")
    # 150 leads in 19 of the segment's 20 days: 157 at period end, 24 over at 8.00.
    assert summary.projected_overage.amount == Decimal("382.00")
    assert summary.projected_cost.amount == Decimal("1915.33")  # 1000 + 533.33 + 382.00
    # Before the change only the old segment is in force: its remaining leads.
    early = split_usage_summary(
        april, [replace(segments[0], counted_leads=60), segments[1]], _at(2026, 4, 5)
    )
    assert early.remaining_leads == 40
