"""Customer pages of the dispute loop (R13-R15): submit a lead, read the reviews, reply.

A lead is submitted from the call report (or its own review page); a refused
submission shows the form again on the lead's review page with what was typed
and the reason beside its field, never a page that loses the text. The Reviews
page shows each review in words, the reviewer's question of a review waiting for
the customer with a reply form, and the credit note an approval issued.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from sqlalchemy.orm import Session

from leadbill.accounts.models import Account
from leadbill.auth.dependencies import DbSession
from leadbill.core.billability import NON_BILLABLE_REASONS, reason_label
from leadbill.core.errors import RuleViolation
from leadbill.core.reviews import check_explanation
from leadbill.errors import LeadbillError
from leadbill.limits import REVIEW_EXPLANATION_MAX, REVIEW_EXPLANATION_MIN, REVIEW_TEXT_MAX
from leadbill.portal.billing_details import form_errors
from leadbill.portal.repository import review_credit_notes
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
from leadbill.reviews.service import (
    conversations,
    find_lead,
    reply_to_review,
    review_eligibility,
    review_queue,
    submit_review,
)

router = APIRouter(route_class=PortalRoute, include_in_schema=False)

# The reasons a customer may give (R10): every non-billable reason, in words; none is
# chosen for the customer (the form's first option is an empty "choose").
REVIEW_REASONS = [(reason.value, reason_label(reason.value)) for reason in NON_BILLABLE_REASONS]
SUBMIT_FIELDS = ("reason", "explanation")
# What the review forms' fields accept (README, "Limits").
REVIEW_LIMITS = {
    "explanation_min": REVIEW_EXPLANATION_MIN,
    "explanation_max": REVIEW_EXPLANATION_MAX,
    "text_max": REVIEW_TEXT_MAX,
}


def _lead_page(
    request: Request,
    visitor: Visitor,
    db: Session,
    account: Account,
    lead_id: str,
    *,
    form: Mapping[str, str] | None = None,
    errors: dict[str, str] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    """One lead's review form, or why it may not be submitted (R13)."""
    lead = find_lead(db, account, lead_id)
    refusal = review_eligibility(db, account, lead.external_id, as_of=clock_of(request))
    return render(
        request,
        "review_lead.html",
        visitor,
        db,
        status_code=status_code,
        nav="calls",
        title=f"Submit lead {lead.external_id} for review",
        lead_id=lead.external_id,
        refusal=refusal,
        reasons=REVIEW_REASONS,
        limits=REVIEW_LIMITS,
        form=form or {},
        errors=errors or {},
        error=error,
    )


@router.get("/calls/{lead_id}/review")
def review_form(request: Request, lead_id: str, visitor: SignedIn, db: DbSession) -> Response:
    """The review form of one lead, or the R13 condition it fails."""
    return _lead_page(request, visitor, db, visitor.customer_account(db), lead_id)


@router.post("/calls/{lead_id}/review")
def submit_for_review(
    request: Request,
    lead_id: str,
    visitor: SignedIn,
    db: DbSession,
    reason: Annotated[str, Form()] = "",
    explanation: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Submit one lead for review (R13); a refusal shows the form again, as typed."""
    check_csrf(visitor, csrf_token)
    account = visitor.customer_account(db)
    typed = {"reason": reason, "explanation": explanation}
    # Both fields are checked before the service (which names the first it refuses), so
    # that the form shows every mistake at once.
    unchosen = {} if reason.strip() else {"reason": "choose why this lead should not be billed"}
    try:
        check_explanation(explanation)
    except RuleViolation as short:
        unchosen["explanation"] = short.reason
    if unchosen:
        find_lead(db, account, lead_id)
        return _lead_page(
            request, visitor, db, account, lead_id, form=typed, errors=unchosen, status_code=422
        )
    try:
        with db.begin_nested():
            review = submit_review(
                db,
                account.code,
                lead_id,
                reason=reason,
                explanation=explanation,
                submitted_by=visitor.email,
                as_of=clock_of(request),
            )
    except LeadbillError as refused:
        errors, error = form_errors(refused, SUBMIT_FIELDS)
        find_lead(db, account, lead_id)  # another account's lead: 404, as if it did not exist
        return _lead_page(
            request,
            visitor,
            db,
            account,
            lead_id,
            form=typed,
            errors=errors,
            error=error,
            status_code=refused.http_status,
        )
    set_flash(db, visitor, f"Lead {lead_id} was submitted for review (review {review.id}).")
    return redirect("/portal/reviews")


def _reviews_page(
    request: Request,
    visitor: Visitor,
    db: Session,
    *,
    replying: int | None = None,
    form: Mapping[str, str] | None = None,
    errors: dict[str, str] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    account = visitor.customer_account(db)
    queue = review_queue(db, as_of=clock_of(request), account_code=account.code, status="all")
    # The conversation of each review: the reviewer's questions and the customer's replies.
    conversation = conversations(db, [entry.review.id for entry in queue.entries])
    return render(
        request,
        "reviews.html",
        visitor,
        db,
        status_code=status_code,
        nav="reviews",
        title="Reviews",
        account=account,
        queue=queue,
        conversation=conversation,
        credit_notes=review_credit_notes(db, account.id),
        limits=REVIEW_LIMITS,
        replying=replying,
        form=form or {},
        errors=errors or {},
        error=error,
    )


@router.get("/reviews")
def reviews(request: Request, visitor: SignedIn, db: DbSession) -> Response:
    """The account's reviews in words, questions to answer, and credit notes issued."""
    return _reviews_page(request, visitor, db)


@router.post("/reviews/{review_id}/reply")
def reply(
    request: Request,
    review_id: int,
    visitor: SignedIn,
    db: DbSession,
    message: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Answer the reviewer's question; the review goes back to the reviewer (R14)."""
    check_csrf(visitor, csrf_token)
    account = visitor.customer_account(db)
    try:
        with db.begin_nested():
            reply_to_review(
                db,
                review_id,
                message=message,
                replied_by=visitor.email,
                as_of=clock_of(request),
                account_id=account.id,
            )
    except LeadbillError as refused:
        if refused.http_status == 404:
            raise
        errors, error = form_errors(refused, ("message",))
        return _reviews_page(
            request,
            visitor,
            db,
            replying=review_id,
            form={"message": message},
            errors=errors,
            error=error,
            status_code=refused.http_status,
        )
    set_flash(db, visitor, f"Your reply was sent; review {review_id} is back with the reviewer.")
    return redirect("/portal/reviews")
