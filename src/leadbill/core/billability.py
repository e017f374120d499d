"""Billability: whether a lead counts, why, and the instant at which it counts.

A pure function of the lead's events and the plan's counting policy. The
instant at which a lead counts fixes the billing period it belongs to.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from leadbill.core.plans import CountingPolicy


class EventType(enum.StrEnum):
    """The kinds of lead event an operator's systems send."""

    RECEIVED = "received"
    CALL_ATTEMPTED = "call_attempted"
    CALL_ANSWERED = "call_answered"
    CALL_MISSED = "call_missed"
    RECORDING_AVAILABLE = "recording_available"
    CONTACT_FOUND = "contact_found"
    CONTACT_ENRICHED = "contact_enriched"
    CONTACT_VERIFIED = "contact_verified"
    CONTACT_NOT_FOUND = "contact_not_found"
    OUTCOME = "outcome"


CALL_EVENTS = frozenset({EventType.CALL_ATTEMPTED, EventType.CALL_ANSWERED, EventType.CALL_MISSED})


class Reason(enum.StrEnum):
    """Why a lead counted or did not."""

    CALLED = "called"
    NEVER_CALLED = "never_called"
    NO_COUNTING_POLICY = "no_counting_policy"


REASON_TEXT = {
    Reason.CALLED: "counted: the lead was called",
    Reason.NEVER_CALLED: "not counted: the lead was never called",
    Reason.NO_COUNTING_POLICY: "not counted: the plan does not charge per lead",
}


def counting_events(policy: CountingPolicy) -> frozenset[EventType]:
    """The event types whose earliest occurrence makes a lead count under `policy`."""
    if policy is CountingPolicy.CALLED:
        return CALL_EVENTS
    return frozenset()


@dataclass(frozen=True, slots=True)
class LeadEvent:
    """One event of a lead's history, as the core sees it."""

    type: EventType
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class Billability:
    """The verdict on one lead: billable or not, the reason, and when it counts."""

    billable: bool
    reason: Reason
    counted_at: datetime | None


def decide(policy: CountingPolicy, events: Iterable[LeadEvent]) -> Billability:
    """Decide whether a lead counts under `policy`, from its events alone."""
    triggers = counting_events(policy)
    if not triggers:
        return Billability(False, Reason.NO_COUNTING_POLICY, None)
    instants = [event.occurred_at for event in events if event.type in triggers]
    if not instants:
        return Billability(False, Reason.NEVER_CALLED, None)
    return Billability(True, Reason.CALLED, min(instants))
