"""Billability under the `called` counting policy (seeds 000, 001; rule R2)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from leadbill.core.billability import (
    CALL_EVENTS,
    REASON_TEXT,
    Billability,
    EventType,
    LeadEvent,
    Reason,
    counting_events,
    decide,
)
from leadbill.core.periods import Interval, period_containing
from leadbill.core.plans import CountingPolicy

CALLED = CountingPolicy.CALLED


def utc(*parts: int) -> datetime:
    """A UTC instant from year, month, day[, hour, minute, second]."""
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def event(kind: EventType, *parts: int) -> LeadEvent:
    return LeadEvent(kind, utc(*parts))


def test_r2_a_lead_never_called_does_not_count() -> None:
    verdict = decide(CALLED, [event(EventType.RECEIVED, 2026, 1, 5, 9)])
    assert verdict == Billability(False, Reason.NEVER_CALLED, None)
    assert REASON_TEXT[verdict.reason] == "not counted: the lead was never called"


def test_r2_a_lead_with_no_events_does_not_count() -> None:
    assert decide(CALLED, []) == Billability(False, Reason.NEVER_CALLED, None)


@pytest.mark.parametrize(
    "kind",
    [
        EventType.RECORDING_AVAILABLE,
        EventType.CONTACT_FOUND,
        EventType.CONTACT_ENRICHED,
        EventType.CONTACT_VERIFIED,
        EventType.CONTACT_NOT_FOUND,
        EventType.OUTCOME,
    ],
)
def test_r2_events_other_than_calls_do_not_make_a_lead_count(kind: EventType) -> None:
    events = [event(EventType.RECEIVED, 2026, 1, 5, 9), event(kind, 2026, 1, 5, 10)]
    assert decide(CALLED, events).reason is Reason.NEVER_CALLED


@pytest.mark.parametrize(
    "kind", [EventType.CALL_ATTEMPTED, EventType.CALL_ANSWERED, EventType.CALL_MISSED]
)
def test_r2_any_call_event_makes_a_lead_count(kind: EventType) -> None:
    events = [event(EventType.RECEIVED, 2026, 1, 5, 9), event(kind, 2026, 1, 5, 9, 30)]
    verdict = decide(CALLED, events)
    assert verdict == Billability(True, Reason.CALLED, utc(2026, 1, 5, 9, 30))
    assert REASON_TEXT[verdict.reason] == "counted: the lead was called"


def test_r2_a_lead_counts_at_its_earliest_call_whatever_the_order() -> None:
    events = [
        event(EventType.CALL_ANSWERED, 2026, 1, 7, 11),
        event(EventType.RECEIVED, 2026, 1, 5, 9),
        event(EventType.CALL_ATTEMPTED, 2026, 1, 9, 8),
        event(EventType.CALL_MISSED, 2026, 1, 6, 16, 45),
        event(EventType.OUTCOME, 2026, 1, 6, 16, 0),
    ]
    assert decide(CALLED, events).counted_at == utc(2026, 1, 6, 16, 45)


def test_r2_a_lead_can_be_called_without_a_received_event() -> None:
    # Events may arrive out of order or partially; the call alone decides.
    verdict = decide(CALLED, [event(EventType.CALL_MISSED, 2026, 1, 5, 9)])
    assert verdict.billable
    assert verdict.counted_at == utc(2026, 1, 5, 9)


def test_decide_accepts_a_one_pass_iterable() -> None:
    events = (e for e in [event(EventType.CALL_ATTEMPTED, 2026, 1, 5, 9)])
    assert decide(CALLED, events).billable


def test_r2_the_call_not_the_receipt_fixes_the_billing_period() -> None:
    # Received on the last evening of January, called just after midnight: it is a
    # February lead.
    anchor = utc(2026, 1, 1)
    events = [
        event(EventType.RECEIVED, 2026, 1, 31, 23, 50),
        event(EventType.CALL_ATTEMPTED, 2026, 2, 1, 0, 10),
    ]
    verdict = decide(CALLED, events)
    assert verdict.counted_at is not None
    period = period_containing(anchor, "UTC", Interval.MONTH, verdict.counted_at)
    assert period.index == 1


def test_a_plan_without_counting_policy_never_counts_leads() -> None:
    events = [event(EventType.CALL_ANSWERED, 2026, 1, 5, 9)]
    assert decide(CountingPolicy.NONE, events) == Billability(
        False, Reason.NO_COUNTING_POLICY, None
    )
    assert counting_events(CountingPolicy.NONE) == frozenset()


def test_called_policy_counts_exactly_the_call_events() -> None:
    assert counting_events(CALLED) == CALL_EVENTS
    assert {
        EventType.CALL_ATTEMPTED,
        EventType.CALL_ANSWERED,
        EventType.CALL_MISSED,
    } == CALL_EVENTS


def test_every_reason_has_an_explanation() -> None:
    # R9: every lead in the call report says whether and why it counted.
    assert set(REASON_TEXT) == set(Reason)
