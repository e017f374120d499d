"""Rating: plan fee in advance, overage in arrears, seat fees, usage so far."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction

import pytest

from leadbill.core.errors import RuleViolation
from leadbill.core.money import Money
from leadbill.core.periods import Interval, Period, period_at
from leadbill.core.plans import CountingPolicy, PlanTerms
from leadbill.core.rating import (
    LineKind,
    boundary_lines,
    fee_in_advance,
    invoice_total,
    overage_in_arrears,
    overage_leads,
    seat_fee,
    usage_summary,
)
from leadbill.core.wording import count_of
from tests.unit.sample_plans import prepaid_plan

PLAN = prepaid_plan()


def utc(*parts: int) -> datetime:
    """A UTC instant from year, month, day[, hour, minute, second]."""
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def month(year: int, month: int) -> Period:
    return period_at(utc(year, month, 1), "UTC", Interval.MONTH, 0)


JANUARY = month(2026, 1)
FEBRUARY = period_at(utc(2026, 1, 1), "UTC", Interval.MONTH, 1)


# --- R1: the fee is bought in advance -----------------------------------------------------


def test_r1_plan_fee_is_one_line_for_the_coming_period() -> None:
    line = fee_in_advance(PLAN, JANUARY)
    assert line.kind is LineKind.PLAN_FEE
    assert line.quantity == 1
    assert line.unit_price == Money.of("1000.00", "USD")
    assert line.amount.amount == Decimal("1000.00")
    assert (line.period_start, line.period_end) == (utc(2026, 1, 1), utc(2026, 2, 1))
    assert "100 leads" in line.description
    assert "2026-01-01" in line.description


def test_r1_plan_fee_is_rounded_once_to_the_currency() -> None:
    plan = prepaid_plan(fee="999.995")
    assert fee_in_advance(plan, JANUARY).amount.amount == Decimal("1000.00")
    yen = prepaid_plan(currency="JPY", fee="98000", per_lead_rate="950", seat_fee="5700")
    assert str(fee_in_advance(yen, JANUARY).amount) == "98,000 JPY"  # no digit dropped


# --- R4: overage at the plan's per-lead rate, in arrears ----------------------------------


def test_r4_overage_at_plan_rate() -> None:
    line = overage_in_arrears(PLAN, JANUARY, 130)
    assert line.kind is LineKind.OVERAGE
    assert line.quantity == 30
    assert line.unit_price.amount == Decimal("9.50")
    assert line.amount.amount == Decimal("285.00")
    assert line.amount.currency == "USD"
    assert (line.period_start, line.period_end) == (JANUARY.start, JANUARY.end)
    assert "130 leads counted, 100 included, 30 over" in line.description


def test_line_descriptions_say_one_lead_and_many_leads() -> None:
    assert (
        "1 lead counted, 100 included, 0 over" in overage_in_arrears(PLAN, JANUARY, 1).description
    )
    assert "0 leads counted" in overage_in_arrears(PLAN, JANUARY, 0).description
    assert count_of(1, "lead") == "1 lead"
    assert count_of(2, "licence") == "2 licences"
    assert count_of(0, "entry", "entries") == "0 entries"


def test_r4_overage_starts_with_the_first_lead_beyond_the_package() -> None:
    assert overage_leads(PLAN, 100) == 0
    assert overage_leads(PLAN, 101) == 1
    assert overage_in_arrears(PLAN, JANUARY, 101).amount.amount == Decimal("9.50")


def test_r4_overage_line_is_rounded_half_up_once() -> None:
    # 3 leads at 0.125 = 0.375 exactly; one rounding gives 0.38 (three would give 0.39).
    plan = prepaid_plan(included_leads=0, per_lead_rate="0.125")
    assert overage_in_arrears(plan, JANUARY, 3).amount.amount == Decimal("0.38")
    kwd = prepaid_plan(currency="KWD", per_lead_rate="1.0005", fee="300.000", seat_fee="17.500")
    assert overage_in_arrears(kwd, JANUARY, 101).amount.amount == Decimal("1.001")


def test_r4_negative_counted_leads_are_refused() -> None:
    with pytest.raises(RuleViolation) as error:
        overage_leads(PLAN, -1)
    assert error.value.field == "counted_leads"


# --- R5: unused leads expire --------------------------------------------------------------


def test_r5_unused_leads_expire_nothing_is_credited() -> None:
    line = overage_in_arrears(PLAN, JANUARY, 40)
    assert line.quantity == 0
    assert line.amount.amount == Decimal("0.00")
    assert overage_leads(PLAN, 40) == 0


def test_r5_nothing_rolls_over_into_the_next_period() -> None:
    # A quiet January (40 of 100) and a busy February (130): February's overage is
    # 30 leads, not 130 - (100 + 60) = 0, and its fee is the full fee.
    quiet = boundary_lines(PLAN, JANUARY, 40, PLAN, FEBRUARY)
    busy = boundary_lines(PLAN, FEBRUARY, 130, None, None)
    assert [line.amount.amount for line in quiet] == [Decimal("0.00"), Decimal("1000.00")]
    assert [line.amount.amount for line in busy] == [Decimal("285.00")]


# --- R6: boundaries, renewal and the final invoice ----------------------------------------


def test_r6_boundary_carries_closing_overage_then_next_fee() -> None:
    lines = boundary_lines(PLAN, JANUARY, 130, PLAN, FEBRUARY)
    assert [line.kind for line in lines] == [LineKind.OVERAGE, LineKind.PLAN_FEE]
    overage, fee = lines
    assert (overage.period_start, overage.period_end) == (utc(2026, 1, 1), utc(2026, 2, 1))
    assert (fee.period_start, fee.period_end) == (utc(2026, 2, 1), utc(2026, 3, 1))
    assert invoice_total(lines, "USD").amount == Decimal("1285.00")


def test_r6_final_invoice_after_cancellation_still_carries_the_overage() -> None:
    lines = boundary_lines(PLAN, JANUARY, 130, None, None)
    assert [line.kind for line in lines] == [LineKind.OVERAGE]
    assert invoice_total(lines, "USD").amount == Decimal("285.00")


def test_r6_no_next_fee_without_a_next_period() -> None:
    assert len(boundary_lines(PLAN, JANUARY, 0, PLAN, None)) == 1


def test_r7_overage_before_a_change_is_billed_at_the_old_rate() -> None:
    upgrade = prepaid_plan(code="pkg-200", fee="1800.00", included_leads=200, per_lead_rate="8.00")
    overage, fee = boundary_lines(PLAN, JANUARY, 130, upgrade, FEBRUARY)
    assert overage.amount.amount == Decimal("285.00")
    assert fee.amount.amount == Decimal("1800.00")


# --- R8: seat fee -------------------------------------------------------------------------


def test_r8_seat_fee_is_one_line_of_57() -> None:
    line = seat_fee(PLAN, "Jane Agent")
    assert line.kind is LineKind.SEAT_FEE
    assert line.quantity == 1
    assert line.amount.amount == Decimal("57.00")
    assert line.description == "Seat fee: Jane Agent"
    assert (line.period_start, line.period_end) == (None, None)


# --- Totals -------------------------------------------------------------------------------


def test_invoice_total_is_the_sum_of_rounded_lines() -> None:
    plan = prepaid_plan(fee="0.005", per_lead_rate="0.005", seat_fee="0.005", included_leads=0)
    lines = [fee_in_advance(plan, JANUARY), overage_in_arrears(plan, JANUARY, 1)]
    lines.append(seat_fee(plan, "A"))
    # Each line is 0.01; the exact sum 0.015 would round to 0.02.
    assert invoice_total(lines, "USD").amount == Decimal("0.03")


def test_invoice_total_refuses_lines_in_another_currency() -> None:
    with pytest.raises(RuleViolation):
        invoice_total([seat_fee(PLAN, "A")], "EUR")


# --- Usage so far and projection ----------------------------------------------------------


def test_usage_summary_projects_the_current_pace_to_period_end() -> None:
    # A quarter of February gone (7 of 28 days), 40 leads: on pace for 160.
    summary = usage_summary(PLAN, FEBRUARY, 40, utc(2026, 2, 8))
    assert summary.elapsed_share == Fraction(1, 4)
    assert summary.counted_leads == 40
    assert summary.included_leads == 100
    assert summary.remaining_leads == 60
    assert summary.overage_leads == 0
    assert summary.overage_so_far.amount == Decimal("0.00")
    assert summary.projected_leads == 160
    assert summary.projected_overage.amount == Decimal("570.00")
    assert summary.projected_cost.amount == Decimal("1570.00")


def test_usage_summary_with_overage_already_accrued() -> None:
    summary = usage_summary(PLAN, FEBRUARY, 130, utc(2026, 2, 15))
    assert summary.elapsed_share == Fraction(1, 2)
    assert summary.remaining_leads == 0
    assert summary.overage_leads == 30
    assert summary.overage_so_far.amount == Decimal("285.00")
    assert summary.projected_leads == 260
    assert summary.projected_overage.amount == Decimal("1520.00")
    assert summary.projected_cost.amount == Decimal("2520.00")


def test_usage_summary_projects_whole_leads_rounded_down() -> None:
    april = month(2026, 4)
    # 7 of 30 days, 10 leads: 10 * 30 / 7 = 42.86 -> 42 leads.
    summary = usage_summary(PLAN, april, 10, utc(2026, 4, 8))
    assert summary.elapsed_share == Fraction(7, 30)
    assert summary.projected_leads == 42


def test_usage_summary_before_and_after_the_period() -> None:
    before = usage_summary(PLAN, FEBRUARY, 5, utc(2026, 1, 20))
    assert before.elapsed_share == 0
    assert before.projected_leads == 5
    after = usage_summary(PLAN, FEBRUARY, 130, utc(2026, 3, 5))
    assert after.elapsed_share == 1
    assert after.projected_leads == 130
    assert after.projected_cost.amount == Decimal("1285.00")


def test_usage_summary_refuses_a_naive_as_of() -> None:
    with pytest.raises(RuleViolation) as error:
        usage_summary(PLAN, FEBRUARY, 5, datetime(2026, 2, 8))
    assert error.value.field == "as_of"


def test_r10_usage_summary_of_pay_per_lead_prices_each_category() -> None:
    plan = PlanTerms(
        code="ppl",
        name="Pay per lead",
        currency="USD",
        interval=Interval.MONTH,
        fee=Money.of("0", "USD"),
        included_leads=0,
        per_lead_rate=Money.of("50.00", "USD"),
        seat_fee=Money.of("0", "USD"),
        counting_policy=CountingPolicy.RECEIVED_UNLESS_EXCLUDED,
        category_prices=(("plumbing", Money.of("45.00", "USD")),),
    )
    # Half of February gone: 2 plumbing and 1 other lead so far, twice as many at the end.
    summary = usage_summary(plan, FEBRUARY, 3, utc(2026, 2, 15), {"plumbing": 2, None: 1})
    assert (summary.overage_leads, summary.overage_so_far.amount) == (3, Decimal("140.00"))
    assert (summary.projected_leads, summary.projected_cost.amount) == (6, Decimal("280.00"))
