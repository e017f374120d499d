"""Reports: the master call report (R9) and the billing summary of a period.

Both read a subscription's period and ask the core for every figure: whether
and why a lead counts comes from `core.billability.decide` on the lead's
events, the money from `core.rating.usage_summary`. "Counted in this period"
means the lead's counting instant lies in the period, which is what the billing
run charges (`leads.first_called_at` in `[start, end)`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from fractions import Fraction
from typing import NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from leadbill.accounts.models import Account
from leadbill.billing import repository as usage_counts
from leadbill.billing.repository import ClosingPeriod
from leadbill.context.repository import settings_of
from leadbill.core.billability import (
    CALL_EVENTS,
    REASON_TEXT,
    EventType,
    LeadContext,
    LeadEvent,
    Reason,
    counting_events,
    decide,
)
from leadbill.core.contacts import normalise_email, normalise_phone
from leadbill.core.errors import RuleViolation
from leadbill.core.money import Money
from leadbill.core.periods import Interval, Period, period_at, period_containing, require_utc
from leadbill.core.plans import CountingPolicy, PlanTerms
from leadbill.core.proration import SegmentUsage, split_usage_summary
from leadbill.core.rating import SegmentSummary, charges_per_lead, usage_summary
from leadbill.core.thresholds import reached, thresholds_of
from leadbill.errors import InvalidInput
from leadbill.leads.policies import lead_contexts
from leadbill.plans.models import Plan
from leadbill.plans.service import terms
from leadbill.reports import repository
from leadbill.reports.repository import LeadMatch
from leadbill.subscriptions.service import current_subscription
from leadbill.usage.service import (
    KnownCounts,
    crossings_of,
    period_segments,
    record_threshold_crossings,
)

DEFAULT_PAGE_SIZE = 500
# A page's lead ids go into one IN list; stay far below every driver's bind limit.
MAX_PAGE_SIZE = 1000

_REASONS = tuple(reason.value for reason in Reason)
_KNOWN_TYPES = {event_type.value: event_type for event_type in EventType}
_CALL_TYPES = frozenset(event_type.value for event_type in CALL_EVENTS)


@dataclass(frozen=True, slots=True)
class ReportScope:
    """What a report covers: one account's subscription, one period, its plan terms."""

    account_id: int
    account_code: str
    currency: str
    subscription_id: int
    plan: PlanTerms
    period: Period


@dataclass(frozen=True, slots=True)
class CallEvent:
    """One call of a lead's call history."""

    type: str
    occurred_at: datetime
    result: str | None
    duration_seconds: int | None


@dataclass(frozen=True, slots=True)
class CallReportRow:
    """One lead of the master call report, with its call history and verdict.

    `counted` says whether the lead counts in the report's period; `billable`,
    `reason` and `counted_at` are the core's verdict on the lead's events.
    """

    lead_id: str
    seat_code: str | None
    name: str | None
    phone: str | None
    email: str | None
    postal_code: str | None
    source: str | None
    received_at: datetime | None
    calls: int
    last_call_result: str | None
    last_call_at: datetime | None
    call_history: tuple[CallEvent, ...]
    billable: bool
    counted: bool
    reason: str
    reason_text: str
    counted_at: datetime | None
    category: str | None = None
    duplicate_of: str | None = None  # the operator id of the earlier lead a repeat repeats


@dataclass(frozen=True, slots=True)
class CallReportPage:
    """One page of the call report; `next_after` continues it (None: last page)."""

    rows: list[CallReportRow]
    next_after: str | None


@dataclass(frozen=True, slots=True)
class CallReport:
    """The whole call report of one period."""

    scope: ReportScope
    rows: list[CallReportRow]

    @property
    def counted_leads(self) -> int:
        """Leads of the report that count in its period."""
        return sum(1 for row in self.rows if row.counted)


@dataclass(frozen=True, slots=True)
class ThresholdFlag:
    """A usage threshold of the period: `threshold` % of the included leads (`leads`).

    `crossed_at` and `lead_id` are the recorded crossing: the counted instant
    and operator id of the lead that reached it (None while not reached).
    """

    threshold: int
    leads: int
    reached: bool
    crossed_at: datetime | None
    lead_id: str | None


class DayUsage(NamedTuple):
    """Leads counted on one local day of the period (the account's time zone)."""

    day: date
    counted_leads: int


class SeatUsage(NamedTuple):
    """Leads counted in the period for one seat (None: leads without a seat)."""

    seat_code: str | None
    counted_leads: int


@dataclass(frozen=True, slots=True)
class BillingSummary:
    """Where an account stands in its current period, and where it is heading.

    The figures are the core's `UsageSummary` of the period, spelled out.
    """

    account_code: str
    currency: str
    plan_code: str
    plan_name: str
    fee: Money
    per_lead_rate: Money
    period: Period
    as_of: datetime
    counted_leads: int
    included_leads: int
    remaining_leads: int
    overage_leads: int
    overage_so_far: Money
    projected_leads: int
    projected_overage: Money
    projected_cost: Money
    elapsed_share: Fraction
    counted_by_seat: tuple[SeatUsage, ...]
    thresholds: tuple[ThresholdFlag, ...] = ()
    # A period split by a plan change: each segment as the billing run rates it (R7).
    segments: tuple[SegmentSummary, ...] = ()
    # Pay per lead (R10): every counted lead is charged; "overage" is that charge.
    charges_per_lead: bool = False
    # Each local day from the period start to as_of (`day_spans`), read with the other
    # figures; None when the period is split by a plan change (not read then).
    counted_by_day: tuple[DayUsage, ...] | None = None

    @property
    def period_start(self) -> datetime:
        """Start of the period (inclusive)."""
        return self.period.start

    @property
    def period_end(self) -> datetime:
        """End of the period (exclusive)."""
        return self.period.end


def _instant(value: datetime, field: str) -> datetime:
    try:
        return require_utc(value, field)
    except RuleViolation as error:
        raise InvalidInput(field, error.reason) from None


def report_scope(
    session: Session,
    account: Account,
    *,
    as_of: datetime,
    period_index: int | None = None,
    in_period: datetime | None = None,
) -> ReportScope:
    """The account's subscription period a report covers, with the plan in force in it.

    By default the period containing `as_of`; otherwise period number
    `period_index` (0 is the first), or the period containing `in_period`.
    """
    as_of = _instant(as_of, "as_of")
    if period_index is not None and in_period is not None:
        raise InvalidInput("period", "choose a period by index or by a date in it, not both")
    subscription = current_subscription(session, account)
    subscribed_plan = session.get_one(Plan, subscription.plan_id)
    interval = Interval(subscribed_plan.interval)
    anchor = subscription.anchor_at
    try:
        if period_index is not None:
            period = period_at(anchor, account.time_zone, interval, period_index)
        else:
            field = "as_of" if in_period is None else "date"
            instant = as_of if in_period is None else _instant(in_period, field)
            if instant < anchor:
                raise InvalidInput(
                    field, f"{instant:%Y-%m-%d %H:%M} UTC precedes the subscription start"
                )
            period = period_containing(anchor, account.time_zone, interval, instant)
    except RuleViolation as error:
        raise InvalidInput("period", error.reason) from None
    # The plan in force at as_of (or at the period's last instant for a past period);
    # a period the billing run has not opened yet is on the subscription's plan.
    reference = max(period.start, min(as_of, period.end - timedelta(microseconds=1)))
    plan_id = repository.plan_in_force(session, subscription.id, period.index, reference)
    if plan_id is None or plan_id == subscribed_plan.id:
        plan = subscribed_plan
    else:
        plan = session.get_one(Plan, plan_id)
    return ReportScope(
        account_id=account.id,
        account_code=account.code,
        currency=account.currency,
        subscription_id=subscription.id,
        plan=terms(plan),
        period=period,
    )


def _reason_text(
    reason_text: str, counted: bool, counted_at: datetime | None, period: Period
) -> str:
    # A lead whose counting instant lies in the period but that does not count is
    # excluded (a non-billable reason): its own reason says why.
    if counted or counted_at is None or period.contains(counted_at):
        return reason_text
    when = "an earlier" if counted_at < period.start else "a later"
    return (
        f"not counted in this period: it counts in {when} period ({counted_at:%Y-%m-%d %H:%M} UTC)"
    )


def _row(
    lead: repository.LeadRow,
    events: Sequence[repository.EventRow],
    scope: ReportScope,
    context: LeadContext | None = None,
    names: dict[int, str] | None = None,
) -> CallReportRow:
    core_events = [
        LeadEvent(_KNOWN_TYPES[event.type], event.occurred_at)
        for event in events
        if event.type in _KNOWN_TYPES
    ]
    verdict = decide(scope.plan.counting_policy, core_events, context)
    counted = (
        verdict.billable
        and verdict.counted_at is not None
        and scope.period.contains(verdict.counted_at)
    )
    history = tuple(
        CallEvent(event.type, event.occurred_at, event.call_result, event.duration_seconds)
        for event in events
        if event.type in _CALL_TYPES
    )
    last = history[-1] if history else None
    reason_text = _reason_text(
        REASON_TEXT[verdict.reason], counted, verdict.counted_at, scope.period
    )
    duplicate_of = None
    if verdict.duplicate_of is not None and names:
        # R12: a repeat caller points at the earlier lead it repeats.
        duplicate_of = names.get(verdict.duplicate_of)
        if duplicate_of is not None and not verdict.billable:
            reason_text += f" (the same caller as lead {duplicate_of}, within the window)"
    return CallReportRow(
        lead_id=lead.external_id,
        seat_code=lead.seat_code,
        name=lead.name,
        phone=lead.phone,
        email=lead.email,
        postal_code=lead.postal_code,
        source=lead.source,
        received_at=lead.received_at,
        calls=len(history),
        # A call event without a result is reported by its type (call_missed, ...).
        last_call_result=(last.result or last.type) if last else None,
        last_call_at=last.occurred_at if last else None,
        call_history=history,
        billable=verdict.billable,
        counted=counted,
        reason=verdict.reason.value,
        reason_text=reason_text,
        counted_at=verdict.counted_at,
        category=lead.category,
        duplicate_of=duplicate_of,
    )


def call_report_page(
    session: Session,
    scope: ReportScope,
    *,
    after: str | None = None,
    limit: int = DEFAULT_PAGE_SIZE,
    match: repository.LeadMatch | None = None,
) -> CallReportPage:
    """One page of the master call report (R9), by operator lead id after `after`.

    Two queries per page whatever its size: the leads, then all their events
    (and, under a per-lead policy, a few for their context: leads.policies).
    """
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidInput("limit", f"must be between 1 and {MAX_PAGE_SIZE}")
    leads = repository.leads_page(
        session, scope.account_id, scope.period, after=after, limit=limit, match=match
    )
    events = repository.events_of(session, scope.account_id, [lead.id for lead in leads])
    by_lead: dict[int, list[repository.EventRow]] = {}
    for event in events:
        by_lead.setdefault(event.lead_id, []).append(event)
    # Per-lead policies decide with the lead's context (R10-R12, R16-R18), as billing does.
    # Under `called` only a staff decision or an approved review excludes: the contexts
    # of the page's leads that carry one.
    decided = (
        [lead.id for lead in leads]
        if scope.plan.counting_policy is not CountingPolicy.CALLED
        else [lead.id for lead in leads if lead.decision_reason is not None]
    )
    contexts = lead_contexts(session, decided) if decided else {}
    earlier = {other.lead_id for context in contexts.values() for other in context.earlier}
    names = repository.external_ids(session, scope.account_id, sorted(earlier))
    rows = [
        _row(lead, by_lead.get(lead.id, []), scope, contexts.get(lead.id), names) for lead in leads
    ]
    next_after = rows[-1].lead_id if len(rows) == limit else None
    return CallReportPage(rows, next_after)


def iter_call_report(
    session: Session, scope: ReportScope, *, page_size: int = DEFAULT_PAGE_SIZE
) -> Iterator[CallReportRow]:
    """Every row of the call report, read page by page (keyset pagination)."""
    after: str | None = None
    while True:
        page = call_report_page(session, scope, after=after, limit=page_size)
        yield from page.rows
        if page.next_after is None:
            return
        after = page.next_after


def call_report(
    session: Session,
    account: Account,
    *,
    as_of: datetime,
    period_index: int | None = None,
    in_period: datetime | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
) -> CallReport:
    """The master call report of one period (default: the one containing `as_of`)."""
    scope = report_scope(
        session, account, as_of=as_of, period_index=period_index, in_period=in_period
    )
    return CallReport(scope, list(iter_call_report(session, scope, page_size=page_size)))


# Synthetic period indexes of the spans a summary counts in (real periods are >= 0).
_DAY_INDEX_BASE = -1_000_000
_REST_OF_PERIOD = -1


def day_spans(
    period: Period, as_of: datetime, time_zone: str
) -> list[tuple[date, datetime, datetime]]:
    """Each local day from the period start to `as_of` (or the period end), as (day, start, end).

    The spans are the days in `time_zone`, cut to the period: consecutive, half-open.
    """
    zone = ZoneInfo(time_zone)
    first = period.start.astimezone(zone).date()
    last = min(as_of, period.end - timedelta(microseconds=1)).astimezone(zone).date()
    spans = []
    day = first
    while day <= last:
        start = max(period.start, _midnight(day, zone))
        end = min(period.end, _midnight(day + timedelta(days=1), zone))
        spans.append((day, start, end))
        day += timedelta(days=1)
    return spans


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(ZoneInfo("UTC"))


@dataclass(frozen=True, slots=True)
class _PeriodUsage:
    by_seat: dict[int | None, int]
    by_category: dict[str | None, int]
    by_day: tuple[DayUsage, ...]


def _period_usage(
    session: Session, scope: ReportScope, days: list[tuple[date, datetime, datetime]]
) -> _PeriodUsage:
    """The period's counted leads per seat, per category and per local day, in one statement.

    The period is cut into the days up to as_of and the rest of it, each a span of
    the billing run's counting query; the sums over the spans are the period's.
    """
    spans = [
        ClosingPeriod(scope.subscription_id, _DAY_INDEX_BASE - n, scope.account_id, start, end)
        for n, (_day, start, end) in enumerate(days)
    ]
    rest = days[-1][2] if days else scope.period.start
    if rest < scope.period.end:
        spans.append(
            ClosingPeriod(
                scope.subscription_id, _REST_OF_PERIOD, scope.account_id, rest, scope.period.end
            )
        )
    counts = usage_counts.counted_by_seat_and_category(session, spans, scope.plan.counting_policy)
    by_seat: dict[int | None, int] = {}
    by_category: dict[str | None, int] = {}
    for groups in counts.values():
        for (seat, category), count in groups.items():
            by_seat[seat] = by_seat.get(seat, 0) + count
            by_category[category] = by_category.get(category, 0) + count
    by_day = tuple(
        DayUsage(
            day,
            sum(counts.get((scope.subscription_id, span.period_index), {}).values()),
        )
        for (day, _start, _end), span in zip(days, spans[: len(days)], strict=True)
    )
    return _PeriodUsage(by_seat, by_category, by_day)


def billing_summary(session: Session, account: Account, as_of: datetime) -> BillingSummary:
    """Usage, allowance, overage so far and projected cost of the period containing `as_of`.

    The figures are what the billing run will invoice for the period: leads counted
    under the plan's counting policy by the run's own queries; pay-per-lead leads
    priced by category (R10); a period split by a plan change rated per segment (R7).
    """
    scope = report_scope(session, account, as_of=as_of)
    as_of = _instant(as_of, "as_of")
    policy = scope.plan.counting_policy
    span = ClosingPeriod(
        scope.subscription_id,
        scope.period.index,
        scope.account_id,
        scope.period.start,
        scope.period.end,
    )
    segments = period_segments(session, [(span, scope.plan)])[
        (scope.subscription_id, scope.period.index)
    ]
    by_seat: dict[int | None, int] = {}
    period_usage = None
    if len(segments) == 1:
        # One statement for the usage per seat, per category and per day.
        period_usage = _period_usage(
            session, scope, day_spans(scope.period, as_of, account.time_zone)
        )
        by_seat = period_usage.by_seat
    elif counting_events(policy):
        by_seat = repository.counted_leads_by_seat(session, scope.account_id, scope.period, policy)
    seats = [
        SeatUsage(code, by_seat.get(seat_id, 0))
        for seat_id, code in repository.seat_codes(session, scope.account_id)
    ]
    if None in by_seat:
        seats.append(SeatUsage(None, by_seat[None]))
    known: KnownCounts | None = None
    if len(segments) > 1:
        keys = [
            ClosingPeriod(scope.subscription_id, -1 - n, scope.account_id, seg.start, seg.end)
            for n, seg in enumerate(segments)
        ]
        counts = usage_counts.counted_leads(session, keys, policy)
        usage = split_usage_summary(
            scope.period,
            [
                SegmentUsage(
                    seg.plan, seg.start, seg.end, counts.get((k.subscription_id, k.period_index), 0)
                )
                for seg, k in zip(segments, keys, strict=True)
            ],
            as_of,
            account.time_zone,
        )
        in_force = next((seg for seg in reversed(segments) if seg.start <= as_of), segments[0])
        position = segments.index(in_force)
        allowance = in_force.allowance
        counted_in_force = usage.segments[position].counted_leads
    else:
        assert period_usage is not None
        by_category = period_usage.by_category
        counted = sum(by_category.values())
        usage = usage_summary(scope.plan, scope.period, counted, as_of, by_category)
        allowance, counted_in_force = scope.plan.included_leads, counted
        known = {(scope.account_id, policy, scope.period.start, scope.period.end): counted}
    thresholds = _threshold_flags(session, scope, allowance, counted_in_force, as_of, known)
    return BillingSummary(
        account_code=scope.account_code,
        currency=scope.currency,
        plan_code=scope.plan.code,
        plan_name=scope.plan.name,
        fee=scope.plan.fee,
        per_lead_rate=scope.plan.per_lead_rate,
        period=scope.period,
        as_of=as_of,
        counted_leads=usage.counted_leads,
        included_leads=usage.included_leads,
        remaining_leads=usage.remaining_leads,
        overage_leads=usage.overage_leads,
        overage_so_far=usage.overage_so_far,
        projected_leads=usage.projected_leads,
        projected_overage=usage.projected_overage,
        projected_cost=usage.projected_cost,
        elapsed_share=usage.elapsed_share,
        counted_by_seat=tuple(seats),
        thresholds=thresholds,
        segments=usage.segments,
        charges_per_lead=charges_per_lead(scope.plan),
        counted_by_day=None if period_usage is None else period_usage.by_day,
    )


def _threshold_flags(
    session: Session,
    scope: ReportScope,
    allowance: int,
    counted: int,
    as_of: datetime,
    known: KnownCounts | None = None,
) -> tuple[ThresholdFlag, ...]:
    """The period's 80 % and 100 % flags; crossings not yet recorded are recorded here.

    Measured against the allowance of the segment in force (the whole period when
    no plan change split it); a crossing is recorded once per period. `known`: the
    counts the summary already read, which the recording does not read again.
    """
    record_threshold_crossings(session, [scope.account_id], as_of, known, screen=False)
    recorded = {
        row.threshold: row
        for row in crossings_of(session, scope.subscription_id, scope.period.index)
    }
    return tuple(
        ThresholdFlag(
            threshold=percent,
            leads=recorded[percent].leads if percent in recorded else leads,
            reached=percent in recorded or percent in reached(allowance, counted),
            crossed_at=recorded[percent].crossed_at if percent in recorded else None,
            lead_id=recorded[percent].external_id if percent in recorded else None,
        )
        for percent, leads in thresholds_of(allowance).items()
    )


# A filtered page reads at most this many pages of leads: a rare verdict cannot make
# one request scan a whole period; the page comes back shorter, with a cursor.
SCANNED_PAGES = 10


@dataclass(frozen=True, slots=True)
class CallReportFilter:
    """What a call report keeps (None: anything): a seat code, counted or not, a reason
    code, a phone or an e-mail (compared normalised, as lead policies compare them)."""

    seat: str | None = None
    counted: bool | None = None
    reason: str | None = None
    phone: str | None = None
    email: str | None = None


def _lead_match(session: Session, scope: ReportScope, wanted: CallReportFilter) -> LeadMatch:
    seat_id = None
    if wanted.seat is not None:
        seat_id = repository.seat_id(session, scope.account_id, wanted.seat)
        if seat_id is None:
            raise InvalidInput("seat", f"{wanted.seat!r} is not a seat of {scope.account_code}")
    phone_e164 = phone_text = email_key = email_text = None
    if wanted.phone is not None:
        region = settings_of(session, [scope.account_id])[scope.account_id][0]
        phone_e164 = normalise_phone(wanted.phone, region)
        phone_text = wanted.phone.strip()
    if wanted.email is not None:
        email_key = normalise_email(wanted.email)
        email_text = wanted.email.strip()
    return LeadMatch(seat_id, phone_e164, phone_text, email_key, email_text)


def filtered_call_report_page(
    session: Session,
    scope: ReportScope,
    wanted: CallReportFilter,
    *,
    after: str | None = None,
    limit: int = DEFAULT_PAGE_SIZE,
) -> CallReportPage:
    """One page of the call report narrowed by `wanted`.

    Seat, phone and e-mail narrow the query; counted and reason are the core's
    verdict on each lead (`decide`), so they are applied to the rows it gives.
    Up to SCANNED_PAGES pages of leads are read for one page: a page may hold
    fewer than `limit` rows and still have a next cursor.
    """
    if wanted.reason is not None and wanted.reason not in _REASONS:
        raise InvalidInput("reason", f"{wanted.reason!r} is not one of {', '.join(_REASONS)}")
    match = _lead_match(session, scope, wanted)
    if wanted.counted is None and wanted.reason is None:
        return call_report_page(session, scope, after=after, limit=limit, match=match)
    kept: list[CallReportRow] = []
    batch = max(limit, 100)
    for _ in range(SCANNED_PAGES):
        page = call_report_page(session, scope, after=after, limit=batch, match=match)
        for row in page.rows:
            if (wanted.counted is None or row.counted == wanted.counted) and (
                wanted.reason is None or row.reason == wanted.reason
            ):
                kept.append(row)
                if len(kept) == limit:
                    return CallReportPage(kept, row.lead_id)
        if page.next_after is None:
            return CallReportPage(kept, None)
        after = page.next_after
    return CallReportPage(kept, after)
