"""Billing details pages: a customer's own, and staff's page of any account's.

What an account's invoices say of it: legal name, postal address, country and region
(which decide the tax), tax number and purchase order. A customer changes those, as its
key may through `PUT /v1/accounts/{code}/billing-details`; admins and billing staff also
set the tax exemption, the payment terms and the billing entity. A refused value shows the
form again with what was typed and the reason beside its field; nothing is stored.
Another account's details are not reachable from a customer's session at all.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from babel import Locale
from fastapi import APIRouter, Request, Response
from sqlalchemy.orm import Session

from leadbill.accounts.billing_details import DetailsChange, details_of, set_details
from leadbill.accounts.models import Account
from leadbill.accounts.service import get_account
from leadbill.auth.dependencies import DbSession
from leadbill.billing.taxation import account_billing
from leadbill.core.errors import RuleViolation
from leadbill.core.tax_numbers import check_country
from leadbill.entities.models import BillingEntity
from leadbill.entities.service import list_entities
from leadbill.errors import InvalidInput, LeadbillError
from leadbill.notifications.service import OPTIONAL_KINDS, settings_of
from leadbill.portal.permissions import EDITS_BILLING_DETAILS, may, staff_only
from leadbill.portal.web import (
    PortalRoute,
    SignedIn,
    Text,
    Visitor,
    check_csrf,
    clock_of,
    redirect,
    render,
    set_flash,
    templates,
)

router = APIRouter(route_class=PortalRoute, include_in_schema=False)

# What a customer edits, and what staff edit besides.
CUSTOMER_FIELDS = (
    "legal_name",
    "address_line1",
    "address_line2",
    "city",
    "postal_code",
    "country",
    "region",
    "tax_id",
    "purchase_order",
)
STAFF_FIELDS = (*CUSTOMER_FIELDS, "tax_exemption", "payment_terms_days", "billing_entity")
# How the forms' refusal summary names a field, where its name does not read as words.
templates.env.globals["field_labels"] = {
    "address_line1": "address line 1",
    "address_line2": "address line 2",
    "tax_id": "tax number",
    "payment_terms_days": "payment terms",
    "valid_from": "first day",
    "valid_to": "last day",
}
SAVED = "Billing details saved. Invoices issued from now on carry them; issued ones keep theirs."


@cache
def countries() -> tuple[tuple[str, str], ...]:
    """Every country a billing address may name (ISO 3166-1), by its English name."""
    found = []
    for code, name in Locale("en").territories.items():
        try:
            check_country(code)
        except RuleViolation:
            continue
        found.append((code, f"{name} ({code})"))
    return tuple(sorted(found, key=lambda item: item[1]))


def form_errors(error: LeadbillError, fields: tuple[str, ...]) -> tuple[dict[str, str], str | None]:
    """A refusal as the form shows it: beside its field, else above the form."""
    if isinstance(error, InvalidInput) and error.field in fields:
        return {error.field: error.reason}, None
    return {}, error.detail


def terms_days(text: str) -> int | None:
    """Payment terms as typed: whole days, or nothing (the entity's terms)."""
    if not text.strip():
        return None
    try:
        return int(text.strip())
    except ValueError:
        raise InvalidInput("payment_terms_days", "must be a whole number of days") from None


def _stored(db: Session, account: Account) -> dict[str, str]:
    """The stored details as the form shows them (empty where none is set)."""
    details = details_of(db, account.id)
    form: dict[str, str] = {}
    for name in STAFF_FIELDS:
        value: Any = None
        if details is not None and name == "billing_entity":
            entity_id = details.billing_entity_id
            value = db.get_one(BillingEntity, entity_id).code if entity_id else None
        elif details is not None:
            value = getattr(details, name)
        form[name] = "" if value is None else str(value)
    return form


def _page(
    request: Request,
    visitor: Visitor,
    db: Session,
    account: Account,
    *,
    staff: bool,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    """The page: the details as invoices print them, and the form (after a refusal, with
    what was typed)."""
    billing = account_billing(db, account.id)
    return render(
        request,
        "staff_billing_details.html" if staff else "billing_details.html",
        visitor,
        db,
        status_code=status_code,
        nav="staff-accounts" if staff else "billing-details",
        title=f"Billing details of {account.code}" if staff else "Billing details",
        account=account,
        billing=billing,
        stored=details_of(db, account.id),
        form=form if form is not None else _stored(db, account),
        errors=errors or {},
        error=error,
        countries=countries(),
        entities=list_entities(db) if staff else [],
        can_edit=not staff or may(visitor, EDITS_BILLING_DETAILS),
        # The signed-in customer's own choice of optional e-mails (portal.notifications).
        notifications=[] if staff else _notifications(db, visitor),
    )


def _notifications(db: Session, visitor: Visitor) -> list[tuple[str, str, bool]]:
    """Each optional kind: its value, how the form names it, and whether it is on."""
    chosen = settings_of(db, visitor.user_id)
    return [(kind, label, chosen[kind]) for kind, label in OPTIONAL_KINDS.items()]


def _save(
    request: Request,
    visitor: Visitor,
    db: Session,
    account: Account,
    typed: dict[str, str],
    *,
    staff: bool,
) -> Response:
    """Store the typed details, or show them again with the reason beside the field."""
    fields = STAFF_FIELDS if staff else CUSTOMER_FIELDS
    try:
        with db.begin_nested():
            given: dict[str, Any] = {name: typed[name] for name in fields}
            if staff:
                given["payment_terms_days"] = terms_days(typed["payment_terms_days"])
                given["clear_payment_terms"] = given["payment_terms_days"] is None
            set_details(db, account, DetailsChange(**given), clock_of(request))
    except LeadbillError as refused:
        errors, error = form_errors(refused, fields)
        return _page(
            request,
            visitor,
            db,
            account,
            staff=staff,
            form=typed,
            errors=errors,
            error=error,
            status_code=refused.http_status,
        )
    set_flash(db, visitor, SAVED)
    if staff:
        return redirect(f"/portal/staff/accounts/{account.code}/billing-details")
    return redirect("/portal/billing-details")


@router.get("/billing-details")
def billing_details(request: Request, visitor: SignedIn, db: DbSession) -> Response:
    """The customer's own billing details and the form to change them."""
    return _page(request, visitor, db, visitor.customer_account(db), staff=False)


@router.post("/billing-details")
def save_billing_details(
    request: Request,
    visitor: SignedIn,
    db: DbSession,
    legal_name: Text = "",
    address_line1: Text = "",
    address_line2: Text = "",
    city: Text = "",
    postal_code: Text = "",
    country: Text = "",
    region: Text = "",
    tax_id: Text = "",
    purchase_order: Text = "",
    csrf_token: Text = "",
) -> Response:
    """Change the customer's own details; the exemption, terms and entity are not the
    customer's to set (a post naming them is read without them)."""
    check_csrf(visitor, csrf_token)
    account = visitor.customer_account(db)
    typed = {
        "legal_name": legal_name,
        "address_line1": address_line1,
        "address_line2": address_line2,
        "city": city,
        "postal_code": postal_code,
        "country": country,
        "region": region,
        "tax_id": tax_id,
        "purchase_order": purchase_order,
    }
    return _save(request, visitor, db, account, typed, staff=False)


@router.get("/staff/accounts/{code}/billing-details")
def staff_billing_details(
    request: Request, code: str, visitor: SignedIn, db: DbSession
) -> Response:
    """An account's billing details (every staff role); admins and billing staff change
    them here, entity and terms included."""
    staff_only(visitor)
    return _page(request, visitor, db, get_account(db, code), staff=True)


@router.post("/staff/accounts/{code}/billing-details")
def staff_save_billing_details(
    request: Request,
    code: str,
    visitor: SignedIn,
    db: DbSession,
    legal_name: Text = "",
    address_line1: Text = "",
    address_line2: Text = "",
    city: Text = "",
    postal_code: Text = "",
    country: Text = "",
    region: Text = "",
    tax_id: Text = "",
    purchase_order: Text = "",
    tax_exemption: Text = "",
    payment_terms_days: Text = "",
    billing_entity: Text = "",
    csrf_token: Text = "",
) -> Response:
    """Change an account's billing details (admin, billing)."""
    check_csrf(visitor, csrf_token)
    visitor.require(*EDITS_BILLING_DETAILS)
    account = get_account(db, code)
    typed = {
        "legal_name": legal_name,
        "address_line1": address_line1,
        "address_line2": address_line2,
        "city": city,
        "postal_code": postal_code,
        "country": country,
        "region": region,
        "tax_id": tax_id,
        "purchase_order": purchase_order,
        "tax_exemption": tax_exemption,
        "payment_terms_days": payment_terms_days,
        "billing_entity": billing_entity,
    }
    return _save(request, visitor, db, account, typed, staff=True)
