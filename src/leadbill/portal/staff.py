"""Staff pages: the review queue with decisions in place."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request, Response

from leadbill.auth.dependencies import DbSession
from leadbill.auth.service import Role
from leadbill.errors import Forbidden, InvalidInput
from leadbill.portal.web import (
    PortalRoute,
    SignedIn,
    check_csrf,
    clock_of,
    redirect,
    render,
    set_flash,
)
from leadbill.reviews.flows import decide_review
from leadbill.reviews.service import STATUS_FILTERS, review_queue

router = APIRouter(route_class=PortalRoute, include_in_schema=False)

DECIDERS = (Role.ADMIN, Role.REVIEWER)
DECISIONS = {
    "approve": "approved",
    "reject": "rejected",
    "request-info": "asked for more information",
}


@router.get("/staff/reviews")
def queue(
    request: Request,
    visitor: SignedIn,
    db: DbSession,
    status: Annotated[str, Query()] = "undecided",
) -> Response:
    """The review queue, oldest due first, overdue flagged; reviewers decide in place."""
    if not visitor.is_staff:
        raise Forbidden("this page is for operator staff")
    found = review_queue(db, as_of=clock_of(request), status=status)
    return render(
        request,
        "staff_reviews.html",
        visitor,
        db,
        nav="staff-reviews",
        title="Review queue",
        queue=found,
        status=status,
        statuses=list(STATUS_FILTERS),
        can_decide=visitor.role in DECIDERS,
    )


@router.post("/staff/reviews/{review_id}/decide")
def decide(
    request: Request,
    review_id: int,
    visitor: SignedIn,
    db: DbSession,
    decision: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Approve, reject (with a note to the customer) or ask for more information."""
    check_csrf(visitor, csrf_token)
    visitor.require(*DECIDERS)
    if decision not in DECISIONS:
        raise InvalidInput("decision", f"{decision!r} is not one of {', '.join(DECISIONS)}")
    result = decide_review(
        db,
        review_id,
        decision,
        decided_by=visitor.email,
        as_of=clock_of(request),
        note=note or None,
    )
    message = f"Review {review_id} {DECISIONS[decision]}: {result.effect}."
    if result.credit_note is not None:
        message += f" Credit note {result.credit_note.number} was issued."
    set_flash(db, visitor, message)
    return redirect("/portal/staff/reviews")
