"""Customer page of licences (R19-R22): add with a preview of the cost, remove at period end.

Adding licences goes through a preview (the total due today and the next
renewal, from `preview_licence_change`) and a confirmation that charges that
amount: if time moved the prorated amount since the preview, the new figures
are shown again instead of charging a different sum. The confirmation carries
a key of its own, so a form sent twice adds the licences once. The plan's
self-serve cap is the subscription service's rule; a refusal says why and how
to get more.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from fastapi import APIRouter, Request, Response
from sqlalchemy.orm import Session

from leadbill.accounts.models import Account
from leadbill.auth.dependencies import DbSession
from leadbill.billing.models import Invoice
from leadbill.core.money import Money
from leadbill.errors import InvalidInput, LeadbillError
from leadbill.plans.models import Plan
from leadbill.plans.service import terms
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
    add_licences,
    current_subscription,
    preview_licence_change,
    recorded_change,
    remove_licences,
)

router = APIRouter(route_class=PortalRoute, include_in_schema=False)

CUSTOMER = "customer"


@dataclass(frozen=True, slots=True)
class LicenceState:
    """The licence figures of the page: now, next period, the cap and what is left of it."""

    subscription: Subscription
    plan: Plan
    licence_price: Money | None
    licences_now: int
    licences_next: int
    cap: int | None

    @property
    def staff_managed(self) -> bool:
        """Past the cap only operator staff change the count (R22)."""
        return self.cap is not None and max(self.licences_now, self.licences_next) > self.cap

    @property
    def can_add(self) -> int | None:
        """How many more licences the customer may add alone (None: no cap)."""
        return None if self.cap is None else max(0, self.cap - self.licences_now)


def _state(db: Session, account: Account) -> LicenceState:
    subscription = current_subscription(db, account)
    plan = db.get_one(Plan, subscription.plan_id)
    plan_terms = terms(plan)
    following = subscription.scheduled_licences
    return LicenceState(
        subscription=subscription,
        plan=plan,
        licence_price=plan_terms.licence_price,
        licences_now=subscription.licences,
        licences_next=subscription.licences if following is None else following,
        cap=plan_terms.licence_cap,
    )


def _page(
    request: Request,
    visitor: Visitor,
    db: Session,
    account: Account,
    *,
    error: LeadbillError | None = None,
    count: str = "",
) -> Response:
    return render(
        request,
        "licences.html",
        visitor,
        db,
        status_code=error.http_status if error else 200,
        nav="licences",
        title="Licences",
        account=account,
        state=_state(db, account),
        error=error.detail if error else None,
        cap_refusal=error is not None and error.http_status == 403,
        count=count,
    )


def _count(value: str) -> int:
    """A positive whole number of licences from the form."""
    try:
        count = int(value.strip())
    except ValueError:
        raise InvalidInput("count", f"{value!r} is not a whole number of licences") from None
    if count < 1:
        raise InvalidInput("count", "must be at least 1")
    return count


@router.get("/licences")
def licences(request: Request, visitor: SignedIn, db: DbSession) -> Response:
    """Licences now and next period, the self-serve cap, forms to add or remove."""
    return _page(request, visitor, db, visitor.customer_account(db))


def _preview_page(
    request: Request,
    visitor: Visitor,
    db: Session,
    account: Account,
    change: int,
    *,
    notice: str | None = None,
) -> Response:
    """The cost of a change before it is confirmed; a refusal re-shows the licences page."""
    state = _state(db, account)
    try:
        preview = preview_licence_change(
            db, state.subscription, change, clock_of(request), actor=CUSTOMER
        )
    except LeadbillError as error:
        return _page(request, visitor, db, account, error=error, count=str(abs(change)))
    return render(
        request,
        "licence_preview.html",
        visitor,
        db,
        status_code=409 if notice else 200,
        nav="licences",
        title="Confirm licences",
        account=account,
        state=state,
        change=change,
        preview=preview,
        notice=notice,
        key=secrets.token_urlsafe(24),
    )


@router.post("/licences/preview")
def preview(
    request: Request,
    visitor: SignedIn,
    db: DbSession,
    direction: Text = "add",
    count: Text = "",
    csrf_token: Text = "",
) -> Response:
    """What adding (charged today, prorated) or removing (at period end) would cost."""
    check_csrf(visitor, csrf_token)
    account = visitor.customer_account(db)
    try:
        number = _count(count)
        if direction not in ("add", "remove"):
            raise InvalidInput("direction", f"{direction!r} is not add or remove")
    except LeadbillError as error:
        return _page(request, visitor, db, account, error=error, count=count)
    return _preview_page(request, visitor, db, account, number if direction == "add" else -number)


@router.post("/licences/add")
def confirm_add(
    request: Request,
    visitor: SignedIn,
    db: DbSession,
    count: Text = "",
    expected: Text = "",
    key: Text = "",
    csrf_token: Text = "",
) -> Response:
    """Add the licences now at the amount the preview showed (R20), within the cap (R22)."""
    check_csrf(visitor, csrf_token)
    account = visitor.customer_account(db)
    as_of = clock_of(request)
    try:
        number = _count(count)
        change_key = confirmation_key(key)
        subscription = current_subscription(db, account)
        done = recorded_change(db, subscription, change_key)
        if done is not None and done.invoice_id is not None:
            # The same confirmation again (a double click, a retry): it was charged once.
            return redirect(f"/portal/invoices/{db.get_one(Invoice, done.invoice_id).number}")
        due = preview_licence_change(db, subscription, number, as_of, actor=CUSTOMER)
    except LeadbillError as error:
        return _page(request, visitor, db, account, error=error, count=count)
    if str(due.total_due_today.amount) != expected.strip():
        return _preview_page(
            request,
            visitor,
            db,
            account,
            number,
            notice=(
                "The amount due today changed since the preview (less of the period is "
                "left). Nothing was charged: check the new amount and confirm again."
            ),
        )
    try:
        with db.begin_nested():
            result = add_licences(db, subscription, number, as_of, actor=CUSTOMER, key=change_key)
    except LeadbillError as error:
        return _page(request, visitor, db, account, error=error, count=count)
    invoice = result.invoice
    assert invoice is not None  # an addition is always invoiced at once
    set_flash(
        db,
        visitor,
        f"{number} licences added: invoice {invoice.number} charges "
        f"{money(invoice.total, invoice.currency)} today, prorated to the rest of the period. "
        f"The next renewal charges {money(due.next_renewal_amount)} for "
        f"{due.licences_next_period} licences.",
    )
    return redirect(f"/portal/invoices/{invoice.number}")


@router.post("/licences/remove")
def confirm_remove(
    request: Request,
    visitor: SignedIn,
    db: DbSession,
    count: Text = "",
    key: Text = "",
    csrf_token: Text = "",
) -> Response:
    """Remove licences at the end of the period, with no refund (R21)."""
    check_csrf(visitor, csrf_token)
    account = visitor.customer_account(db)
    as_of = clock_of(request)
    try:
        number = _count(count)
        change_key = confirmation_key(key)
        subscription = current_subscription(db, account)
        if recorded_change(db, subscription, change_key) is not None:
            return redirect("/portal/licences")  # the same confirmation again: made once
        after = preview_licence_change(db, subscription, -number, as_of, actor=CUSTOMER)
        with db.begin_nested():
            result = remove_licences(
                db, subscription, number, as_of, actor=CUSTOMER, key=change_key
            )
    except LeadbillError as error:
        return _page(request, visitor, db, account, error=error, count=count)
    ends = result.change.effective_at
    set_flash(
        db,
        visitor,
        f"{number} licences will be removed at the end of the period "
        f"({local(ends, account.time_zone)} {account.time_zone}), with no "
        f"refund. The renewal then charges {money(after.next_renewal_amount)} for "
        f"{after.licences_next_period} licences.",
    )
    return redirect("/portal/licences")
