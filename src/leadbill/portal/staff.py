"""Staff pages: the review queue with decisions in place."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request, Response
from sqlalchemy.orm import Session

from leadbill.auth.dependencies import DbSession
from leadbill.auth.service import Role
from leadbill.core.reviews import status_label
from leadbill.errors import Forbidden, InvalidInput, LeadbillError
from leadbill.limits import REVIEW_TEXT_MAX
from leadbill.portal.billing_details import form_errors
from leadbill.portal.web import (
    PortalRoute,
    SignedIn,
    Visitor,
    check_csrf,
    clock_of,
    redirect,
    render,
    set_flash,
)
from leadbill.reviews.flows import decide_review
from leadbill.reviews.service import STATUS_FILTERS, conversations, review_queue

router = APIRouter(route_class=PortalRoute, include_in_schema=False)

DECIDERS = (Role.ADMIN, Role.REVIEWER)
# The queue's views beside the statuses themselves (core.reviews.status_label).
STATUS_FILTER_TEXT = {"undecided": "Undecided (open or waiting)", "all": "All reviews"}
DECISIONS = {
    "approve": "approved",
    "reject": "rejected",
    "request-info": "asked for more information",
}


def _queue_page(
    request: Request,
    visitor: Visitor,
    db: Session,
    status: str,
    *,
    failed: int | None = None,
    note: str = "",
    errors: dict[str, str] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    """The queue; after a refused decision, its form again with the note as typed."""
    found = review_queue(db, as_of=clock_of(request), status=status)
    if failed is not None and all(entry.review.id != failed for entry in found.entries):
        found = review_queue(db, as_of=clock_of(request), status="all")
    return render(
        request,
        "staff_reviews.html",
        visitor,
        db,
        status_code=status_code,
        nav="staff-reviews",
        title="Review queue",
        queue=found,
        conversation=conversations(db, [entry.review.id for entry in found.entries]),
        status=status,
        statuses=[
            (value, STATUS_FILTER_TEXT.get(value) or status_label(value))
            for value in STATUS_FILTERS
        ],
        can_decide=visitor.role in DECIDERS,
        note_max=REVIEW_TEXT_MAX,
        failed=failed,
        note=note,
        errors=errors or {},
        error=error,
    )


@router.get("/staff/reviews")
def queue(
    request: Request,
    visitor: SignedIn,
    db: DbSession,
    status: Annotated[str, Query(max_length=32)] = "undecided",
) -> Response:
    """The review queue, oldest due first, overdue flagged; reviewers decide in place."""
    if not visitor.is_staff:
        raise Forbidden("this page is for operator staff")
    return _queue_page(request, visitor, db, status)


@router.post("/staff/reviews/{review_id}/decide")
def decide(
    request: Request,
    review_id: int,
    visitor: SignedIn,
    db: DbSession,
    decision: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
    status: Annotated[str, Form(max_length=32)] = "undecided",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Approve, reject (with a note to the customer) or ask for more information.

    A refused decision (a rejection or a question without a note) shows the queue
    again with the note as typed and the reason beside it; nothing is decided.
    """
    check_csrf(visitor, csrf_token)
    visitor.require(*DECIDERS)
    if decision not in DECISIONS:
        raise InvalidInput("decision", f"{decision!r} is not one of {', '.join(DECISIONS)}")
    if status not in STATUS_FILTERS:
        status = "undecided"
    try:
        with db.begin_nested():
            result = decide_review(
                db,
                review_id,
                decision,
                decided_by=visitor.email,
                as_of=clock_of(request),
                note=note or None,
            )
    except LeadbillError as refused:
        if refused.http_status == 404:
            raise
        errors, error = form_errors(refused, ("note",))
        return _queue_page(
            request,
            visitor,
            db,
            status,
            failed=review_id,
            note=note,
            errors=errors,
            error=error,
            status_code=refused.http_status,
        )
    message = f"Review {review_id} {DECISIONS[decision]}: {result.effect}."
    if result.credit_note is not None:
        message += f" Credit note {result.credit_note.number} was issued."
    set_flash(db, visitor, message)
    return redirect("/portal/staff/reviews")
