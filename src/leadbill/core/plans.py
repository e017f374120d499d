"""Plan terms and counting policies.

A plan is an immutable catalogue entry: a new price is a new plan, and existing
subscriptions keep the plan they have.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from leadbill.core.errors import RuleViolation
from leadbill.core.money import Money
from leadbill.core.periods import Interval


class CountingPolicy(enum.StrEnum):
    """Which event makes a lead count against a plan."""

    CALLED = "called"
    RECEIVED_UNLESS_EXCLUDED = "received_unless_excluded"
    CONTACT_FOUND = "contact_found"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class PlanTerms:
    """The money terms of one plan, all in the plan's currency."""

    code: str
    name: str
    currency: str
    interval: Interval
    fee: Money
    included_leads: int
    per_lead_rate: Money
    seat_fee: Money
    counting_policy: CountingPolicy

    def __post_init__(self) -> None:
        if not self.code.strip():
            raise RuleViolation("code", "must not be empty")
        for field in ("fee", "per_lead_rate", "seat_fee"):
            money: Money = getattr(self, field)
            if money.currency != self.currency:
                raise RuleViolation(field, f"must be in the plan currency {self.currency}")
            if money.amount < 0:
                raise RuleViolation(field, "must not be negative")
        if self.included_leads < 0:
            raise RuleViolation("included_leads", "must not be negative")
