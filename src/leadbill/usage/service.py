"""Usage thresholds: record, once, when a period's usage reaches 80 % and 100 %.

Where it is recorded: usage changes only when lead events are ingested, so
`record_threshold_crossings` runs at the end of every ingestion chunk for the
accounts the chunk touched; the billing summary runs it again for its account
(which covers a period the billing run had not opened when its leads arrived).
Whichever runs first records the crossing; the unique constraint on
(subscription, period, threshold) with ON CONFLICT DO NOTHING makes every later
run, re-ingestion or concurrent call record nothing new.

The crossing instant is the counted instant of the lead that reached the
threshold (counting order: counted instant, then operator lead id), computed
in SQL from the same leads the billing run counts; never the wall clock. A
crossing is recorded only once that instant is at or before `as_of`.

The periods watched for each active subscription: its current period (not yet
closed by the billing run) and, when the run lags behind `as_of`, the calendar
periods after it up to the one containing `as_of`. The allowance is that of
the subscription's plan; a plan without included leads has no thresholds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from leadbill.billing import repository as usage_counts
from leadbill.billing.repository import ClosingPeriod
from leadbill.core.errors import RuleViolation
from leadbill.core.periods import Interval, Period, period_at, require_utc
from leadbill.core.plans import CountingPolicy
from leadbill.core.thresholds import thresholds_of
from leadbill.errors import from_rule
from leadbill.usage import repository
from leadbill.usage.repository import CrossingRow, WatchedSubscription

# A billing run lagging by more periods than this is caught up by the run itself.
MAX_PERIODS_AHEAD = 12


@dataclass(frozen=True, slots=True)
class ThresholdCrossing:
    """A crossing just recorded: `threshold` % of the included leads reached at `crossed_at`."""

    account_id: int
    subscription_id: int
    period_index: int
    threshold: int
    leads: int
    lead_id: int
    external_id: str
    crossed_at: datetime


def _watched_periods(watched: WatchedSubscription, as_of: datetime) -> list[Period]:
    current = Period(watched.period_index, watched.period_start, watched.period_end)
    found = [current]
    interval = Interval(watched.interval)
    while found[-1].end <= as_of and len(found) <= MAX_PERIODS_AHEAD:
        index = found[-1].index + 1
        calendar = period_at(watched.anchor_at, watched.time_zone, interval, index)
        found.append(Period(index, found[-1].end, calendar.end))
    return found


def _counts_leads(policy: str) -> bool:
    # Only policies whose usage the billing queries count (a plan counting no lead has
    # no thresholds; a policy the queries cannot count yet is left alone, not miscounted).
    return CountingPolicy(policy) in usage_counts.COUNTED_POLICIES


def record_threshold_crossings(
    session: Session, account_ids: Iterable[int], as_of: datetime
) -> list[ThresholdCrossing]:
    """Record every threshold the accounts' open periods reached by `as_of`; return the new ones.

    Set-based: one query for the plans with an allowance, one for the accounts
    near a threshold, one for their subscriptions, one for what is already
    recorded, one count, one query for the leads at the threshold ranks, one
    insert. Re-running records nothing new.
    """
    try:
        as_of = require_utc(as_of, "as_of")
    except RuleViolation as error:
        raise from_rule(error) from None
    # A crossing needs at least the plan's lowest threshold of counted leads in one
    # period: one query keeps only the accounts that counted as many since the start
    # of their current period (most accounts of an ingestion chunk are far below).
    lowest = {
        plan_id: min(thresholds_of(included).values())
        for plan_id, included, policy in repository.plans_with_allowance(session)
        if _counts_leads(policy)
    }
    near = usage_counts.accounts_counting_at_least(session, account_ids, lowest)
    watched = [
        w
        for w in repository.active_subscriptions(session, near)
        if w.included_leads > 0 and _counts_leads(w.counting_policy)
    ]
    if not watched:
        return []
    recorded = repository.recorded_thresholds(
        session, [w.id for w in watched], min(w.period_index for w in watched)
    )
    open_periods: list[tuple[WatchedSubscription, ClosingPeriod, dict[int, int]]] = []
    for w in watched:
        thresholds = thresholds_of(w.included_leads)
        for period in _watched_periods(w, as_of):
            if period.start > as_of:
                break
            missing = {
                percent: leads
                for percent, leads in thresholds.items()
                if (w.id, period.index, percent) not in recorded
            }
            if missing:
                span = ClosingPeriod(w.id, period.index, w.account_id, period.start, period.end)
                open_periods.append((w, span, missing))
    if not open_periods:
        return []
    counts = usage_counts.called_leads(session, [span for _w, span, _m in open_periods])
    wanted: list[tuple[ClosingPeriod, int]] = []
    for _w, span, missing in open_periods:
        counted = counts.get((span.subscription_id, span.period_index), 0)
        wanted.extend((span, leads) for leads in missing.values() if counted >= leads)
    if not wanted:
        return []
    at_rank = usage_counts.counted_leads_at_ranks(session, wanted)
    candidates: list[ThresholdCrossing] = []
    for w, span, missing in open_periods:
        for percent, leads in missing.items():
            lead = at_rank.get((span.subscription_id, span.period_index, leads))
            if lead is None or lead.counted_at > as_of:
                continue
            candidates.append(
                ThresholdCrossing(
                    account_id=w.account_id,
                    subscription_id=w.id,
                    period_index=span.period_index,
                    threshold=percent,
                    leads=leads,
                    lead_id=lead.lead_id,
                    external_id=lead.external_id,
                    crossed_at=lead.counted_at,
                )
            )
    inserted = repository.insert_crossings(
        session,
        [
            {
                "account_id": c.account_id,
                "subscription_id": c.subscription_id,
                "period_index": c.period_index,
                "threshold": c.threshold,
                "leads": c.leads,
                "lead_id": c.lead_id,
                "crossed_at": c.crossed_at,
                "recorded_at": as_of,
            }
            for c in candidates
        ],
    )
    return [c for c in candidates if (c.subscription_id, c.period_index, c.threshold) in inserted]


def crossings_of(session: Session, subscription_id: int, period_index: int) -> list[CrossingRow]:
    """The crossings recorded for one period of a subscription, lowest threshold first."""
    return repository.crossings(session, subscription_id, period_index)
