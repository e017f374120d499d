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
periods after it up to the one containing `as_of`. Leads count under the plan's
counting policy (called, received unless excluded, contact found), through the
billing run's own queries. The allowance is that of each segment of the period
as the billing run rates it (R7: after a mid-period change, the first segment
keeps its plan's full allowance and a later one gets its plan's prorated
allowance); a threshold is recorded once per period, the first time a segment
reaches it. A plan without included leads has no thresholds.

Most accounts of a chunk are far below their thresholds: one statement bounds
every subscription's usage from above (its leads counted since its current
period start) and only the accounts that may have reached a threshold, or
whose periods are split or change plan, are checked exactly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from sqlalchemy.orm import Session

from leadbill.billing import repository as usage_counts
from leadbill.billing.repository import ClosingPeriod
from leadbill.core.errors import RuleViolation
from leadbill.core.periods import Interval, Period, period_at, require_utc
from leadbill.core.plans import CountingPolicy, PlanTerms
from leadbill.core.proration import segment_allowance
from leadbill.core.thresholds import thresholds_of
from leadbill.errors import from_rule
from leadbill.notifications.service import queue_thresholds_reached
from leadbill.plans.service import terms
from leadbill.usage import repository
from leadbill.usage.repository import CrossingRow, WatchedSubscription
from leadbill.webhooks import events as webhook_events
from leadbill.webhooks.service import Event, emit_many

# A billing run lagging by more periods than this is caught up by the run itself.
MAX_PERIODS_AHEAD = 12

# Every chunk of an ingestion checks every account it touched, and those accounts
# share a handful of anchors, time zones and allowances: both are pure functions,
# so each distinct question is answered once per process, not once per account.
_period_at = lru_cache(maxsize=65_536)(period_at)
_thresholds_of = lru_cache(maxsize=4_096)(thresholds_of)


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
        calendar = _period_at(watched.anchor_at, watched.time_zone, interval, index)
        found.append(Period(index, found[-1].end, calendar.end))
    return found


@dataclass(frozen=True, slots=True)
class Segment:
    """A stretch of a period on one plan, with the allowance the billing run gives it (R7)."""

    plan: PlanTerms
    start: datetime
    end: datetime
    allowance: int


def period_segments(
    session: Session, periods: Sequence[tuple[ClosingPeriod, PlanTerms]]
) -> dict[tuple[int, int], list[Segment]]:
    """The segments of each period, in time order, keyed by (subscription, period index).

    A period that a plan change split has one segment per plan (the first with its
    plan's full allowance, a later one with its plan's allowance prorated from its
    start, rounded down: core.proration.segment_allowance, as the billing run
    rates it); any other period is one segment on the given plan. One query for
    the splits, one for the plans of earlier segments.
    """
    split = usage_counts.split_segments(session, [span for span, _plan in periods])
    wanted = {row.plan_id for rows in split.values() for row in rows}
    plans = {pid: terms(plan) for pid, plan in usage_counts.plans_by_id(session, wanted).items()}
    found: dict[tuple[int, int], list[Segment]] = {}
    for span, plan in periods:
        key = (span.subscription_id, span.period_index)
        period = Period(span.period_index, span.start, span.end)
        rows = split.get(key)
        if not rows:
            found[key] = [Segment(plan, span.start, span.end, plan.included_leads)]
            continue
        found[key] = [
            Segment(
                plans[row.plan_id],
                row.start,
                row.end,
                segment_allowance(plans[row.plan_id], period, row.start),
            )
            for row in rows
        ]
    return found


def _may_cross(session: Session, account_ids: Iterable[int]) -> set[int]:
    """The accounts whose open periods may have reached a threshold: all others cannot.

    One statement bounds each active subscription's usage in any watched period
    from above (its leads counted since its current period start, exclusions
    aside). A period on the subscription's own plan whose bound is below the
    plan's lowest threshold reaches none; a period split by a plan change or a
    change scheduled for the period end may have other allowances, so its
    account is always checked. An ingestion chunk names thousands of accounts,
    almost all far below their thresholds: only the others take the exact path.
    """
    columns = {
        policy.value: usage_counts.counted_at_column(policy)
        for policy in usage_counts.COUNTED_POLICIES
    }
    found: set[int] = set()
    for bound in repository.usage_bounds(session, account_ids, columns):
        if bound.account_id in found:
            continue
        if bound.split_or_scheduled:
            found.add(bound.account_id)
            continue
        if CountingPolicy(bound.counting_policy) not in usage_counts.COUNTED_POLICIES:
            continue
        thresholds = _thresholds_of(bound.included_leads)
        if thresholds and bound.counted_at_most >= min(thresholds.values()):
            found.add(bound.account_id)
    return found


# Leads already counted by the caller: (account id, counting policy, start, end) -> count.
KnownCounts = Mapping[tuple[int, CountingPolicy, datetime, datetime], int]


def record_threshold_crossings(
    session: Session,
    account_ids: Iterable[int],
    as_of: datetime,
    known: KnownCounts | None = None,
    *,
    screen: bool = True,
) -> list[ThresholdCrossing]:
    """Record every threshold the accounts' open periods reached by `as_of`; return the new ones.

    Thresholds are shares of a segment's allowance, counted under the plan's counting
    policy with the billing run's own queries. A period split by a plan change has one
    allowance per segment (R7): a threshold is crossed by the lead that reaches it
    inside a segment, and the period records the first such crossing, once.

    Set-based: one statement first bounds each subscription's usage from above and
    keeps only the accounts that may have reached a threshold (`_may_cross`); for
    those, one query for the subscriptions, one for what is already recorded,
    one for the segments, one count and one query for the leads at the threshold
    ranks per counting policy, one insert. Re-running records nothing new. A span
    whose count the caller already read in this transaction (`known`, by account,
    policy, start and end) is not counted again. `screen=False` skips the bound
    (a caller that reads one account whose counts it already holds: the bound
    would cost a statement and spare none).
    """
    try:
        as_of = require_utc(as_of, "as_of")
    except RuleViolation as error:
        raise from_rule(error) from None
    watched = [
        w
        for w in repository.active_subscriptions(
            session, _may_cross(session, account_ids) if screen else set(account_ids)
        )
        if CountingPolicy(w.counting_policy) in usage_counts.COUNTED_POLICIES
    ]
    if not watched:
        return []
    recorded = repository.recorded_thresholds(
        session, [w.id for w in watched], min(w.period_index for w in watched)
    )
    wanted_plans = {w.plan_id for w in watched} | {
        w.scheduled_plan_id for w in watched if w.scheduled_plan_id is not None
    }
    plans = {
        pid: terms(plan) for pid, plan in usage_counts.plans_by_id(session, wanted_plans).items()
    }
    periods: list[tuple[WatchedSubscription, ClosingPeriod]] = []
    for w in watched:
        for period in _watched_periods(w, as_of):
            if period.start > as_of:
                break
            periods.append(
                (w, ClosingPeriod(w.id, period.index, w.account_id, period.start, period.end))
            )
    # Periods the billing run has not opened yet are on the plan it will open them with.
    segments = period_segments(
        session,
        [
            (
                span,
                plans[
                    w.plan_id
                    if span.period_index == w.period_index
                    else (w.scheduled_plan_id or w.plan_id)
                ],
            )
            for w, span in periods
        ],
    )
    # Each segment is counted as its own span, keyed by its position in `spans`.
    spans: list[tuple[WatchedSubscription, int, ClosingPeriod, Segment, dict[int, int]]] = []
    for w, span in periods:
        for segment in segments[(span.subscription_id, span.period_index)]:
            missing = {
                percent: leads
                for percent, leads in _thresholds_of(segment.allowance).items()
                if (w.id, span.period_index, percent) not in recorded
            }
            if missing and segment.start <= as_of:
                key = ClosingPeriod(w.id, -1 - len(spans), w.account_id, segment.start, segment.end)
                spans.append((w, span.period_index, key, segment, missing))
    by_policy: dict[CountingPolicy, list[ClosingPeriod]] = {}
    counts: dict[tuple[int, int], int] = {}
    for _w, _index, key, segment, _missing in spans:
        policy = segment.plan.counting_policy
        given = None if known is None else known.get((key.account_id, policy, key.start, key.end))
        if given is not None:
            counts[(key.subscription_id, key.period_index)] = given
        else:
            by_policy.setdefault(policy, []).append(key)
    for policy, keys in by_policy.items():
        counts.update(usage_counts.counted_leads(session, keys, policy))
    wanted: dict[CountingPolicy, list[tuple[ClosingPeriod, int]]] = {}
    for _w, _index, key, segment, missing in spans:
        counted = counts.get((key.subscription_id, key.period_index), 0)
        wanted.setdefault(segment.plan.counting_policy, []).extend(
            (key, leads) for leads in missing.values() if counted >= leads
        )
    at_rank: dict[tuple[int, int, int], usage_counts.RankedLead] = {}
    for policy, ranks in wanted.items():
        at_rank.update(usage_counts.counted_leads_at_ranks(session, ranks, policy))
    first: dict[tuple[int, int, int], ThresholdCrossing] = {}
    for w, period_index, key, _segment, missing in spans:
        for percent, leads in missing.items():
            lead = at_rank.get((key.subscription_id, key.period_index, leads))
            if lead is None or lead.counted_at > as_of:
                continue
            crossing = ThresholdCrossing(
                account_id=w.account_id,
                subscription_id=w.id,
                period_index=period_index,
                threshold=percent,
                leads=leads,
                lead_id=lead.lead_id,
                external_id=lead.external_id,
                crossed_at=lead.counted_at,
            )
            slot = (w.id, period_index, percent)
            if slot not in first or crossing.crossed_at < first[slot].crossed_at:
                first[slot] = crossing
    candidates = list(first.values())
    if not candidates:
        return []
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
    new = [c for c in candidates if (c.subscription_id, c.period_index, c.threshold) in inserted]
    # usage.threshold_reached goes to the webhook outbox in the same transaction.
    included = {w.id: w.included_leads for w in watched}
    emit_many(
        session,
        [
            Event(
                c.account_id,
                webhook_events.USAGE_THRESHOLD_REACHED,
                webhook_events.threshold_data(
                    subscription_id=c.subscription_id,
                    period_index=c.period_index,
                    threshold=c.threshold,
                    leads=c.leads,
                    included_leads=included[c.subscription_id],
                    lead_id=c.external_id,
                    crossed_at=c.crossed_at,
                ),
                c.crossed_at,
            )
            for c in new
        ],
    )
    # And the usage alert e-mails, in the same transaction (one insert for all).
    queue_thresholds_reached(
        session,
        [(c.account_id, inserted[(c.subscription_id, c.period_index, c.threshold)]) for c in new],
        created_at=as_of,
    )
    return new


def crossings_of(session: Session, subscription_id: int, period_index: int) -> list[CrossingRow]:
    """The crossings recorded for one period of a subscription, lowest threshold first."""
    return repository.crossings(session, subscription_id, period_index)
