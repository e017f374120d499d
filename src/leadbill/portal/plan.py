"""Customer page of the plan: the plan in force, changes on its ladder, advice, cancellation.

A plan change follows `change_plan` (R7): an upgrade takes effect at once with
the prorated fee difference invoiced today, a downgrade at the period end
(unless the operator makes downgrades immediate); a licence plan changes at the
period end. The page previews when and what before the customer confirms, and
the confirmation charges only the amount shown. Cancelling takes effect at the
period end (R6), after a confirmation page.
"""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Request, Response
from sqlalchemy.orm import Session

from leadbill.accounts.models import Account
from leadbill.auth.dependencies import DbSession
from leadbill.errors import Conflict, LeadbillError
from leadbill.plans.advice import PlanAdvice, advise_account, ladder_plans
from leadbill.plans.models import Plan
from leadbill.plans.service import get_plan, terms
from leadbill.portal.web import (
    PortalRoute,
    SignedIn,
    Text,
    Visitor,
    check_csrf,
    clock_of,
    confirmation_key,
    local,
    money,
    redirect,
    render,
    set_flash,
)
from leadbill.subscriptions.models import Subscription
from leadbill.subscriptions.service import (
    Cancellation,
    PlanChangePreview,
    cancel_subscription,
    cancellation_at,
    cancellation_of,
    change_plan,
    current_subscription,
    preview_plan_change,
    recorded_change,
)

router = APIRouter(route_class=PortalRoute, include_in_schema=False)

CUSTOMER = "customer"
ADVICE_PERIODS = 3


def _timing(plan: Plan) -> bool | None:
    """The change_plan timing the portal asks for: the default, but a licence plan
    changes only at the period end."""
    return False if plan.licence_price is not None else None


def _advice(db: Session, account: Account, request: Request) -> tuple[PlanAdvice | None, str]:
    """The plan advice of the last closed periods, or why there is none."""
    try:
        return advise_account(db, account, as_of=clock_of(request), periods=ADVICE_PERIODS), ""
    except Conflict as error:
        return None, error.detail


def _cancellation(db: Session, subscription: Subscription, request: Request) -> Cancellation:
    """The recorded cancellation, or what cancelling now would do (billing may lag)."""
    return cancellation_of(db, subscription) or cancellation_at(db, subscription, clock_of(request))


def _page(
    request: Request,
    visitor: Visitor,
    db: Session,
    account: Account,
    *,
    error: LeadbillError | None = None,
) -> Response:
    subscription = current_subscription(db, account)
    plan = db.get_one(Plan, subscription.plan_id)
    scheduled = (
        db.get_one(Plan, subscription.scheduled_plan_id)
        if subscription.scheduled_plan_id is not None
        else None
    )
    others = [other for other in ladder_plans(db, plan) if other.id != plan.id]
    advice, no_advice = None, ""
    if plan.licence_price is None:  # advice prices leads; a licence plan is priced per licence
        advice, no_advice = _advice(db, account, request)
    return render(
        request,
        "plan.html",
        visitor,
        db,
        status_code=error.http_status if error else 200,
        nav="plan",
        title="Plan",
        account=account,
        subscription=subscription,
        plan=plan,
        plan_terms=terms(plan),
        scheduled=scheduled,
        # When it ends, and what still renews first (billing may lag the clock).
        cancellation=_cancellation(db, subscription, request),
        others=[(other, terms(other)) for other in others],
        advice=advice,
        no_advice=no_advice,
        error=error.detail if error else None,
    )


@router.get("/plan")
def plan_page(request: Request, visitor: SignedIn, db: DbSession) -> Response:
    """The plan in force, the plans of its ladder, the plan advice and cancellation."""
    return _page(request, visitor, db, visitor.customer_account(db))


def _preview(
    db: Session, subscription: Subscription, code: str, request: Request
) -> PlanChangePreview:
    target = get_plan(db, code)
    current = db.get_one(Plan, subscription.plan_id)
    return preview_plan_change(
        db, subscription, target, clock_of(request), immediate=_timing(current)
    )


def _expected(preview: PlanChangePreview) -> str:
    """The amount a confirmation must match: the fee difference of an immediate change."""
    return "none" if preview.fee_difference is None else str(preview.fee_difference.amount)


def _preview_page(
    request: Request,
    visitor: Visitor,
    db: Session,
    account: Account,
    code: str,
    *,
    notice: str | None = None,
) -> Response:
    subscription = current_subscription(db, account)
    try:
        found = _preview(db, subscription, code, request)
    except LeadbillError as error:
        return _page(request, visitor, db, account, error=error)
    return render(
        request,
        "plan_change.html",
        visitor,
        db,
        status_code=409 if notice else 200,
        nav="plan",
        title="Confirm the plan change",
        account=account,
        subscription=subscription,
        preview=found,
        old=terms(found.from_plan),
        new=terms(found.to_plan),
        expected=_expected(found),
        notice=notice,
        key=secrets.token_urlsafe(24),
    )


@router.post("/plan/preview")
def preview_change(
    request: Request,
    visitor: SignedIn,
    db: DbSession,
    plan: Text = "",
    csrf_token: Text = "",
) -> Response:
    """When a change to `plan` takes effect and what it costs; nothing changes yet."""
    check_csrf(visitor, csrf_token)
    return _preview_page(request, visitor, db, visitor.customer_account(db), plan)


@router.post("/plan/change")
def confirm_change(
    request: Request,
    visitor: SignedIn,
    db: DbSession,
    plan: Text = "",
    expected: Text = "",
    key: Text = "",
    csrf_token: Text = "",
) -> Response:
    """Make the previewed plan change (R7), at the cost the preview showed."""
    check_csrf(visitor, csrf_token)
    account = visitor.customer_account(db)
    subscription = current_subscription(db, account)
    try:
        change_key = confirmation_key(key)
        if recorded_change(db, subscription, change_key) is not None:
            return redirect("/portal/plan")  # the same confirmation again: made once
        found = _preview(db, subscription, plan, request)
    except LeadbillError as error:
        return _page(request, visitor, db, account, error=error)
    if _expected(found) != expected.strip():
        return _preview_page(
            request,
            visitor,
            db,
            account,
            plan,
            notice=(
                "The cost of this change moved since the preview (less of the period is "
                "left). Nothing was changed: check the new figures and confirm again."
            ),
        )
    try:
        with db.begin_nested():
            result = change_plan(
                db,
                subscription,
                found.to_plan,
                clock_of(request),
                immediate=_timing(found.from_plan),
                key=change_key,
                actor=CUSTOMER,
            )
    except LeadbillError as error:
        return _page(request, visitor, db, account, error=error)
    zone = account.time_zone
    when = local(result.change.effective_at, zone)
    if not result.immediate:
        message = (
            f"Your plan changes to {found.to_plan.name} at the end of the period, on {when} "
            f"({zone}). Nothing is charged now."
        )
    else:
        message = f"Your plan is {found.to_plan.name} from now ({when}, {zone})."
        invoice = result.invoice
        if invoice is not None:
            message += (
                f" Invoice {invoice.number} charges {money(invoice.total, invoice.currency)} "
                "for the rest of the period."
            )
        for note in result.credit_notes:
            message += (
                f" Credit note {note.number} of {money(note.total, note.currency)} is applied "
                "to your next invoice."
            )
    set_flash(db, visitor, message)
    return redirect("/portal/plan")


@router.get("/plan/cancel")
def cancel_confirmation(request: Request, visitor: SignedIn, db: DbSession) -> Response:
    """Asks to confirm the cancellation and says when it takes effect."""
    account = visitor.customer_account(db)
    subscription = current_subscription(db, account)
    return render(
        request,
        "plan_cancel.html",
        visitor,
        db,
        nav="plan",
        title="Cancel the subscription",
        account=account,
        subscription=subscription,
        cancellation=_cancellation(db, subscription, request),
        plan=db.get_one(Plan, subscription.plan_id),
    )


@router.post("/plan/cancel")
def cancel(
    request: Request,
    visitor: SignedIn,
    db: DbSession,
    csrf_token: Text = "",
) -> Response:
    """Cancel at the end of the current period (R6); the period's overage is still invoiced."""
    check_csrf(visitor, csrf_token)
    account = visitor.customer_account(db)
    subscription = current_subscription(db, account)
    try:
        with db.begin_nested():
            cancel_subscription(db, subscription, clock_of(request), by=visitor.email)
    except LeadbillError as error:
        return _page(request, visitor, db, account, error=error)
    # When billing lags the clock the period the cancellation falls in is a later one.
    cancellation = cancellation_of(db, subscription)
    ends_at = cancellation.ends_at if cancellation else subscription.current_period_end
    renewals = cancellation.renewals if cancellation else ()
    zone = account.time_zone
    message = (
        f"Your subscription is cancelled. It ends at the end of the current period, on "
        f"{local(ends_at, zone)} ({zone})."
    )
    if renewals:
        dates = ", ".join(local(at, zone) for at in renewals)
        message += f" Billing has not closed every past period yet: it still renews on {dates}"
        message += " and invoices that fee before it ends."
    set_flash(db, visitor, message)
    return redirect("/portal/plan")
