"""HTTP routes of reviews (R13-R15) and credit notes.

Customers submit and reply for their own account only; anything of another
account answers 404. Reviewers and admins decide. Staff roles read everything.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query
from sqlalchemy.orm import Session

from leadbill.accounts.models import Account
from leadbill.auth.dependencies import Caller, DbSession, allow, owns, visible_account
from leadbill.auth.idempotency import LeadbillRoute
from leadbill.auth.service import STAFF_READERS, Principal, Role
from leadbill.console import now
from leadbill.core.reviews import Status, is_overdue
from leadbill.credit_notes.service import get_credit_note, list_credit_notes
from leadbill.leads.models import Lead
from leadbill.reviews.flows import decide_review
from leadbill.reviews.models import Review
from leadbill.reviews.schemas import (
    CreditNoteList,
    CreditNoteOut,
    DecisionIn,
    ReplyIn,
    ReviewCreate,
    ReviewDecided,
    ReviewDetail,
    ReviewOut,
    ReviewQueue,
    ReviewStatisticsOut,
    TrailOut,
)
from leadbill.reviews.service import (
    audit_trail,
    get_review,
    reply_to_review,
    review_queue,
    statistics,
    submit_review,
)
from leadbill.schemas import PROBLEM_RESPONSES

router = APIRouter(tags=["reviews"], route_class=LeadbillRoute, responses=PROBLEM_RESPONSES)
READERS = (*STAFF_READERS, Role.CUSTOMER)
SUBMITTERS = (Role.ADMIN, Role.CUSTOMER)
DECIDERS = (Role.ADMIN, Role.REVIEWER)


def _actor(caller: Principal, by: str | None) -> str:
    return by.strip() if by and by.strip() else f"key {caller.key_id} ({caller.role.value})"


def _out(session: Session, review: Review) -> ReviewOut:
    account = session.get_one(Account, review.account_id)
    lead = session.get_one(Lead, review.lead_id)
    overdue = is_overdue(Status(review.status), review.due_at, now())
    return ReviewOut.of(review, account.code, lead.external_id, overdue)


def _visible_review(session: Session, caller: Principal, review_id: int) -> Review:
    scope = caller.account_id if caller.role is Role.CUSTOMER else None
    return get_review(session, review_id, account_id=scope)


@router.post("/reviews", status_code=201, response_model=ReviewOut)
def create_review(body: ReviewCreate, session: DbSession, caller: Caller) -> ReviewOut:
    """Submit one lead for review (customer for its own account, admin), at the server's clock."""
    account = visible_account(session, caller, body.account, *SUBMITTERS)
    review = submit_review(
        session,
        account.code,
        body.lead_id,
        reason=body.reason,
        explanation=body.explanation,
        submitted_by=_actor(caller, body.by),
        as_of=now(),
    )
    return _out(session, review)


@router.get("/reviews", response_model=ReviewQueue)
def list_reviews(
    session: DbSession, caller: Caller, account: str | None = None, status: str = "open"
) -> ReviewQueue:
    """The review queue, oldest due first (default: open reviews); a customer sees its own."""
    allow(caller, *READERS)
    code = account
    if caller.role is Role.CUSTOMER:
        code = visible_account(session, caller, account, *READERS).code if account else None
        if code is None:
            code = session.get_one(Account, caller.account_id).code
    queue = review_queue(session, as_of=now(), account_code=code, status=status)
    return ReviewQueue(
        data=[ReviewOut.of(e.review, e.account_code, e.lead_id, e.overdue) for e in queue.entries],
        open=queue.open,
        overdue=queue.overdue,
        waiting=queue.waiting,
    )


@router.get("/reviews/{review_id}", response_model=ReviewDetail)
def read_review(review_id: int, session: DbSession, caller: Caller) -> ReviewDetail:
    """A review with its audit trail."""
    if caller.role is not Role.CUSTOMER:
        allow(caller, *READERS)
    review = _visible_review(session, caller, review_id)
    out = _out(session, review)
    trail = audit_trail(session, out.account, review_id=review.id)
    return ReviewDetail(**out.model_dump(), trail=[TrailOut.of(t) for t in trail])


@router.post("/reviews/{review_id}/decision", response_model=ReviewDecided)
def decide(review_id: int, body: DecisionIn, session: DbSession, caller: Caller) -> ReviewDecided:
    """Approve, reject or request information (reviewer, admin); a decided review is final."""
    if caller.role is Role.CUSTOMER:
        _visible_review(session, caller, review_id)
    allow(caller, *DECIDERS)
    result = decide_review(
        session,
        review_id,
        body.decision,
        decided_by=_actor(caller, body.by),
        note=body.note,
        as_of=now(),
    )
    return ReviewDecided(
        review=_out(session, result.review),
        effect=result.effect,
        credit_note=result.credit_note.number if result.credit_note else None,
    )


@router.post("/reviews/{review_id}/reply", response_model=ReviewOut)
def reply(review_id: int, body: ReplyIn, session: DbSession, caller: Caller) -> ReviewOut:
    """Answer a request for information (the review's customer, admin)."""
    review = _visible_review(session, caller, review_id)
    allow(caller, *SUBMITTERS)
    review = reply_to_review(
        session,
        review.id,
        message=body.message,
        replied_by=_actor(caller, body.by),
        as_of=now(),
        account_id=review.account_id,
    )
    return _out(session, review)


@router.get("/accounts/{account}/review-statistics", response_model=ReviewStatisticsOut)
def review_statistics(
    account: str,
    session: DbSession,
    caller: Caller,
    start: datetime = Query(alias="from"),
    end: datetime = Query(alias="to"),
) -> ReviewStatisticsOut:
    """Leads reviewed, submitted, approved, rejected, approval rate, median time, overdue."""
    owner = visible_account(session, caller, account, *READERS)
    figures = statistics(session, owner.code, start=start, end=end, as_of=now())
    return ReviewStatisticsOut.of(owner.code, start, end, figures)


@router.get("/credit-notes", response_model=CreditNoteList, tags=["credit notes"])
def credit_notes(session: DbSession, caller: Caller, account: str | None = None) -> CreditNoteList:
    """Credit notes, oldest first; a customer key sees only its account's."""
    allow(caller, *READERS)
    account_id = visible_account(session, caller, account, *READERS).id if account else None
    if caller.role is Role.CUSTOMER:
        account_id = caller.account_id
    notes = list_credit_notes(session, account_id=account_id)
    return CreditNoteList(
        data=[CreditNoteOut.of(get_credit_note(session, note.number)) for note in notes]
    )


@router.get("/credit-notes/{number}", response_model=CreditNoteOut, tags=["credit notes"])
def credit_note(number: str, session: DbSession, caller: Caller) -> CreditNoteOut:
    """One credit note: lines, the invoice and lead it corrects, where it was applied."""
    if caller.role is not Role.CUSTOMER:
        allow(caller, *READERS)
    scope = caller.account_id if caller.role is Role.CUSTOMER else None
    view = get_credit_note(session, number, account_id=scope)
    owns(caller, view.note.account_id, f"credit note {number!r}")
    return CreditNoteOut.of(view)
