"""The decision workflow of a review (R14, R15): approve, reject, or ask for more.

Approving is the multi-step one:

1. the review moves from undecided to approved in one conditional UPDATE (a
   second approval, at once or later, changes no row and is refused);
2. the lead's non-billable decision is recorded through the staff-decision
   mechanism (leads.decisions), so usage, the call report and explain see it;
3. if the lead's period is not invoiced yet, that is all: it no longer counts;
4. if it is, the period is re-rated from its leads by the billing run's own
   rating (billing.service.rate_boundaries), and what the invoice charged beyond
   the re-rating (less earlier credits) becomes a credit note, issued once per
   review (unique in the database), applied to the account's next invoice.

The account's subscriptions are locked first, so that a billing run cannot
invoice the period between steps 3 and 4.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from leadbill.accounts.models import Account
from leadbill.billing.boundaries import Boundary
from leadbill.billing.models import Invoice
from leadbill.billing.repository import DueSubscription
from leadbill.billing.service import rate_boundaries
from leadbill.core.billability import Reason
from leadbill.core.money import Money, format_money
from leadbill.core.periods import Period
from leadbill.core.rating import Line
from leadbill.core.reviews import (
    NOTE_MAX,
    ChargedLine,
    Decision,
    Status,
    credit_lines,
    from_line,
)
from leadbill.credit_notes.models import CreditNote, CreditNoteLine
from leadbill.credit_notes.service import credited_lines, issue_credit_note
from leadbill.errors import Conflict, InvalidInput
from leadbill.leads.decisions import record_decisions
from leadbill.leads.models import Lead
from leadbill.notifications.service import queue_review_decided
from leadbill.plans.models import Plan
from leadbill.plans.service import terms
from leadbill.reviews import repository
from leadbill.reviews.models import Review, ReviewEvent
from leadbill.reviews.service import announce, checked, get_review, record_event, utc
from leadbill.subscriptions.models import Subscription
from leadbill.webhooks import events

UNDECIDED = (Status.OPEN.value, Status.INFO_REQUESTED.value)
# The entries of a review's trail that a decision writes (and its e-mail tells of).
DECISION_EVENTS = ("info_requested", "rejected", "approved")
# Why a decision without a note is refused: the customer reads the note.
NOTE_NEEDED = {
    Decision.REJECT: "is required to reject: tell the customer why the lead stays billable",
    Decision.REQUEST_INFO: "is required to ask for more information: write the question",
}


@dataclass(frozen=True, slots=True)
class DecisionResult:
    """What a decision did: the review, and for an approval its effect on money."""

    review: Review
    effect: str
    credit_note: CreditNote | None = None


def _decision(value: str) -> Decision:
    try:
        return Decision(value.strip().lower())
    except ValueError:
        choices = ", ".join(d.value for d in Decision)
        raise InvalidInput("decision", f"{value!r} is not one of {choices}") from None


def _move(session: Session, review: Review, values: dict[str, object]) -> None:
    """Move an undecided review; refused (no row changed) when it was decided meanwhile."""
    moved = session.execute(  # type: ignore[attr-defined]
        update(Review)
        .where(Review.id == review.id, Review.status.in_(UNDECIDED))
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.refresh(review)
    if not moved:
        raise Conflict(f"review {review.id} is {review.status}; a decided review is final")


def decide_review(
    session: Session,
    review_id: int,
    decision: str,
    *,
    decided_by: str,
    as_of: datetime,
    note: str | None = None,
) -> DecisionResult:
    """A reviewer approves, rejects (with a note) or requests more information (a question)."""
    as_of = utc(as_of)
    chosen = _decision(decision)
    actor = checked(decided_by, "by", 1, 200)
    review = get_review(session, review_id)
    if chosen is not Decision.APPROVE and not (note or "").strip():
        raise InvalidInput("note", NOTE_NEEDED[chosen])
    if chosen is Decision.REQUEST_INFO:
        question = checked(note or "", "note", 1, NOTE_MAX)
        _move(session, review, {"status": Status.INFO_REQUESTED.value})
        record_event(session, review, "info_requested", actor, as_of, question)
        _announce_decision(session, review, as_of, question)
        session.flush()
        return DecisionResult(review, "waiting for the customer's reply")
    if chosen is Decision.REJECT:
        text = checked(note or "", "note", 1, NOTE_MAX)
        _move(
            session,
            review,
            {
                "status": Status.REJECTED.value,
                "decided_by": actor,
                "decided_at": as_of,
                "decision_note": text,
            },
        )
        record_event(session, review, "rejected", actor, as_of, text)
        _announce_decision(session, review, as_of, text)
        session.flush()
        return DecisionResult(review, "the lead stays billable")
    remark = checked(note, "note", 1, NOTE_MAX) if note and note.strip() else None
    repository.lock_subscriptions(session, review.account_id)
    _move(
        session,
        review,
        {
            "status": Status.APPROVED.value,
            "decided_by": actor,
            "decided_at": as_of,
            "decision_note": remark,
        },
    )
    result = _approve(session, review, actor, as_of)
    _announce_decision(session, review, as_of, remark)
    return result


def _announce_decision(session: Session, review: Review, as_of: datetime, note: str | None) -> None:
    """The webhook event and the customer's e-mail, in the decision's transaction."""
    lead = session.get_one(Lead, review.lead_id)
    announce(session, review, lead.external_id, events.REVIEW_DECIDED, as_of, note)
    session.flush()
    decided = session.scalars(
        select(ReviewEvent.id)
        .where(ReviewEvent.review_id == review.id, ReviewEvent.kind.in_(DECISION_EVENTS))
        .order_by(ReviewEvent.id.desc())
        .limit(1)
    ).one()
    queue_review_decided(session, review.account_id, decided, created_at=as_of)


def _approve(session: Session, review: Review, actor: str, as_of: datetime) -> DecisionResult:
    lead = session.get_one(Lead, review.lead_id)
    reason = Reason(review.reason)
    record_decisions(session, review.account_id, [lead.id], reason, actor, as_of)
    policy = repository.counting_policy(session, review.account_id, lead.received_at)
    column = repository.COUNTED_AT.get(policy)
    counted_at = getattr(lead, column.key, None) if column is not None else None
    period = repository.lead_period(session, review.account_id, counted_at) if counted_at else None
    invoice = period.invoice if period else None
    if period is None or invoice is None:
        effect = (
            f"approved ({reason.value}): the lead's period is not invoiced yet; it no longer counts"
        )
        record_event(session, review, "approved", actor, as_of, effect)
        session.flush()
        return DecisionResult(review, effect)
    if invoice.status == "draft":
        raise Conflict(
            f"the lead's period is on draft invoice {invoice.id}; finalize it, then approve"
        )
    label = invoice.number or str(invoice.id)
    if invoice.status == "void":
        effect = f"approved ({reason.value}): invoice {label} is void; nothing to credit"
        record_event(session, review, "approved", actor, as_of, effect)
        session.flush()
        return DecisionResult(review, effect)
    lines = credit_for(session, review, lead, invoice, period)
    if not lines:
        effect = (
            f"approved ({reason.value}): period invoiced on {label}; re-rated without "
            f"lead {lead.external_id}, the invoice charged nothing more: no credit"
        )
        record_event(session, review, "approved", actor, as_of, effect)
        session.flush()
        return DecisionResult(review, effect)
    record_event(
        session,
        review,
        "approved",
        actor,
        as_of,
        f"approved ({reason.value}): period invoiced on {label}; re-rated without "
        f"lead {lead.external_id}",
    )
    note = issue_credit_note(
        session,
        account_id=review.account_id,
        review_id=review.id,
        invoice=invoice,
        lead_id=lead.id,
        reason=reason.value,
        lines=lines,
        issued_at=as_of,
    )
    amount = format_money(Money(note.total, note.currency).rounded().amount, note.currency)
    effect = (
        f"credit note {note.number} of {amount} against {label}, "
        "applied to the account's next invoice"
    )
    record_event(session, review, "credited", actor, as_of, effect)
    session.flush()
    return DecisionResult(review, effect, note)


def _charged(
    kind: str,
    start: datetime | None,
    end: datetime | None,
    unit: Money,
    quantity: int,
    amount: Money,
    description: str,
) -> ChargedLine:
    return ChargedLine(kind, start, end, unit, quantity, amount, description)


def rerate(session: Session, account: Account, period: repository.LeadPeriod) -> list[Line]:
    """The closed period rated again from its leads as they stand, by the billing run's code."""
    subscription = session.get_one(Subscription, period.subscription_id)
    plan = session.get_one(Plan, period.plan_id)
    due = DueSubscription(
        id=subscription.id,
        account_id=account.id,
        plan_id=plan.id,
        anchor_at=subscription.anchor_at,
        period_index=period.period_index,
        period_start=period.start,
        period_end=period.end,
        cancel_at_period_end=False,
        cancel_requested_at=None,
        time_zone=account.time_zone,
        currency=account.currency,
    )
    closing = Period(period.period_index, period.start, period.end)
    boundary = Boundary(due, period.period_index + 1, closing, None)
    ((_b, lines),) = rate_boundaries(session, [boundary], {plan.id: terms(plan)})
    return lines


def credit_for(
    session: Session,
    review: Review,
    lead: Lead,
    invoice: Invoice,
    period: repository.LeadPeriod,
) -> list[Line]:
    """What the invoice charged for the period beyond its re-rating without the lead (R15)."""
    account = session.get_one(Account, review.account_id)
    currency = invoice.currency
    invoiced = [
        _charged(
            line.kind,
            line.period_start,
            line.period_end,
            Money(line.unit_price, currency),
            line.quantity,
            Money(line.amount, currency),
            line.description,
        )
        for line in repository.usage_lines(session, invoice.id, period.start, period.end)
    ]
    rerated = [from_line(line) for line in rerate(session, account, period)]
    credited = [_credited(line, currency) for line in credited_lines(session, invoice.id)]
    return credit_lines(invoiced, rerated, credited, lead.external_id)


def _credited(line: CreditNoteLine, currency: str) -> ChargedLine:
    return _charged(
        line.kind,
        line.period_start,
        line.period_end,
        Money(line.unit_price, currency),
        line.quantity,
        Money(line.amount, currency),
        line.description,
    )
