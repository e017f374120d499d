"""Usage thresholds: the share of the included leads at which a customer is warned.

A threshold of p % is reached by the lead that brings the period's counted leads
to p % of the included leads, rounded up to a whole lead (80 % of 5 is the 4th
lead, 80 % of 3 the 3rd). A plan without included leads has no thresholds.
"""

from __future__ import annotations

from leadbill.core.errors import RuleViolation

THRESHOLDS: tuple[int, ...] = (80, 100)


def threshold_leads(included_leads: int, percent: int) -> int:
    """The counted leads at which `percent` % of `included_leads` is reached (rounded up)."""
    if included_leads < 0:
        raise RuleViolation("included_leads", "must not be negative")
    if not 0 < percent <= 100:
        raise RuleViolation("percent", "must be between 1 and 100")
    return -(-included_leads * percent // 100)


def thresholds_of(included_leads: int) -> dict[int, int]:
    """Each threshold percent and the lead count that reaches it; none without included leads."""
    if included_leads <= 0:
        return {}
    return {percent: threshold_leads(included_leads, percent) for percent in THRESHOLDS}


def reached(included_leads: int, counted_leads: int) -> tuple[int, ...]:
    """The thresholds (percent) that `counted_leads` has reached, lowest first."""
    return tuple(
        percent
        for percent, leads in thresholds_of(included_leads).items()
        if counted_leads >= leads
    )
