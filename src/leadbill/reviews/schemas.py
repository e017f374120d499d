"""API shapes of reviews, their audit trail, and credit notes."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, Field

from leadbill.core.reviews import EXPLANATION_MAX, EXPLANATION_MIN, NOTE_MAX, ReviewStatistics
from leadbill.credit_notes.models import CreditNoteLine
from leadbill.credit_notes.service import CreditNoteView
from leadbill.reviews.models import Review
from leadbill.reviews.service import TrailEntry
from leadbill.schemas import MoneyOut, RequestModel, money


class ReviewCreate(RequestModel):
    """A customer's dispute of one lead (R13)."""

    account: str = Field(max_length=64, examples=["brokerage"])
    lead_id: str = Field(max_length=128, examples=["L-1001"])
    reason: str = Field(max_length=64, examples=["job_seeker"])
    explanation: str = Field(
        max_length=EXPLANATION_MAX,
        examples=["The caller was looking for a job, not a plumber."],
        description=f"{EXPLANATION_MIN} to {EXPLANATION_MAX} characters",
    )
    by: str | None = Field(
        None, max_length=200, description="Who submits (default: the API key), at most 200"
    )


class DecisionIn(RequestModel):
    """A reviewer's decision (R14): approve, reject (with a note) or request-info (a question)."""

    decision: str = Field(max_length=32, examples=["approve"])
    note: str | None = Field(
        None, max_length=NOTE_MAX, description=f"at most {NOTE_MAX} characters"
    )
    by: str | None = Field(
        None, max_length=200, description="Who decides (default: the API key), at most 200"
    )


class ReplyIn(RequestModel):
    """The customer's answer to a request for information."""

    message: str = Field(max_length=NOTE_MAX, description=f"at most {NOTE_MAX} characters")
    by: str | None = Field(
        None, max_length=200, description="Who replies (default: the API key), at most 200"
    )


class TrailOut(BaseModel):
    """One entry of the audit trail."""

    review_id: int
    lead_id: str
    kind: str
    actor: str
    at: datetime
    detail: str

    @classmethod
    def of(cls, entry: TrailEntry) -> TrailOut:
        """The API shape of a trail entry."""
        return cls(
            review_id=entry.review_id,
            lead_id=entry.lead_id,
            kind=entry.kind,
            actor=entry.actor,
            at=entry.at,
            detail=entry.detail,
        )


class ReviewOut(BaseModel):
    """A review, its decision, and whether it is overdue."""

    id: int
    account: str
    lead_id: str
    reason: str
    explanation: str
    status: str
    submitted_by: str
    submitted_at: datetime
    due_at: datetime
    overdue: bool
    decided_by: str | None
    decided_at: datetime | None
    decision_note: str | None

    @classmethod
    def of(cls, review: Review, account: str, lead_id: str, overdue: bool) -> ReviewOut:
        """The API shape of a stored review."""
        return cls(
            id=review.id,
            account=account,
            lead_id=lead_id,
            reason=review.reason,
            explanation=review.explanation,
            status=review.status,
            submitted_by=review.submitted_by,
            submitted_at=review.submitted_at,
            due_at=review.due_at,
            overdue=overdue,
            decided_by=review.decided_by,
            decided_at=review.decided_at,
            decision_note=review.decision_note,
        )


class ReviewDetail(ReviewOut):
    """A review with its audit trail."""

    trail: list[TrailOut]


class ReviewDecided(BaseModel):
    """A decision and what it did to money."""

    review: ReviewOut
    effect: str
    credit_note: str | None


class ReviewQueue(BaseModel):
    """Reviews oldest due first, with the queue's counts."""

    data: list[ReviewOut]
    open: int
    overdue: int
    waiting: int


class CreditNoteLineOut(BaseModel):
    """One line of a credit note."""

    position: int
    kind: str
    description: str
    quantity: int
    unit_price: MoneyOut
    amount: MoneyOut

    @classmethod
    def of(cls, line: CreditNoteLine, currency: str) -> CreditNoteLineOut:
        """The API shape of a stored credit note line."""
        return cls(
            position=line.position,
            kind=line.kind,
            description=line.description,
            quantity=line.quantity,
            unit_price=money(line.unit_price, currency),
            amount=money(line.amount, currency),
        )


class CreditApplicationOut(BaseModel):
    """Part of a credit note taken by an invoice."""

    invoice: str
    amount: MoneyOut
    applied_at: datetime


class CreditNoteOut(BaseModel):
    """A credit note: what it corrects, its lines, where it was applied, what is left.

    It credits an approved review of a lead (`review_id`, `lead_id`) or an immediate
    plan downgrade (`subscription_change_id`); the other fields are null.
    """

    number: str
    account: str
    invoice: str
    lead_id: str | None
    review_id: int | None
    subscription_change_id: int | None
    reason: str
    issued_at: datetime
    total: MoneyOut
    remaining: MoneyOut
    lines: list[CreditNoteLineOut]
    applications: list[CreditApplicationOut]

    @classmethod
    def of(cls, view: CreditNoteView) -> CreditNoteOut:
        """The API shape of a credit note view."""
        note, currency = view.note, view.note.currency
        return cls(
            number=note.number,
            account=view.account_code,
            invoice=view.invoice_number,
            lead_id=view.lead_id or None,
            review_id=note.review_id,
            subscription_change_id=note.subscription_change_id,
            reason=note.reason,
            issued_at=note.issued_at,
            total=money(note.total, currency),
            remaining=money(view.remaining.amount, currency),
            lines=[CreditNoteLineOut.of(line, currency) for line in view.lines],
            applications=[
                CreditApplicationOut(invoice=number, amount=money(amount, currency), applied_at=at)
                for number, amount, at in view.applications
            ],
        )


class CreditNoteList(BaseModel):
    """Credit notes, oldest first."""

    data: list[CreditNoteOut]


class ReviewStatisticsOut(BaseModel):
    """Review figures of one account for reviews submitted in `[from, to)`."""

    account: str
    start: datetime
    end: datetime
    leads_reviewed: int
    submitted: int
    approved: int
    rejected: int
    approval_rate: str | None = Field(description="approved / decided, a decimal fraction")
    median_hours_to_decision: str | None
    overdue: int

    @classmethod
    def of(
        cls, account: str, start: datetime, end: datetime, figures: ReviewStatistics
    ) -> ReviewStatisticsOut:
        """The API shape of an account's review figures for `[start, end)`."""
        rate = figures.approval_rate
        median = figures.median_time_to_decision
        return cls(
            account=account,
            start=start,
            end=end,
            leads_reviewed=figures.leads_reviewed,
            submitted=figures.submitted,
            approved=figures.approved,
            rejected=figures.rejected,
            approval_rate=f"{Decimal(rate.numerator) / rate.denominator:.4f}" if rate else None,
            median_hours_to_decision=(
                f"{Decimal(int(median.total_seconds())) / 3600:.2f}" if median is not None else None
            ),
            overdue=figures.overdue,
        )
