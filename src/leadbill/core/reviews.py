"""Reviews (disputes, R13-R15): eligibility, business-day due dates, credits, statistics.

Pure rules: the instant of submission, the operator's time zone and holiday
calendar are passed in; nothing here reads a clock or a holiday library.

- Eligibility (R13): a lead may be submitted only if its call was answered, it
  was received less than the review window (7 days) before submission, and
  call recording was enabled when it was received; and a lead is reviewed
  once. The first condition that fails is named, in words a customer reads
  (the window's with the instant it closed).
- Due date (R14): N business days (3) after submission, counted in the
  operator's time zone, skipping weekends and the operator's public holidays.
- Credit (R15): the difference between what an invoice charged for a period
  and the period re-rated with the lead excluded, per line, never more than
  what the invoice charged (less credits already issued against it).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Container, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from fractions import Fraction

from leadbill.core.billability import EventType
from leadbill.core.errors import RuleViolation
from leadbill.core.money import Money
from leadbill.core.periods import _wall_to_utc, check_time_zone, require_utc
from leadbill.core.rating import Line, LineKind

EXPLANATION_MIN = 20
EXPLANATION_MAX = 2000
NOTE_MAX = 2000


class Condition(enum.StrEnum):
    """An eligibility condition of R13; a refusal names the one that failed."""

    RECEIVED = "received"
    REVIEWED = "reviewed"
    ANSWERED = "answered"
    WINDOW = "window"
    RECORDING = "recording"


CONDITION_TEXT = {
    Condition.RECEIVED: "the lead was never received",
    Condition.REVIEWED: "the lead was already submitted for review (a lead is reviewed once)",
    Condition.ANSWERED: "the call was not answered",
    Condition.WINDOW: "the lead was received {window} or more before submission",
    Condition.RECORDING: "call recording was not enabled when the lead was received",
}

# Call results that say a person picked up. A wrong number is known only because
# somebody answered: it is the first non-billable reason of R10, which is about
# answered calls (seed 002). Voicemail, no answer, busy: nobody did (a missed call,
# billable and not reviewable, R11).
ANSWERED_RESULTS = frozenset({"answered", "wrong_number"})
# How a refusal says what became of an unanswered lead's last call.
UNANSWERED_TEXT = {
    "voicemail": "it went to voicemail",
    "no_answer": "nobody picked up",
    "busy": "the line was busy",
    "missed": "it was missed",
    EventType.CALL_MISSED.value: "it was missed",
}


class Status(enum.StrEnum):
    """Where a review stands: open in the queue, waiting for the customer, or decided."""

    OPEN = "open"
    INFO_REQUESTED = "info_requested"
    APPROVED = "approved"
    REJECTED = "rejected"


OPEN_STATUSES = (Status.OPEN, Status.INFO_REQUESTED)
DECIDED_STATUSES = (Status.APPROVED, Status.REJECTED)

# A status as people read it: the portal's pages, staff and customer alike.
STATUS_TEXT = {
    Status.OPEN: "Under review",
    Status.INFO_REQUESTED: "More information requested",
    Status.APPROVED: "Approved: not billed",
    Status.REJECTED: "Rejected: stays billable",
}


def status_label(status: str) -> str:
    """A review status in words (an unknown code is shown as it is)."""
    try:
        return STATUS_TEXT[Status(status)]
    except ValueError:
        return status


class Decision(enum.StrEnum):
    """What a reviewer decides."""

    APPROVE = "approve"
    REJECT = "reject"
    REQUEST_INFO = "request-info"


@dataclass(frozen=True, slots=True)
class ReviewRules:
    """The operator's review settings (R13, R14)."""

    window: timedelta = timedelta(days=7)
    require_answered: bool = True
    require_recording: bool = True
    business_days: int = 3


@dataclass(frozen=True, slots=True)
class ReviewFacts:
    """What eligibility needs to know about one lead.

    `last_call_result` (the last call's result, else its event type) and `calls`
    only word a refusal; `reviewed` is whether the lead already has a review.
    """

    received_at: datetime | None
    answered: bool
    recording_enabled: bool
    calls: int = 1
    last_call_result: str | None = None
    reviewed: bool = False


def call_answered(calls: Iterable[tuple[str, str | None]]) -> bool:
    """Whether a call of the lead reached a person (R13), from (event type, result) pairs.

    A `call_answered` event, or a `call_attempted` whose result says someone picked
    up (`answered`, `wrong_number`). A `call_missed` never did.
    """
    return any(
        kind == EventType.CALL_ANSWERED.value
        or (kind == EventType.CALL_ATTEMPTED.value and result in ANSWERED_RESULTS)
        for kind, result in calls
    )


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a lead may not be submitted: the failed condition and a sentence.

    `deadline` is the instant the review window closed (the window condition).
    """

    condition: Condition
    text: str
    deadline: datetime | None = None


def _describe(window: timedelta) -> str:
    days, seconds = window.days, window.seconds
    if seconds == 0:
        return f"{days} day{'s' if days != 1 else ''}"
    return str(window)


def _wall(instant: datetime, time_zone: str) -> str:
    local = instant.astimezone(check_time_zone(time_zone))
    return f"{local:%b} {local.day}, {local:%Y} at {local:%H:%M} ({time_zone})"


def _unanswered(facts: ReviewFacts) -> str:
    if facts.calls == 0:
        return "the call was not answered: the lead was never called"
    result = facts.last_call_result
    what = UNANSWERED_TEXT.get(result or "", f"its result was {result}" if result else "")
    base = CONDITION_TEXT[Condition.ANSWERED]
    return f"{base}: no call reached a person (the last call: {what})" if what else base


def eligibility(
    facts: ReviewFacts, submitted_at: datetime, rules: ReviewRules, time_zone: str = "UTC"
) -> Refusal | None:
    """The first R13 condition the lead fails at `submitted_at`, or None when eligible.

    In order: received, not reviewed yet, answered, inside the window, recorded.
    Instants in a refusal are written in `time_zone`.
    """
    submitted_at = require_utc(submitted_at, "submitted_at")
    if facts.received_at is None:
        return Refusal(Condition.RECEIVED, CONDITION_TEXT[Condition.RECEIVED])
    if facts.reviewed:
        return Refusal(Condition.REVIEWED, CONDITION_TEXT[Condition.REVIEWED])
    if rules.require_answered and not facts.answered:
        return Refusal(Condition.ANSWERED, _unanswered(facts))
    received = require_utc(facts.received_at, "received_at")
    if submitted_at - received >= rules.window:
        deadline = received + rules.window
        text = (
            CONDITION_TEXT[Condition.WINDOW].format(window=_describe(rules.window))
            + f": the time to submit it ended on {_wall(deadline, time_zone)}"
        )
        return Refusal(Condition.WINDOW, text, deadline)
    if rules.require_recording and not facts.recording_enabled:
        return Refusal(Condition.RECORDING, CONDITION_TEXT[Condition.RECORDING])
    return None


def check_text(value: str, field: str, minimum: int, maximum: int) -> str:
    """A free text stripped and between `minimum` and `maximum` characters."""
    text = value.strip()
    if len(text) < minimum:
        raise RuleViolation(field, f"must be at least {minimum} characters")
    if len(text) > maximum:
        raise RuleViolation(field, f"must be at most {maximum} characters")
    return text


def check_explanation(value: str) -> str:
    """A review's explanation: required, 20 to 2,000 characters."""
    return check_text(value, "explanation", EXPLANATION_MIN, EXPLANATION_MAX)


HolidayCalendar = Callable[[date], bool] | Container[date]


def _is_holiday(calendar: HolidayCalendar, day: date) -> bool:
    if callable(calendar):
        return bool(calendar(day))
    return day in calendar


def is_business_day(day: date, holidays: HolidayCalendar) -> bool:
    """Monday to Friday and not a public holiday."""
    return day.weekday() < 5 and not _is_holiday(holidays, day)


def due_at(
    submitted_at: datetime, time_zone: str, business_days: int, holidays: HolidayCalendar
) -> datetime:
    """The instant a decision is due: `business_days` business days after submission (R14).

    Counted in `time_zone`: the due instant is the same local wall-clock time on
    the N-th business day after the day of submission. A submission on a weekend
    or a holiday counts from midnight starting the next business day, so it is due
    at the end of the N-th business day after it.
    """
    if business_days < 1:
        raise RuleViolation("business_days", "must be at least 1")
    zone = check_time_zone(time_zone)
    local = require_utc(submitted_at, "submitted_at").astimezone(zone).replace(tzinfo=None)
    day, wall = local.date(), local.time()
    if not is_business_day(day, holidays):
        while not is_business_day(day, holidays):
            day += timedelta(days=1)
        wall = time(0)
    remaining = business_days
    while remaining > 0:
        day += timedelta(days=1)
        if is_business_day(day, holidays):
            remaining -= 1
    return _wall_to_utc(datetime.combine(day, wall), zone)


def is_overdue(status: Status, due: datetime, as_of: datetime) -> bool:
    """An open review whose due instant has passed at `as_of`."""
    return status is Status.OPEN and require_utc(as_of, "as_of") >= due


@dataclass(frozen=True, slots=True)
class ChargedLine:
    """A usage line of an invoice (or of a re-rating), grouped for comparison."""

    kind: str
    period_start: datetime | None
    period_end: datetime | None
    unit_price: Money
    quantity: int
    amount: Money
    description: str = ""


_Key = tuple[str, datetime | None, datetime | None, Decimal]


def _key(line: ChargedLine) -> _Key:
    return (line.kind, line.period_start, line.period_end, line.unit_price.amount)


def from_line(line: Line) -> ChargedLine:
    """A core rating line as a comparable charged line."""
    return ChargedLine(
        line.kind.value,
        line.period_start,
        line.period_end,
        line.unit_price,
        line.quantity,
        line.amount,
        line.description,
    )


def _summed(items: Iterable[ChargedLine], key: _Key, currency: str) -> tuple[int, Money]:
    """Quantity and amount of the lines with `key`."""
    amount = Money.zero(currency).rounded()
    quantity = 0
    for item in items:
        if _key(item) == key:
            amount = amount + item.amount
            quantity += item.quantity
    return quantity, amount


def credit_lines(
    invoiced: Sequence[ChargedLine],
    rerated: Sequence[ChargedLine],
    credited: Sequence[ChargedLine],
    lead_label: str,
) -> list[Line]:
    """The lines of a credit note: per invoice line, what it charged beyond the re-rating.

    Lines are matched on (kind, span, unit price), so that each category of a
    pay-per-lead period and each segment of a split period is compared with
    itself. Each credit line is the invoiced amount less the re-rated amount
    less what earlier credit notes already gave back for that line, never below
    zero and never above what the invoice line charged (R15). Amounts are
    positive (the credit note's lines); the invoice that applies it negates them.
    """
    groups: dict[_Key, list[ChargedLine]] = {}
    for line in invoiced:
        groups.setdefault(_key(line), []).append(line)
    lines: list[Line] = []
    for key, charged in groups.items():
        currency = charged[0].amount.currency
        unit = charged[0].unit_price

        charged_qty, charged_amount = _summed(charged, key, currency)
        rerated_qty, rerated_amount = _summed(rerated, key, currency)
        credited_qty, credited_amount = _summed(credited, key, currency)
        difference = charged_amount - rerated_amount - credited_amount
        ceiling = charged_amount - credited_amount
        if ceiling < difference:
            difference = ceiling
        if difference.amount <= 0:
            continue
        quantity = max(0, charged_qty - rerated_qty - credited_qty)
        kind = LineKind(key[0])
        lines.append(
            Line(
                kind=kind,
                description=f"Credit for lead {lead_label}: {charged[0].description}",
                quantity=quantity,
                unit_price=unit,
                amount=difference,
                period_start=key[1],
                period_end=key[2],
            )
        )
    return lines


def credit_to_apply(remaining: Money, invoice_total: Money) -> Money:
    """How much of a credit note an invoice takes: all of it, or up to the invoice's total.

    An invoice never goes below zero; the rest is carried forward to the next one.
    """
    if invoice_total.amount <= 0 or remaining.amount <= 0:
        return Money.zero(remaining.currency).rounded()
    return remaining if remaining <= invoice_total else invoice_total


@dataclass(frozen=True, slots=True)
class ReviewOutcome:
    """One review as the statistics see it."""

    status: Status
    submitted_at: datetime
    due_at: datetime
    decided_at: datetime | None


@dataclass(frozen=True, slots=True)
class ReviewStatistics:
    """Review figures of one account and period (proactive review statistics)."""

    leads_reviewed: int
    submitted: int
    approved: int
    rejected: int
    approval_rate: Fraction | None
    median_time_to_decision: timedelta | None
    overdue: int


def review_statistics(
    reviews: Sequence[ReviewOutcome], leads_reviewed: int, as_of: datetime
) -> ReviewStatistics:
    """Counts, approval rate (approved / decided), median time to decision, overdue.

    A review counts as overdue when it was decided after its due instant, or is
    still open past it at `as_of`.
    """
    as_of = require_utc(as_of, "as_of")
    approved = sum(1 for r in reviews if r.status is Status.APPROVED)
    rejected = sum(1 for r in reviews if r.status is Status.REJECTED)
    decided = approved + rejected
    durations = sorted(
        r.decided_at - r.submitted_at
        for r in reviews
        if r.decided_at is not None and r.status in DECIDED_STATUSES
    )
    median: timedelta | None = None
    if durations:
        middle = len(durations) // 2
        median = (
            durations[middle]
            if len(durations) % 2
            else (durations[middle - 1] + durations[middle]) / 2
        )
    overdue = sum(
        1
        for r in reviews
        if (r.decided_at is not None and r.status in DECIDED_STATUSES and r.decided_at > r.due_at)
        or (r.status is Status.OPEN and as_of >= r.due_at)
    )
    return ReviewStatistics(
        leads_reviewed=leads_reviewed,
        submitted=len(reviews),
        approved=approved,
        rejected=rejected,
        approval_rate=Fraction(approved, decided) if decided else None,
        median_time_to_decision=median,
        overdue=overdue,
    )
