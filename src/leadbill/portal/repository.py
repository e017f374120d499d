"""Queries only the portal needs: review facts of a page of leads, in two queries."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadbill.core.billability import EventType
from leadbill.leads.models import Lead, LeadEvent
from leadbill.reviews.models import Review


def page_review_facts(
    session: Session, account_id: int, external_ids: Sequence[str]
) -> tuple[dict[str, set[str]], dict[str, tuple[int, str]]]:
    """For a page of leads: the review-relevant event types each has, and its review.

    Returns ({lead id: {event types}}, {lead id: (review id, status)}).
    """
    if not external_ids:
        return {}, {}
    kinds = (EventType.CALL_ANSWERED.value, EventType.RECORDING_AVAILABLE.value)
    events: dict[str, set[str]] = {}
    for external_id, kind in session.execute(
        select(Lead.external_id, LeadEvent.type)
        .join(LeadEvent, (LeadEvent.account_id == Lead.account_id) & (LeadEvent.lead_id == Lead.id))
        .where(
            Lead.account_id == account_id,
            Lead.external_id.in_(list(external_ids)),
            LeadEvent.type.in_(kinds),
        )
        .distinct()
    ):
        events.setdefault(external_id, set()).add(kind)
    reviews = {
        external_id: (review_id, status)
        for external_id, review_id, status in session.execute(
            select(Lead.external_id, Review.id, Review.status)
            .join(Review, (Review.account_id == Lead.account_id) & (Review.lead_id == Lead.id))
            .where(Lead.account_id == account_id, Lead.external_id.in_(list(external_ids)))
        )
    }
    return events, reviews
