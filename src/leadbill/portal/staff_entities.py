"""Staff pages of billing entities: the operator's companies that issue invoices.

As the API: every staff role reads them; admins add one, change one and choose the
default. A refused value shows the form again with what was typed and the reason
beside its field.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from sqlalchemy.orm import Session

from leadbill.auth.dependencies import DbSession
from leadbill.core.dunning import parse_steps
from leadbill.core.errors import RuleViolation
from leadbill.entities.models import BillingEntity
from leadbill.entities.service import (
    BANK_COLUMNS,
    BANK_FIELDS,
    EntityFields,
    create_entity,
    get_entity,
    list_entities,
    make_default,
    next_numbers,
    update_entity,
)
from leadbill.errors import InvalidInput, LeadbillError, from_rule
from leadbill.portal.billing_details import countries, form_errors, terms_days
from leadbill.portal.permissions import CHANGES_ENTITIES, may, staff_only
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
)

router = APIRouter(route_class=PortalRoute, include_in_schema=False)
# A field the change form may leave out: None keeps the setting.
KeptText = Annotated[str | None, Form(max_length=200)]

FIELDS = (
    "legal_name",
    "address_line1",
    "address_line2",
    "city",
    "postal_code",
    "region",
    "country",
    "tax_id",
    "email",
    "invoice_prefix",
    "credit_note_prefix",
    "payment_terms_days",
    "default_currency",
    "dunning_steps",
    "dunning_action",
    *BANK_FIELDS,
)
# The final actions of dunning as the form offers them.
DUNNING_ACTIONS = (
    ("none", "None: keep reminding by the steps only"),
    ("uncollectible", "Mark the invoice uncollectible"),
    ("pause_service", "Pause the subscription's service"),
)


def _steps(typed: str, new: bool) -> tuple[int, ...] | None:
    """The reminder days typed as 0,3,7,14 (on a new entity empty means the default)."""
    if new and not typed.strip():
        return None
    try:
        return parse_steps(typed)
    except RuleViolation as error:
        raise from_rule(error) from None


def _form_of(entity: BillingEntity) -> dict[str, str]:
    """An entity's settings as its form shows them."""
    form = {name: getattr(entity, BANK_COLUMNS.get(name, name)) for name in FIELDS}
    return {name: "" if value is None else str(value) for name, value in form.items()}


def _fields(typed: dict[str, str], *, new: bool) -> EntityFields:
    """The service's settings from a form: on a new entity an empty field is not given
    (its default applies); on a change it clears the setting (refused where required)."""

    def text(name: str) -> str | None:
        value = typed[name]
        return None if new and not value.strip() else value

    days = terms_days(typed["payment_terms_days"])
    if days is None and not new:
        raise InvalidInput("payment_terms_days", "is required")
    return EntityFields(
        legal_name=text("legal_name"),
        address_line1=text("address_line1"),
        address_line2=text("address_line2"),
        city=text("city"),
        postal_code=text("postal_code"),
        region=text("region"),
        country=text("country"),
        tax_id=text("tax_id"),
        email=text("email"),
        invoice_prefix=text("invoice_prefix"),
        credit_note_prefix=text("credit_note_prefix"),
        payment_terms_days=days,
        default_currency=text("default_currency"),
        dunning_steps=_steps(typed["dunning_steps"], new),
        dunning_action=text("dunning_action"),
        bank_name=text("bank_name"),
        iban=text("iban"),
        bic=text("bic"),
        account_number=text("account_number"),
        routing_number=text("routing_number"),
    )


def _list_page(
    request: Request,
    visitor: Visitor,
    db: Session,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "staff_entities.html",
        visitor,
        db,
        status_code=status_code,
        nav="staff-entities",
        title="Billing entities",
        entities=list_entities(db),
        can_change=may(visitor, CHANGES_ENTITIES),
        form=form or {},
        errors=errors or {},
        error=error,
        countries=countries(),
        dunning_actions=DUNNING_ACTIONS,
    )


def _entity_page(
    request: Request,
    visitor: Visitor,
    db: Session,
    entity: BillingEntity,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "staff_entity.html",
        visitor,
        db,
        status_code=status_code,
        nav="staff-entities",
        title=f"Billing entity {entity.code}",
        entity=entity,
        next_numbers=next_numbers(db, entity),
        can_change=may(visitor, CHANGES_ENTITIES),
        form=form if form is not None else _form_of(entity),
        errors=errors or {},
        error=error,
        countries=countries(),
        dunning_actions=DUNNING_ACTIONS,
    )


@router.get("/staff/billing-entities")
def entities(request: Request, visitor: SignedIn, db: DbSession) -> Response:
    """Every billing entity, the default marked; admins add one here."""
    staff_only(visitor)
    return _list_page(request, visitor, db)


@router.post("/staff/billing-entities")
def add_entity(
    request: Request,
    visitor: SignedIn,
    db: DbSession,
    code: Text = "",
    legal_name: Text = "",
    address_line1: Text = "",
    address_line2: Text = "",
    city: Text = "",
    postal_code: Text = "",
    region: Text = "",
    country: Text = "",
    tax_id: Text = "",
    email: Text = "",
    invoice_prefix: Text = "",
    credit_note_prefix: Text = "",
    payment_terms_days: Text = "",
    default_currency: Text = "",
    dunning_steps: Text = "",
    dunning_action: Text = "",
    bank_name: Text = "",
    iban: Text = "",
    bic: Text = "",
    account_number: Text = "",
    routing_number: Text = "",
    csrf_token: Text = "",
) -> Response:
    """Add a billing entity (admin); the first one becomes the default."""
    check_csrf(visitor, csrf_token)
    visitor.require(*CHANGES_ENTITIES)
    typed = {
        "code": code,
        "legal_name": legal_name,
        "address_line1": address_line1,
        "address_line2": address_line2,
        "city": city,
        "postal_code": postal_code,
        "region": region,
        "country": country,
        "tax_id": tax_id,
        "email": email,
        "invoice_prefix": invoice_prefix,
        "credit_note_prefix": credit_note_prefix,
        "payment_terms_days": payment_terms_days,
        "default_currency": default_currency,
        "dunning_steps": dunning_steps,
        "dunning_action": dunning_action,
        "bank_name": bank_name,
        "iban": iban,
        "bic": bic,
        "account_number": account_number,
        "routing_number": routing_number,
    }
    try:
        with db.begin_nested():
            fields = _fields({k: v for k, v in typed.items() if k != "code"}, new=True)
            entity = create_entity(db, code=code, fields=fields, as_of=clock_of(request))
    except LeadbillError as refused:
        errors, error = form_errors(refused, ("code", *FIELDS))
        return _list_page(
            request,
            visitor,
            db,
            form=typed,
            errors=errors,
            error=error,
            status_code=refused.http_status,
        )
    default = " It is the default: it bills every account." if entity.is_default else ""
    invoice, credit_note = next_numbers(db, entity)
    set_flash(
        db,
        visitor,
        f"Billing entity {entity.code} added; its next invoice is {invoice}, its next credit "
        f"note {credit_note}.{default}",
    )
    return redirect(f"/portal/staff/billing-entities/{entity.code}")


@router.get("/staff/billing-entities/{code}")
def entity(request: Request, code: str, visitor: SignedIn, db: DbSession) -> Response:
    """One billing entity; admins change it here."""
    staff_only(visitor)
    return _entity_page(request, visitor, db, get_entity(db, code))


@router.post("/staff/billing-entities/{code}")
def change_entity(
    request: Request,
    code: str,
    visitor: SignedIn,
    db: DbSession,
    legal_name: Text = "",
    address_line1: Text = "",
    address_line2: Text = "",
    city: Text = "",
    postal_code: Text = "",
    region: Text = "",
    country: Text = "",
    tax_id: Text = "",
    email: Text = "",
    invoice_prefix: Text = "",
    credit_note_prefix: Text = "",
    payment_terms_days: Text = "",
    default_currency: Text = "",
    dunning_steps: KeptText = None,
    dunning_action: KeptText = None,
    bank_name: Text = "",
    iban: Text = "",
    bic: Text = "",
    account_number: Text = "",
    routing_number: Text = "",
    csrf_token: Text = "",
) -> Response:
    """Change an entity's settings (admin); issued documents keep the issuer they took."""
    check_csrf(visitor, csrf_token)
    visitor.require(*CHANGES_ENTITIES)
    found = get_entity(db, code)
    typed = {
        "legal_name": legal_name,
        "address_line1": address_line1,
        "address_line2": address_line2,
        "city": city,
        "postal_code": postal_code,
        "region": region,
        "country": country,
        "tax_id": tax_id,
        "email": email,
        "invoice_prefix": invoice_prefix,
        "credit_note_prefix": credit_note_prefix,
        "payment_terms_days": payment_terms_days,
        "default_currency": default_currency,
        # Not posted (an older form): kept as they are.
        "dunning_steps": found.dunning_steps if dunning_steps is None else dunning_steps,
        "dunning_action": found.dunning_action if dunning_action is None else dunning_action,
        "bank_name": bank_name,
        "iban": iban,
        "bic": bic,
        "account_number": account_number,
        "routing_number": routing_number,
    }
    try:
        with db.begin_nested():
            update_entity(db, found.code, _fields(typed, new=False), clock_of(request))
    except LeadbillError as refused:
        errors, error = form_errors(refused, FIELDS)
        return _entity_page(
            request,
            visitor,
            db,
            found,
            form=typed,
            errors=errors,
            error=error,
            status_code=refused.http_status,
        )
    set_flash(db, visitor, f"Billing entity {found.code} saved.")
    return redirect(f"/portal/staff/billing-entities/{found.code}")


@router.post("/staff/billing-entities/{code}/default")
def choose_default(
    request: Request, code: str, visitor: SignedIn, db: DbSession, csrf_token: Text = ""
) -> Response:
    """Make an entity the default (admin): it bills every account that names none."""
    check_csrf(visitor, csrf_token)
    visitor.require(*CHANGES_ENTITIES)
    chosen = make_default(db, code, clock_of(request))
    set_flash(db, visitor, f"{chosen.legal_name} ({chosen.code}) is now the default entity.")
    return redirect("/portal/staff/billing-entities")
