"""Plan advice ("Which plan should I choose?", seed 000): pure pricing of past usage (R4, R5)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from leadbill.core.advice import PeriodUsage, advise, period_cost, plan_cost
from leadbill.core.errors import RuleViolation
from leadbill.core.periods import Interval, Period
from tests.unit.sample_plans import prepaid_plan

ISA_100 = prepaid_plan(code="isa-100", fee="1000.00", included_leads=100, per_lead_rate="9.50")
ISA_200 = prepaid_plan(code="isa-200", fee="1800.00", included_leads=200, per_lead_rate="8.75")
ISA_300 = prepaid_plan(code="isa-300", fee="2500.00", included_leads=300, per_lead_rate="8.00")


def _usage(*counts: int) -> list[PeriodUsage]:
    return [
        PeriodUsage(
            Period(
                index,
                datetime(2026, index + 1, 1, tzinfo=UTC),
                datetime(2026, index + 2, 1, tzinfo=UTC),
            ),
            count,
        )
        for index, count in enumerate(counts)
    ]


def test_r4_r5_ladder_priced_to_the_cent_with_leads_lost_to_expiry() -> None:
    advice = advise(ISA_100, [ISA_100, ISA_200, ISA_300], _usage(190, 221, 205))
    totals = {o.plan.code: o.total.amount for o in advice.options}
    assert totals == {
        "isa-100": Decimal("6002.00"),
        "isa-200": Decimal("5627.50"),
        "isa-300": Decimal("7500.00"),
    }
    lost = {o.plan.code: o.lost_leads for o in advice.options}
    assert lost == {"isa-100": 0, "isa-200": 10, "isa-300": 284}
    assert advice.recommended.plan.code == "isa-200"
    assert advice.current.plan.code == "isa-100"
    assert advice.reasoning == (
        "isa-200 would have cost 5,627.50 USD over 3 months, 374.50 USD less than your "
        "isa-100; you used 190\u2013221 leads a month"
    )


def test_r4_each_line_rounded_once_as_on_an_invoice() -> None:
    cheap = prepaid_plan(code="c", fee="10.005", included_leads=1, per_lead_rate="0.125")
    cost = period_cost(cheap, _usage(4)[0])
    # Fee 10.005 -> 10.01; overage 3 x 0.125 = 0.375 -> 0.38; total 10.39.
    assert (cost.fee.amount, cost.overage.amount, cost.total.amount) == (
        Decimal("10.01"),
        Decimal("0.38"),
        Decimal("10.39"),
    )
    assert cost.overage_leads == 3
    assert cost.lost_leads == 0


def test_r5_unused_leads_are_lost_not_carried() -> None:
    cost = plan_cost(ISA_300, _usage(100, 350))
    assert [p.lost_leads for p in cost.periods] == [200, 0]
    # The unused 200 of the first period do not reduce the second period's overage.
    assert cost.periods[1].overage.amount == Decimal("400.00")


def test_tie_keeps_the_current_plan() -> None:
    twin = prepaid_plan(code="twin", fee="1000.00", included_leads=150, per_lead_rate="9.50")
    advice = advise(ISA_100, [twin, ISA_100], _usage(80))
    assert advice.recommended.plan.code == "isa-100"
    assert advice.reasoning.startswith("your isa-100 is the cheapest: 1,000.00 USD over 1 month")


def test_tie_between_other_plans_prefers_more_included_leads() -> None:
    small = prepaid_plan(code="b-small", fee="500.00", included_leads=50, per_lead_rate="5.00")
    large = prepaid_plan(code="a-large", fee="500.00", included_leads=60, per_lead_rate="5.00")
    advice = advise(ISA_100, [small, large], _usage(40))
    assert advice.recommended.plan.code == "a-large"
    small_first = prepaid_plan(
        code="a-small", fee="500.00", included_leads=50, per_lead_rate="5.00"
    )
    large_second = prepaid_plan(
        code="b-large", fee="500.00", included_leads=60, per_lead_rate="5.00"
    )
    assert advise(ISA_100, [small_first, large_second], _usage(40)).recommended.plan.code == (
        "b-large"
    )


def test_current_plan_cheapest_and_only_plan_reasoning() -> None:
    advice = advise(ISA_100, [ISA_100, ISA_200], _usage(90, 100))
    assert advice.recommended.plan.code == "isa-100"
    assert advice.reasoning == (
        "your isa-100 is the cheapest: 2,000.00 USD over 2 months, 1,600.00 USD less than "
        "isa-200; you used 90\u2013100 leads a month"
    )
    alone = advise(ISA_100, [], _usage(100))
    assert alone.reasoning == (
        "your isa-100 is the only plan of its ladder: 1,000.00 USD over 1 month; "
        "you used 100 leads a month"
    )


def test_advice_refuses_plans_of_another_currency_interval_or_policy_and_no_usage() -> None:
    euro = prepaid_plan(code="eur", currency="EUR")
    yearly = prepaid_plan(code="year", interval=Interval.YEAR)
    for other in (euro, yearly):
        with pytest.raises(RuleViolation):
            advise(ISA_100, [other], _usage(10))
    with pytest.raises(RuleViolation):
        advise(ISA_100, [ISA_200], [])
