"""Queries of the review workflow: a lead's facts, its period and invoice, the queue, the trail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from leadbill.accounts.models import Account
from leadbill.billing.models import Invoice, InvoiceLine
from leadbill.core.billability import CALL_EVENTS, EventType
from leadbill.core.plans import CountingPolicy
from leadbill.core.reviews import ReviewFacts, call_answered
from leadbill.leads.models import Lead, LeadDecision, LeadEvent
from leadbill.plans.models import Plan
from leadbill.reviews.models import Review, ReviewEvent
from leadbill.subscriptions.models import Subscription, SubscriptionPeriod, SubscriptionSegment

# The stored instant at which a lead counts under each policy (its billing period).
COUNTED_AT = {
    CountingPolicy.CALLED: Lead.first_called_at,
    CountingPolicy.RECEIVED_UNLESS_EXCLUDED: Lead.received_at,
    CountingPolicy.CONTACT_FOUND: Lead.first_found_at,
}


def review_facts(session: Session, lead: Lead) -> ReviewFacts:
    """Received instant; its calls (answered or not, the last result); recording; a review.

    Call tracking sends `recording_available` for a call it recorded, which it
    does only when recording was enabled when the lead came in: a lead without
    that event had recording off.
    """
    kinds = [kind.value for kind in (*CALL_EVENTS, EventType.RECORDING_AVAILABLE)]
    rows = session.execute(
        select(LeadEvent.type, LeadEvent.call_result)
        .where(
            LeadEvent.account_id == lead.account_id,
            LeadEvent.lead_id == lead.id,
            LeadEvent.type.in_(kinds),
        )
        .order_by(LeadEvent.occurred_at, LeadEvent.id)
    ).all()
    calls = [(kind, result) for kind, result in rows if kind != EventType.RECORDING_AVAILABLE]
    reviewed = session.scalar(
        select(exists().where(Review.account_id == lead.account_id, Review.lead_id == lead.id))
    )
    return ReviewFacts(
        received_at=lead.received_at,
        answered=call_answered(calls),
        recording_enabled=len(calls) < len(rows),
        calls=len(calls),
        last_call_result=(calls[-1][1] or calls[-1][0]) if calls else None,
        reviewed=bool(reviewed),
    )


@dataclass(frozen=True, slots=True)
class LeadPeriod:
    """The subscription period a lead counts in, and its invoice if one was issued."""

    subscription_id: int
    period_index: int
    start: datetime
    end: datetime
    plan_id: int
    invoice: Invoice | None


def lock_subscriptions(session: Session, account_id: int) -> None:
    """Hold the account's subscriptions (PostgreSQL) so no billing run invoices meanwhile."""
    query = select(Subscription.id).where(Subscription.account_id == account_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    session.execute(query).all()


def counting_policy(session: Session, account_id: int, at: datetime | None) -> CountingPolicy:
    """The counting policy of the plan in force for the account at `at` (else its latest)."""
    query = (
        select(Plan.counting_policy)
        .join(Subscription, Subscription.plan_id == Plan.id)
        .where(Subscription.account_id == account_id)
        .order_by((Subscription.status == "active").desc(), Subscription.id.desc())
        .limit(1)
    )
    if at is not None:
        segment = session.scalar(
            select(Plan.counting_policy)
            .join(SubscriptionSegment, SubscriptionSegment.plan_id == Plan.id)
            .where(
                SubscriptionSegment.account_id == account_id,
                SubscriptionSegment.start <= at,
                SubscriptionSegment.end > at,
            )
            .limit(1)
        )
        if segment:
            return CountingPolicy(segment)
    policy = session.scalar(query)
    return CountingPolicy(policy) if policy else CountingPolicy.RECEIVED_UNLESS_EXCLUDED


def lead_period(session: Session, account_id: int, counted_at: datetime) -> LeadPeriod | None:
    """The recorded period containing `counted_at`, its last segment's plan, and its invoice."""
    row = session.execute(
        select(
            SubscriptionPeriod.subscription_id,
            SubscriptionPeriod.period_index,
            SubscriptionPeriod.start,
            SubscriptionPeriod.end,
        ).where(
            SubscriptionPeriod.account_id == account_id,
            SubscriptionPeriod.start <= counted_at,
            SubscriptionPeriod.end > counted_at,
        )
    ).first()
    if row is None:
        return None
    subscription_id, index, start, end = row
    plan_id = session.scalar(
        select(SubscriptionSegment.plan_id)
        .where(
            SubscriptionSegment.subscription_id == subscription_id,
            SubscriptionSegment.period_index == index,
        )
        .order_by(SubscriptionSegment.start.desc())
        .limit(1)
    )
    invoice = session.scalar(
        select(Invoice).where(
            Invoice.subscription_id == subscription_id,
            Invoice.boundary_index == index + 1,
            Invoice.kind == "period",
        )
    )
    if plan_id is None:
        return None
    return LeadPeriod(subscription_id, index, start, end, int(plan_id), invoice)


def usage_lines(
    session: Session, invoice_id: int, start: datetime, end: datetime
) -> list[InvoiceLine]:
    """The invoice's lines charging the leads of `[start, end)` (usage in arrears)."""
    return list(
        session.scalars(
            select(InvoiceLine)
            .where(
                InvoiceLine.invoice_id == invoice_id,
                InvoiceLine.kind.in_(("overage", "leads")),
                InvoiceLine.period_start >= start,
                InvoiceLine.period_end <= end,
            )
            .order_by(InvoiceLine.position)
        )
    )


def queue_counts(
    session: Session, as_of: datetime, account_id: int | None = None
) -> tuple[int, int, int]:
    """(open, overdue, waiting for the customer) reviews, optionally of one account."""
    query = select(
        func.count().filter(Review.status == "open"),
        func.count().filter(Review.status == "open", Review.due_at <= as_of),
        func.count().filter(Review.status == "info_requested"),
    ).select_from(Review)
    if account_id is not None:
        query = query.where(Review.account_id == account_id)
    open_, overdue, waiting = session.execute(query).one()
    return int(open_ or 0), int(overdue or 0), int(waiting or 0)


def reviews_with_leads(
    session: Session,
    *,
    account_id: int | None = None,
    statuses: tuple[str, ...] | None = None,
) -> list[tuple[Review, str, str]]:
    """Reviews with the account code and the operator lead id, oldest due first."""
    query = (
        select(Review, Account.code, Lead.external_id)
        .join(Account, Account.id == Review.account_id)
        .join(Lead, Lead.id == Review.lead_id)
        .order_by(Review.due_at, Review.id)
    )
    if account_id is not None:
        query = query.where(Review.account_id == account_id)
    if statuses is not None:
        query = query.where(Review.status.in_(statuses))
    return [(review, code, lead) for review, code, lead in session.execute(query)]


def trail(
    session: Session, *, account_id: int, lead_id: int | None = None, review_id: int | None = None
) -> list[tuple[ReviewEvent, str]]:
    """The audit trail of an account (or one lead, or one review), oldest first."""
    query = (
        select(ReviewEvent, Lead.external_id)
        .join(Lead, Lead.id == ReviewEvent.lead_id)
        .where(ReviewEvent.account_id == account_id)
        .order_by(ReviewEvent.at, ReviewEvent.id)
    )
    if lead_id is not None:
        query = query.where(ReviewEvent.lead_id == lead_id)
    if review_id is not None:
        query = query.where(ReviewEvent.review_id == review_id)
    return [(event, lead) for event, lead in session.execute(query)]


def reviews_submitted(
    session: Session, account_id: int, start: datetime, end: datetime
) -> list[Review]:
    """The account's reviews submitted in `[start, end)`."""
    return list(
        session.scalars(
            select(Review).where(
                Review.account_id == account_id,
                Review.submitted_at >= start,
                Review.submitted_at < end,
            )
        )
    )


def leads_decided(session: Session, account_id: int, start: datetime, end: datetime) -> set[int]:
    """Leads with a staff decision (proactive review or approval) in `[start, end)`."""
    return {
        int(lead_id)
        for lead_id in session.scalars(
            select(LeadDecision.lead_id).where(
                LeadDecision.account_id == account_id,
                LeadDecision.decided_at >= start,
                LeadDecision.decided_at < end,
            )
        )
    }


def conversation_events(session: Session, review_ids: list[int]) -> list[ReviewEvent]:
    """The questions (info_requested) and replies of these reviews, oldest first."""
    if not review_ids:
        return []
    return list(
        session.scalars(
            select(ReviewEvent)
            .where(
                ReviewEvent.review_id.in_(review_ids),
                ReviewEvent.kind.in_(("info_requested", "replied")),
            )
            .order_by(ReviewEvent.at, ReviewEvent.id)
        )
    )
