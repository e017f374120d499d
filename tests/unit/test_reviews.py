"""Reviews in the core: eligibility (R13), business-day due dates (R14), credits (R15)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest

from leadbill.core.billability import reason_label
from leadbill.core.errors import RuleViolation
from leadbill.core.money import Money
from leadbill.core.reviews import (
    ChargedLine,
    Condition,
    ReviewFacts,
    ReviewOutcome,
    ReviewRules,
    Status,
    call_answered,
    check_explanation,
    credit_lines,
    credit_to_apply,
    due_at,
    eligibility,
    is_overdue,
    review_statistics,
    status_label,
)

RECEIVED = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
RULES = ReviewRules()


def facts(answered: bool = True, recording: bool = True) -> ReviewFacts:
    return ReviewFacts(received_at=RECEIVED, answered=answered, recording_enabled=recording)


def test_r13_six_days_23_hours_is_eligible_seven_days_is_not() -> None:
    assert eligibility(facts(), RECEIVED + timedelta(days=6, hours=23), RULES) is None
    refusal = eligibility(facts(), RECEIVED + timedelta(days=7), RULES)
    assert refusal is not None and refusal.condition is Condition.WINDOW
    assert "7 days" in refusal.text


def test_r13_each_refusal_names_its_condition() -> None:
    at = RECEIVED + timedelta(days=1)
    unanswered = eligibility(facts(answered=False), at, RULES)
    assert unanswered is not None and unanswered.condition is Condition.ANSWERED
    unrecorded = eligibility(facts(recording=False), at, RULES)
    assert unrecorded is not None and unrecorded.condition is Condition.RECORDING
    never = eligibility(ReviewFacts(None, True, True), at, RULES)
    assert never is not None and never.condition is Condition.RECEIVED


def test_r13_rules_are_settings() -> None:
    lenient = ReviewRules(window=timedelta(days=14), require_recording=False)
    assert eligibility(facts(recording=False), RECEIVED + timedelta(days=10), lenient) is None


def test_r13_explanation_has_a_minimum_and_maximum_length() -> None:
    with pytest.raises(RuleViolation, match="explanation"):
        check_explanation("too short")
    with pytest.raises(RuleViolation, match="at most"):
        check_explanation("x" * 2001)
    assert check_explanation("  The caller wanted a job, not a plumber.  ").startswith("The")


NEW_YORK = "America/New_York"
BERLIN = "Europe/Berlin"
THANKSGIVING = {date(2026, 11, 26)}
CHRISTMAS = {date(2026, 12, 25), date(2026, 12, 26)}


def test_r14_due_three_business_days_later_across_a_weekend_new_york() -> None:
    # Friday 2026-03-06 15:00 EST -> Mon, Tue, Wed: Wednesday 15:00 EDT (DST began Sunday).
    submitted = datetime(2026, 3, 6, 20, 0, tzinfo=UTC)
    assert due_at(submitted, NEW_YORK, 3, set()) == datetime(2026, 3, 11, 19, 0, tzinfo=UTC)


def test_r14_due_skips_a_public_holiday_new_york() -> None:
    # Wednesday 2026-11-25 10:00 EST; Thursday is Thanksgiving -> Fri, Mon, Tue 10:00.
    submitted = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
    assert due_at(submitted, NEW_YORK, 3, THANKSGIVING) == datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
    assert due_at(submitted, NEW_YORK, 3, set()) == datetime(2026, 11, 30, 15, 0, tzinfo=UTC)


def test_r14_due_across_holidays_and_a_weekend_berlin() -> None:
    # Thursday 2026-12-24 09:00 CET; Fri 25 and Sat 26 holidays, Sunday -> Mon, Tue, Wed.
    submitted = datetime(2026, 12, 24, 8, 0, tzinfo=UTC)
    assert due_at(submitted, BERLIN, 3, CHRISTMAS) == datetime(2026, 12, 30, 8, 0, tzinfo=UTC)


def test_r14_the_day_is_read_in_the_operator_time_zone() -> None:
    # 2026-11-25 23:30 UTC is still Wednesday in New York but already Thursday in Berlin.
    submitted = datetime(2026, 11, 25, 23, 30, tzinfo=UTC)
    assert due_at(submitted, NEW_YORK, 3, THANKSGIVING) == datetime(2026, 12, 1, 23, 30, tzinfo=UTC)
    # Berlin: Thursday 00:30 CET -> Fri, Mon, Tue 00:30 CET.
    assert due_at(submitted, BERLIN, 3, set()) == datetime(2026, 11, 30, 23, 30, tzinfo=UTC)


def test_r14_a_weekend_submission_counts_from_the_next_business_day() -> None:
    # Saturday 2026-03-07 -> from Monday 00:00: Mon, Tue, Wed -> Thursday 00:00 (end of Wed).
    submitted = datetime(2026, 3, 7, 18, 0, tzinfo=UTC)
    assert due_at(submitted, NEW_YORK, 3, set()) == datetime(2026, 3, 12, 4, 0, tzinfo=UTC)


def test_r14_a_calendar_may_be_a_callable() -> None:
    submitted = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
    assert due_at(submitted, NEW_YORK, 3, lambda day: day in THANKSGIVING) == datetime(
        2026, 12, 1, 15, 0, tzinfo=UTC
    )


def test_r14_overdue_only_while_open_and_past_due() -> None:
    due = datetime(2026, 3, 11, 19, 0, tzinfo=UTC)
    assert not is_overdue(Status.OPEN, due, due - timedelta(seconds=1))
    assert is_overdue(Status.OPEN, due, due)
    assert not is_overdue(Status.APPROVED, due, due + timedelta(days=1))


def usd(value: str) -> Money:
    return Money(Decimal(value), "USD")


START = datetime(2026, 3, 1, tzinfo=UTC)
END = datetime(2026, 4, 1, tzinfo=UTC)


def line(kind: str, quantity: int, unit: str) -> ChargedLine:
    return ChargedLine(kind, START, END, usd(unit), quantity, usd(unit) * quantity, kind)


def test_r15_pay_per_lead_credit_is_the_lead_price_per_category() -> None:
    invoiced = [line("leads", 1, "55.00"), line("leads", 2, "40.00")]
    rerated = [line("leads", 2, "40.00")]  # the roofing lead excluded: its line is gone
    (credit,) = credit_lines(invoiced, rerated, [], "L1")
    assert (credit.quantity, credit.amount) == (1, usd("55.00"))


def test_r15_package_credit_is_what_the_rerating_gives() -> None:
    invoiced = [line("overage", 2, "30.00")]
    assert [c.amount for c in credit_lines(invoiced, [line("overage", 1, "30.00")], [], "L")] == [
        usd("30.00")
    ]
    assert credit_lines(invoiced, [line("overage", 2, "30.00")], [], "L") == []


def test_r15_credit_never_exceeds_what_the_invoice_charged() -> None:
    invoiced = [line("leads", 1, "40.00")]
    already = [line("leads", 1, "40.00")]
    assert credit_lines(invoiced, [], already, "L2") == []
    assert credit_to_apply(usd("55.00"), usd("40.00")) == usd("40.00")
    assert credit_to_apply(usd("15.00"), usd("40.00")) == usd("15.00")
    assert credit_to_apply(usd("15.00"), usd("0.00")).is_zero()


def test_review_statistics() -> None:
    at = datetime(2026, 3, 2, tzinfo=UTC)
    day = timedelta(days=1)
    reviews = [
        ReviewOutcome(Status.APPROVED, at, at + 3 * day, at + day),
        ReviewOutcome(Status.APPROVED, at, at + 3 * day, at + 4 * day),  # decided late
        ReviewOutcome(Status.REJECTED, at, at + 3 * day, at + 2 * day),
        ReviewOutcome(Status.OPEN, at, at + 3 * day, None),  # overdue at as_of
        ReviewOutcome(Status.INFO_REQUESTED, at, at + 3 * day, None),
    ]
    stats = review_statistics(reviews, leads_reviewed=7, as_of=at + 10 * day)
    assert (stats.submitted, stats.approved, stats.rejected, stats.overdue) == (5, 2, 1, 2)
    assert stats.approval_rate == Fraction(2, 3)
    assert stats.median_time_to_decision == 2 * day
    assert stats.leads_reviewed == 7


# R13, condition by condition: each refusal says which one failed, in words.


def test_r13_answered_a_wrong_number_call_was_answered_so_the_lead_is_eligible() -> None:
    calls = [("call_attempted", "no_answer"), ("call_attempted", "wrong_number")]
    assert call_answered(calls) is True
    wrong = ReviewFacts(RECEIVED, call_answered(calls), True, 2, "wrong_number")
    assert eligibility(wrong, RECEIVED + timedelta(days=1), RULES) is None


def test_r13_answered_a_voicemail_is_not_an_answered_call_and_the_refusal_says_so() -> None:
    calls = [("call_attempted", "busy"), ("call_attempted", "voicemail")]
    assert call_answered(calls) is False
    facts_ = ReviewFacts(RECEIVED, call_answered(calls), True, 2, "voicemail")
    refusal = eligibility(facts_, RECEIVED + timedelta(days=1), RULES)
    assert refusal is not None and refusal.condition is Condition.ANSWERED
    assert refusal.text == (
        "the call was not answered: no call reached a person (the last call: it went to voicemail)"
    )


def test_r13_answered_a_call_answered_event_counts_whatever_its_result_a_missed_one_never() -> None:
    assert call_answered([("call_answered", None)]) is True
    assert call_answered([("call_missed", "wrong_number")]) is False
    assert call_answered([]) is False


def test_r13_answered_a_lead_never_called_says_so() -> None:
    never = ReviewFacts(RECEIVED, False, False, calls=0)
    refusal = eligibility(never, RECEIVED + timedelta(days=1), RULES)
    assert refusal is not None and refusal.condition is Condition.ANSWERED
    assert refusal.text == "the call was not answered: the lead was never called"


def test_r13_window_the_refusal_gives_the_deadline_in_the_accounts_time_zone() -> None:
    refusal = eligibility(facts(), RECEIVED + timedelta(days=8), RULES, "America/Chicago")
    assert refusal is not None and refusal.condition is Condition.WINDOW
    assert refusal.deadline == RECEIVED + timedelta(days=7)
    assert refusal.text == (
        "the lead was received 7 days or more before submission: the time to submit it "
        "ended on Mar 9, 2026 at 10:00 (America/Chicago)"
    )


def test_r13_recording_a_lead_without_a_recording_says_so() -> None:
    refusal = eligibility(facts(recording=False), RECEIVED + timedelta(days=1), RULES)
    assert refusal is not None
    assert refusal.text == "call recording was not enabled when the lead was received"


def test_r13_reviewed_a_lead_already_disputed_is_refused_before_any_other_condition() -> None:
    old = ReviewFacts(RECEIVED, False, False, reviewed=True)
    refusal = eligibility(old, RECEIVED + timedelta(days=30), RULES)
    assert refusal is not None and refusal.condition is Condition.REVIEWED
    assert "already submitted for review" in refusal.text


def test_review_labels_are_plain_words() -> None:
    assert reason_label("job_seeker") == "The caller was seeking employment"
    assert reason_label("wrong_number") == "Wrong number"
    assert reason_label("downgrade") == "downgrade"  # not a reason code: shown as it is
    assert status_label("info_requested") == "More information requested"
    assert status_label("open") == "Under review"
