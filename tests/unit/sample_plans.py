"""Plan terms for the unit tests: the prepaid package of seeds 000 and 001."""

from __future__ import annotations

from leadbill.core.money import Money
from leadbill.core.periods import Interval
from leadbill.core.plans import CountingPolicy, PlanTerms


def prepaid_plan(
    *,
    code: str = "pkg-100",
    currency: str = "USD",
    fee: str = "1000.00",
    included_leads: int = 100,
    per_lead_rate: str = "9.50",
    seat_fee: str = "57.00",
    interval: Interval = Interval.MONTH,
    counting_policy: CountingPolicy = CountingPolicy.CALLED,
) -> PlanTerms:
    """A monthly package: 100 leads for 1000.00, overage 9.50 a lead, seats 57.00."""
    return PlanTerms(
        code=code,
        name=f"Package {included_leads}",
        currency=currency,
        interval=interval,
        fee=Money.of(fee, currency),
        included_leads=included_leads,
        per_lead_rate=Money.of(per_lead_rate, currency),
        seat_fee=Money.of(seat_fee, currency),
        counting_policy=counting_policy,
    )
