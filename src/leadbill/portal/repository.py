"""Queries only the portal needs: review facts of a page of leads (two queries), and the
credit notes of an account's reviews."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadbill.billing.models import Invoice
from leadbill.core.billability import CALL_EVENTS, EventType
from leadbill.credit_notes.models import CreditNote
from leadbill.leads.models import Lead, LeadEvent
from leadbill.reviews.models import Review

# A lead's review-relevant events: (event type, call result) pairs, distinct.
EventKinds = set[tuple[str, str | None]]


def page_review_facts(
    session: Session, account_id: int, external_ids: Sequence[str]
) -> tuple[dict[str, EventKinds], dict[str, tuple[int, str]]]:
    """For a page of leads: the call and recording events each has, and its review.

    Returns ({lead id: {(event type, call result)}}, {lead id: (review id, status)}).
    """
    if not external_ids:
        return {}, {}
    kinds = [kind.value for kind in (*CALL_EVENTS, EventType.RECORDING_AVAILABLE)]
    events: dict[str, EventKinds] = {}
    for external_id, kind, result in session.execute(
        select(Lead.external_id, LeadEvent.type, LeadEvent.call_result)
        .join(LeadEvent, (LeadEvent.account_id == Lead.account_id) & (LeadEvent.lead_id == Lead.id))
        .where(
            Lead.account_id == account_id,
            Lead.external_id.in_(list(external_ids)),
            LeadEvent.type.in_(kinds),
        )
        .distinct()
    ):
        events.setdefault(external_id, set()).add((kind, result))
    reviews = {
        external_id: (review_id, status)
        for external_id, review_id, status in session.execute(
            select(Lead.external_id, Review.id, Review.status)
            .join(Review, (Review.account_id == Lead.account_id) & (Review.lead_id == Lead.id))
            .where(Lead.account_id == account_id, Lead.external_id.in_(list(external_ids)))
        )
    }
    return events, reviews


@dataclass(frozen=True, slots=True)
class ReviewCredit:
    """The credit note an approved review issued, and the invoice it credits."""

    number: str
    total: Decimal
    currency: str
    invoice_number: str | None


def review_credit_notes(session: Session, account_id: int) -> dict[int, ReviewCredit]:
    """The account's credit notes issued by reviews, by review id."""
    return {
        review_id: ReviewCredit(number, total, currency, invoice_number)
        for review_id, number, total, currency, invoice_number in session.execute(
            select(
                CreditNote.review_id,
                CreditNote.number,
                CreditNote.total,
                CreditNote.currency,
                Invoice.number,
            )
            .join(Invoice, Invoice.id == CreditNote.invoice_id)
            .where(CreditNote.account_id == account_id, CreditNote.review_id.is_not(None))
        )
        if review_id is not None
    }
