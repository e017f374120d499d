"""Usage thresholds: the lead that reaches 80 % and 100 % of the included leads."""

from __future__ import annotations

import pytest

from leadbill.core.errors import RuleViolation
from leadbill.core.thresholds import reached, threshold_leads, thresholds_of


def test_threshold_leads_round_up_to_a_whole_lead() -> None:
    assert threshold_leads(100, 80) == 80
    assert threshold_leads(5, 80) == 4
    assert threshold_leads(3, 80) == 3  # 2.4 leads: the 3rd lead reaches 80 %
    assert threshold_leads(7, 100) == 7


def test_thresholds_of_a_plan_and_none_without_included_leads() -> None:
    assert thresholds_of(10) == {80: 8, 100: 10}
    assert thresholds_of(0) == {}
    assert reached(0, 50) == ()


def test_reached_thresholds() -> None:
    assert reached(10, 7) == ()
    assert reached(10, 8) == (80,)
    assert reached(10, 12) == (80, 100)


def test_bad_threshold_inputs() -> None:
    with pytest.raises(RuleViolation):
        threshold_leads(-1, 80)
    with pytest.raises(RuleViolation):
        threshold_leads(10, 0)
