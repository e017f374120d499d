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
    # Per-category lead prices (category, price), e.g. plumbing vs electrical; a lead
    # of a category without a price is charged the per-lead rate.
    category_prices: tuple[tuple[str, Money], ...] = ()
    # Licences (R19-R22): price of one licence per period, and the self-serve cap (the
    # most licences a customer may reach alone; None: no cap). None: not a licence plan.
    licence_price: Money | None = None
    licence_cap: int | None = None

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
        seen: set[str] = set()
        for category, price in self.category_prices:
            if not category.strip() or category in seen:
                raise RuleViolation(
                    "category_prices", f"category {category!r} is empty or repeated"
                )
            seen.add(category)
            if price.currency != self.currency or price.amount < 0:
                raise RuleViolation(
                    "category_prices", f"{category}: must be >= 0 in the plan currency"
                )

        licence = self.licence_price
        if licence is not None and (licence.currency != self.currency or licence.amount < 0):
            raise RuleViolation("licence_price", "must be >= 0 in the plan currency")
        if self.licence_cap is not None:
            if self.licence_price is None:
                raise RuleViolation("licence_cap", "needs a licence price")
            if self.licence_cap < 0:
                raise RuleViolation("licence_cap", "must not be negative")

    @property
    def has_licences(self) -> bool:
        """True for a licence plan (R19): it charges a price per licence per period."""
        return self.licence_price is not None

    def lead_price(self, category: str | None) -> Money:
        """The price of one lead of `category`: its category price, else the per-lead rate."""
        for name, price in self.category_prices:
            if name == category:
                return price
        return self.per_lead_rate
