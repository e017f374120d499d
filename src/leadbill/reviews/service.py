"""Review use cases: submit (R13), reply, the queue, one review, the audit trail, statistics.

Decisions, which move money, are a multi-step workflow in `reviews.flows`.
Every step writes one `review_events` row: who, when, what.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from leadbill.accounts.models import Account
from leadbill.accounts.service import get_account
from leadbill.core.billability import NON_BILLABLE_REASONS, Reason
from leadbill.core.errors import RuleViolation
from leadbill.core.periods import require_utc
from leadbill.core.reviews import (
    NOTE_MAX,
    Condition,
    Refusal,
    ReviewOutcome,
    ReviewStatistics,
    Status,
    check_explanation,
    check_text,
    due_at,
    eligibility,
    is_overdue,
    review_statistics,
)
from leadbill.errors import Conflict, InvalidInput, NotFound, from_rule
from leadbill.leads.models import Lead
from leadbill.reviews import repository
from leadbill.reviews.calendar import ReviewConfig, review_config
from leadbill.reviews.models import Review, ReviewEvent
from leadbill.webhooks import events
from leadbill.webhooks.service import emit


class NotEligible(Conflict):
    """A lead that R13 does not let a customer submit; names the failed condition."""

    def __init__(self, lead_id: str, condition: Condition, text: str) -> None:
        super().__init__(
            f"lead {lead_id} is not eligible for review: {text} (condition: {condition})"
        )
        self.condition = condition


def utc(value: datetime, field: str = "as_of") -> datetime:
    """An instant in UTC, or the shell's invalid-input error."""
    try:
        return require_utc(value, field)
    except RuleViolation as error:
        raise from_rule(error) from None


def checked(value: str, field: str, minimum: int = 1, maximum: int = NOTE_MAX) -> str:
    """A stripped free text within bounds, or InvalidInput naming the field."""
    try:
        return check_text(value or "", field, minimum, maximum)
    except RuleViolation as error:
        raise from_rule(error) from None


def non_billable_reason(value: str) -> Reason:
    """One reason of the R10 vocabulary."""
    allowed = {reason.value: reason for reason in NON_BILLABLE_REASONS}
    if value.strip() not in allowed:
        raise InvalidInput("reason", f"{value!r} is not one of {', '.join(allowed)}")
    return allowed[value.strip()]


def record_event(
    session: Session, review: Review, kind: str, actor: str, at: datetime, detail: str
) -> None:
    """Append one entry to the audit trail."""
    session.add(
        ReviewEvent(
            account_id=review.account_id,
            review_id=review.id,
            lead_id=review.lead_id,
            kind=kind,
            actor=actor,
            at=at,
            detail=detail,
        )
    )


def find_lead(session: Session, account: Account, lead_id: str) -> Lead:
    """The account's lead with this operator id; another account's lead is NotFound."""
    lead = session.scalar(
        select(Lead).where(Lead.account_id == account.id, Lead.external_id == lead_id.strip())
    )
    if lead is None:
        raise NotFound(f"lead {lead_id!r} does not exist on account {account.code!r}")
    return lead


def review_eligibility(
    session: Session,
    account: Account,
    lead_id: str,
    *,
    as_of: datetime,
    config: ReviewConfig | None = None,
) -> Refusal | None:
    """Whether the account's lead may be submitted at `as_of` (R13): None, or why not."""
    config = config or review_config()
    lead = find_lead(session, account, lead_id)
    return eligibility(
        repository.review_facts(session, lead), utc(as_of), config.rules, account.time_zone
    )


def submit_review(
    session: Session,
    account_code: str,
    lead_id: str,
    *,
    reason: str,
    explanation: str,
    submitted_by: str,
    as_of: datetime,
    config: ReviewConfig | None = None,
) -> Review:
    """A customer submits one lead for review (R13); refused with the failed condition."""
    as_of = utc(as_of)
    config = config or review_config()
    chosen = non_billable_reason(reason)
    try:
        text = check_explanation(explanation or "")
    except RuleViolation as error:
        raise from_rule(error) from None
    actor = checked(submitted_by, "by", 1, 200)
    account = get_account(session, account_code)
    lead = find_lead(session, account, lead_id)
    existing = session.scalar(select(Review).where(Review.lead_id == lead.id))
    if existing is not None:
        state = "still open" if existing.status in ("open", "info_requested") else "final"
        raise Conflict(
            f"lead {lead.external_id} already has review {existing.id} ({existing.status}); "
            f"a lead is reviewed once and that review is {state}"
        )
    refusal = eligibility(
        repository.review_facts(session, lead), as_of, config.rules, account.time_zone
    )
    if refusal is not None:
        raise NotEligible(lead.external_id, refusal.condition, refusal.text)
    review = Review(
        account_id=account.id,
        lead_id=lead.id,
        reason=chosen.value,
        explanation=text,
        status=Status.OPEN.value,
        submitted_by=actor,
        submitted_at=as_of,
        due_at=due_at(as_of, config.time_zone, config.rules.business_days, config.holidays),
    )
    try:
        with session.begin_nested():
            session.add(review)
            session.flush()
    except IntegrityError:
        # Two submissions at once: the database keeps one review per lead.
        raise Conflict(f"lead {lead.external_id} already has a review") from None
    record_event(session, review, "submitted", actor, as_of, f"{chosen.value}: {text}")
    announce(session, review, lead.external_id, events.REVIEW_SUBMITTED, as_of)
    session.flush()
    return review


# The decision's name in review.decided payloads (docs/webhooks.md).
DECISION_NAMES = {
    "approved": "approved",
    "rejected": "rejected",
    "info_requested": "more_information",
}


def announce(
    session: Session,
    review: Review,
    lead_id: str,
    event_type: str,
    occurred_at: datetime,
    note: str | None = None,
) -> None:
    """Queue review.submitted or review.decided in the change's own transaction."""
    decided = event_type == events.REVIEW_DECIDED
    emit(
        session,
        review.account_id,
        event_type,
        events.review_data(
            review_id=review.id,
            lead_id=lead_id,
            status=review.status,
            reason=review.reason,
            explanation=review.explanation,
            submitted_at=review.submitted_at,
            due_at=review.due_at,
            decision=DECISION_NAMES.get(review.status) if decided else None,
            decided_at=occurred_at if decided else None,
            note=note,
        ),
        occurred_at=occurred_at,
    )


def get_review(session: Session, review_id: int, *, account_id: int | None = None) -> Review:
    """One review; with `account_id` (a customer's own account), another account's is NotFound."""
    query = select(Review).where(Review.id == review_id)
    if account_id is not None:
        query = query.where(Review.account_id == account_id)
    review = session.scalar(query)
    if review is None:
        raise NotFound(f"review {review_id} does not exist")
    return review


def reply_to_review(
    session: Session,
    review_id: int,
    *,
    message: str,
    replied_by: str,
    as_of: datetime,
    account_id: int | None = None,
    config: ReviewConfig | None = None,
) -> Review:
    """The customer answers a request for information; the review returns to the queue.

    The reply restarts the clock: the decision is due the configured business
    days after the reply (the reviewer now has what was asked for).
    """
    as_of = utc(as_of)
    config = config or review_config()
    text = checked(message, "message", 1, NOTE_MAX)
    actor = checked(replied_by, "by", 1, 200)
    review = get_review(session, review_id, account_id=account_id)
    due = due_at(as_of, config.time_zone, config.rules.business_days, config.holidays)
    moved = session.execute(  # type: ignore[attr-defined]
        update(Review)
        .where(Review.id == review.id, Review.status == Status.INFO_REQUESTED.value)
        .values(status=Status.OPEN.value, due_at=due)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not moved:
        session.refresh(review)
        raise Conflict(
            f"review {review.id} is {review.status}; a reply answers a request for information"
        )
    session.refresh(review)
    record_event(session, review, "replied", actor, as_of, text)
    session.flush()
    return review


@dataclass(frozen=True, slots=True)
class QueueEntry:
    """A review in a listing, with its account, lead and whether it is overdue."""

    review: Review
    account_code: str
    lead_id: str
    overdue: bool


@dataclass(frozen=True, slots=True)
class Queue:
    """Reviews oldest due first, and the counts of the queue."""

    entries: list[QueueEntry]
    open: int
    overdue: int
    waiting: int


STATUS_FILTERS = {
    "open": ("open",),
    "info_requested": ("info_requested",),
    "approved": ("approved",),
    "rejected": ("rejected",),
    "undecided": ("open", "info_requested"),
    "all": None,
}


def review_queue(
    session: Session, *, as_of: datetime, account_code: str | None = None, status: str = "open"
) -> Queue:
    """The review queue: open reviews oldest due first, with open / overdue / waiting counts."""
    as_of = utc(as_of)
    if status not in STATUS_FILTERS:
        raise InvalidInput("status", f"{status!r} is not one of {', '.join(STATUS_FILTERS)}")
    account_id = get_account(session, account_code).id if account_code else None
    rows = repository.reviews_with_leads(
        session, account_id=account_id, statuses=STATUS_FILTERS[status]
    )
    entries = [
        QueueEntry(review, code, lead, is_overdue(Status(review.status), review.due_at, as_of))
        for review, code, lead in rows
    ]
    open_, overdue, waiting = repository.queue_counts(session, as_of, account_id)
    return Queue(entries, open_, overdue, waiting)


@dataclass(frozen=True, slots=True)
class TrailEntry:
    """One audit entry with the operator lead id."""

    review_id: int
    lead_id: str
    kind: str
    actor: str
    at: datetime
    detail: str


def audit_trail(
    session: Session,
    account_code: str,
    *,
    lead_id: str | None = None,
    review_id: int | None = None,
) -> list[TrailEntry]:
    """Every submission, decision, reply and credit of an account (or one lead / review)."""
    account = get_account(session, account_code)
    lead = find_lead(session, account, lead_id).id if lead_id else None
    return [
        TrailEntry(event.review_id, external, event.kind, event.actor, event.at, event.detail)
        for event, external in repository.trail(
            session, account_id=account.id, lead_id=lead, review_id=review_id
        )
    ]


def conversations(session: Session, review_ids: list[int]) -> dict[int, list[TrailEntry]]:
    """Each review's questions from the reviewer and replies from the customer, oldest first."""
    found: dict[int, list[TrailEntry]] = {}
    for event in repository.conversation_events(session, review_ids):
        found.setdefault(event.review_id, []).append(
            TrailEntry(event.review_id, "", event.kind, event.actor, event.at, event.detail)
        )
    return found


def statistics(
    session: Session, account_code: str, *, start: datetime, end: datetime, as_of: datetime
) -> ReviewStatistics:
    """Review figures of an account for reviews submitted in `[start, end)`.

    Leads reviewed counts the distinct leads with a review submitted in the span
    or a staff decision made in it (proactive review, R16).
    """
    start, end, as_of = utc(start, "from"), utc(end, "to"), utc(as_of)
    if end <= start:
        raise InvalidInput("to", "must be after from")
    account = get_account(session, account_code)
    reviews = repository.reviews_submitted(session, account.id, start, end)
    leads = {r.lead_id for r in reviews} | repository.leads_decided(session, account.id, start, end)
    outcomes = [
        ReviewOutcome(Status(r.status), r.submitted_at, r.due_at, r.decided_at) for r in reviews
    ]
    return review_statistics(outcomes, len(leads), as_of)
