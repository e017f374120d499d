"""Billing entities: create, change and read the issuers of invoices.

Numbers are gapless per prefix: each prefix has its own counter row in
`number_sequences`, created with the entity (or when a prefix changes) and
never reused by another entity. The first entity is the default one; accounts
without billing details of their own belong to it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from leadbill.billing.models import NumberSequence
from leadbill.core import bank, smtp_settings
from leadbill.core.dunning import DEFAULT_STEPS, NO_ACTION, check_action, check_steps, steps_text
from leadbill.core.email_address import check_email
from leadbill.core.errors import RuleViolation
from leadbill.core.money import check_currency
from leadbill.core.periods import require_utc
from leadbill.core.tax_numbers import check_country, check_region, check_tax_id
from leadbill.core.wording import one_line
from leadbill.entities.models import BillingEntity
from leadbill.errors import Conflict, InvalidInput, NotFound, from_rule

# What an invoice number looks like before its digits: INV-, SE-2026-, US/.
PREFIX = re.compile(r"^[A-Z0-9][A-Z0-9/_-]{0,11}$")
CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
MAX_TERMS_DAYS = 365
# Prefixes of the numbers issued before billing entities existed.
LEGACY_INVOICE_PREFIX = "INV-"
LEGACY_CREDIT_NOTE_PREFIX = "CN-"


@dataclass(frozen=True, slots=True)
class EntityFields:
    """The editable settings of an entity; None leaves a field as it is on update."""

    legal_name: str | None = None
    address_line1: str | None = None
    address_line2: str | None = None
    city: str | None = None
    postal_code: str | None = None
    region: str | None = None
    country: str | None = None
    tax_id: str | None = None
    email: str | None = None
    invoice_prefix: str | None = None
    credit_note_prefix: str | None = None
    payment_terms_days: int | None = None
    default_currency: str | None = None
    # Dunning (core.dunning): reminder days after the due date, and the final action.
    dunning_steps: tuple[int, ...] | None = None
    dunning_action: str | None = None
    # Bank details for transfer instructions; "" clears one.
    bank_name: str | None = None
    iban: str | None = None
    bic: str | None = None
    account_number: str | None = None
    routing_number: str | None = None
    # Its own From address and SMTP server (core.smtp_settings); "" clears a text, 0 the
    # port (then the security's usual port is used).
    mail_from: str | None = None
    smtp_host: str | None = None
    smtp_port: int | None = None
    smtp_security: str | None = None
    smtp_user: str | None = None


BANK_FIELDS = ("bank_name", "iban", "bic", "account_number", "routing_number")
BANK_COLUMNS = {
    "bank_name": "bank_name",
    "iban": "bank_iban",
    "bic": "bank_bic",
    "account_number": "bank_account_number",
    "routing_number": "bank_routing_number",
}

_TEXT_LIMITS = {
    "legal_name": 200,
    "address_line1": 200,
    "address_line2": 200,
    "city": 100,
    "postal_code": 20,
    "email": 254,
}


def _prefix(field: str, value: str) -> str:
    text = value.strip().upper()
    if not PREFIX.match(text):
        raise InvalidInput(
            field,
            "must be 1 to 12 letters, digits, '-', '_' or '/', starting with one of the first two",
        )
    return text


def check_terms(days: int, field: str = "payment_terms_days") -> int:
    """Payment terms in days after the issue date: 0 (due on receipt) to 365."""
    if isinstance(days, bool) or not 0 <= days <= MAX_TERMS_DAYS:
        raise InvalidInput(field, f"must be a whole number of days from 0 to {MAX_TERMS_DAYS}")
    return days


def _apply(session: Session, entity: BillingEntity, fields: EntityFields) -> None:
    """Check every given field, then set them all on `entity` (none when one is bad).

    The region and the tax number are checked against the country the entity will
    have, so a new country never leaves the old country's region or tax id behind.
    The prefixes are checked free before anything is set: a flush of a taken prefix
    would hit the unique constraint instead of answering a conflict.
    """
    values: dict[str, Any] = {}
    try:
        for name, limit in _TEXT_LIMITS.items():
            value = getattr(fields, name)
            if value is not None:
                values[name] = one_line(value, name, limit)
        country = entity.country
        if fields.country is not None:
            country = values["country"] = check_country(fields.country)
        region = entity.region if fields.region is None else (fields.region.strip() or None)
        if region is not None:
            values["region"] = check_region(region, country)
        elif fields.region is not None:
            values["region"] = None
        tax_id = entity.tax_id if fields.tax_id is None else (fields.tax_id.strip() or None)
        if tax_id is not None:
            values["tax_id"] = check_tax_id(tax_id, country)
        elif fields.tax_id is not None:
            values["tax_id"] = None
    except RuleViolation as error:
        raise from_rule(error) from None
    if fields.default_currency is not None:
        try:
            values["default_currency"] = check_currency(fields.default_currency)
        except RuleViolation as error:  # core names it "currency"
            raise InvalidInput("default_currency", error.reason) from None
    email = values.get("email", entity.email)
    if fields.email is not None and email:
        try:
            values["email"] = check_email(email, "email")
        except RuleViolation as error:
            raise from_rule(error) from None
    if fields.invoice_prefix is not None:
        values["invoice_prefix"] = _prefix("invoice_prefix", fields.invoice_prefix)
    if fields.credit_note_prefix is not None:
        values["credit_note_prefix"] = _prefix("credit_note_prefix", fields.credit_note_prefix)
    if fields.payment_terms_days is not None:
        values["payment_terms_days"] = check_terms(fields.payment_terms_days)
    try:
        if fields.dunning_steps is not None:
            values["dunning_steps"] = steps_text(check_steps(fields.dunning_steps))
        if fields.dunning_action is not None:
            values["dunning_action"] = check_action(fields.dunning_action)
        values.update(_bank_values(entity, fields))
        values.update(_mail_values(fields))
    except RuleViolation as error:
        raise from_rule(error) from None
    for name in ("legal_name", "address_line1", "city"):
        if not values.get(name, getattr(entity, name)):
            raise InvalidInput(name, "is required")
    if values.get("invoice_prefix", entity.invoice_prefix) == values.get(
        "credit_note_prefix", entity.credit_note_prefix
    ):
        raise InvalidInput("credit_note_prefix", "must differ from the invoice prefix")
    _check_prefixes_free(
        session,
        entity.id,
        values.get("invoice_prefix", entity.invoice_prefix),
        values.get("credit_note_prefix", entity.credit_note_prefix),
    )
    for name, value in values.items():
        setattr(entity, name, value)


def _bank_values(entity: BillingEntity, fields: EntityFields) -> dict[str, str | None]:
    """The entity's bank columns after the change, each checked (core.bank).

    An IBAN without a BIC (or a new IBAN sent with the old BIC) takes the BIC of its bank
    where schwifty knows it.
    An entity is paid either to an IBAN or to a US account and routing number.
    """
    after: dict[str, str | None] = {
        name: getattr(entity, column) for name, column in BANK_COLUMNS.items()
    }
    checks = {
        "iban": bank.check_iban,
        "bic": bank.check_bic,
        "account_number": bank.check_us_account_number,
        "routing_number": bank.check_routing_number,
    }
    for name in BANK_FIELDS:
        given = getattr(fields, name)
        if given is None:
            continue
        if name == "bank_name":
            after[name] = one_line(given, name, 100)
        else:
            after[name] = checks[name](given) if given.strip() else None
    new_iban = fields.iban is not None and after["iban"] != entity.bank_iban
    if after["iban"] and (not after["bic"] or (new_iban and after["bic"] == entity.bank_bic)):
        # An IBAN without a BIC, or a new IBAN with the old BIC (a form sends it back),
        # takes its bank's BIC where schwifty knows it; else the BIC typed is kept.
        after["bic"] = bank.bic_of(after["iban"]) or after["bic"]
    elif not after["iban"] and fields.iban is not None and fields.bic is None:
        after["bic"] = None  # the IBAN was cleared: its BIC goes with it
    if after["bic"] and not after["iban"]:
        raise RuleViolation("bic", "needs an IBAN (a US account has a routing number)")
    if after["iban"] and (after["account_number"] or after["routing_number"]):
        raise RuleViolation(
            "iban", "an entity is paid to an IBAN or to a US account and routing number, not both"
        )
    if bool(after["account_number"]) != bool(after["routing_number"]):
        missing = "routing_number" if after["account_number"] else "account_number"
        raise RuleViolation(missing, "a US account needs both its account and routing numbers")
    return {BANK_COLUMNS[name]: value for name, value in after.items()}


def _mail_values(fields: EntityFields) -> dict[str, str | int | None]:
    """The entity's From address and SMTP server columns that the change gives, checked."""
    values: dict[str, str | int | None] = {}
    if fields.mail_from is not None:
        values["mail_from"] = (
            check_email(fields.mail_from, "mail_from") if fields.mail_from.strip() else None
        )
    texts = (
        ("smtp_host", smtp_settings.check_host),
        ("smtp_security", smtp_settings.check_security),
        ("smtp_user", smtp_settings.check_user),
    )
    for name, check in texts:
        given = getattr(fields, name)
        if given is not None:
            values[name] = check(given, name) if given.strip() else None
    if fields.smtp_port is not None:
        values["smtp_port"] = (
            smtp_settings.check_port(fields.smtp_port) if fields.smtp_port else None
        )
    return values


def _check_prefixes_free(
    session: Session, entity_id: int | None, invoice_prefix: str, credit_note_prefix: str
) -> None:
    """No other entity numbers documents with either prefix."""
    for field, prefix in (
        ("invoice_prefix", invoice_prefix),
        ("credit_note_prefix", credit_note_prefix),
    ):
        other = session.scalar(
            select(BillingEntity.code).where(
                BillingEntity.id != (entity_id or 0),
                (BillingEntity.invoice_prefix == prefix)
                | (BillingEntity.credit_note_prefix == prefix),
            )
        )
        if other is not None:
            raise Conflict(f"{field} {prefix!r} is already used by billing entity {other!r}")
    # Creditor references keep only a number's letters and digits (core.bank): INV- and
    # INV/ would give two invoices the same reference.
    compact = bank.compact_prefix(invoice_prefix)
    for code, other_prefix in session.execute(
        select(BillingEntity.code, BillingEntity.invoice_prefix).where(
            BillingEntity.id != (entity_id or 0)
        )
    ):
        if bank.compact_prefix(other_prefix) == compact:
            raise Conflict(
                f"invoice_prefix {invoice_prefix!r} has the letters and digits of billing "
                f"entity {code!r}'s {other_prefix!r}: their invoices' payment references "
                "would be the same"
            )


def _check_password_variable_free(session: Session, code: str) -> None:
    """No other entity's SMTP password is read from the variable this code would read.

    `us-east` and `us_east` both read LEADBILL_SMTP_PASSWORD_US_EAST: the second entity
    would sign in to its SMTP server with the first one's password.
    """
    variable = smtp_settings.password_variable(code)
    for other in session.scalars(select(BillingEntity.code)):
        if smtp_settings.password_variable(other) == variable:
            raise Conflict(
                f"code {code!r} would read its SMTP password from {variable}, as billing "
                f"entity {other!r} does: choose a code that differs in a letter or digit"
            )


def ensure_sequence(session: Session, prefix: str) -> None:
    """The counter row of a prefix, created at 1 when it does not exist yet."""
    exists = session.scalar(select(NumberSequence.name).where(NumberSequence.name == prefix))
    if exists is None:
        session.execute(insert(NumberSequence), [{"name": prefix, "next_value": 1}])


def create_entity(
    session: Session, *, code: str, fields: EntityFields, as_of: datetime
) -> BillingEntity:
    """A new billing entity; the first one becomes the default."""
    code = code.strip().lower()
    if not CODE.match(code):
        raise InvalidInput("code", "must be 1 to 32 lower-case letters, digits, '-' or '_'")
    try:
        at = require_utc(as_of, "as_of")
    except RuleViolation as error:
        raise from_rule(error) from None
    if session.scalar(select(BillingEntity.id).where(BillingEntity.code == code)) is not None:
        raise Conflict(f"billing entity {code!r} already exists")
    _check_password_variable_free(session, code)
    if fields.country is None:
        raise InvalidInput("country", "is required")
    first = session.scalar(select(BillingEntity.id).limit(1)) is None
    entity = BillingEntity(
        code=code,
        invoice_prefix=LEGACY_INVOICE_PREFIX if first else "",
        credit_note_prefix=LEGACY_CREDIT_NOTE_PREFIX if first else "",
        payment_terms_days=15,
        default_currency="USD",
        dunning_steps=steps_text(DEFAULT_STEPS),
        dunning_action=NO_ACTION,
        is_default=first,
        created_at=at,
        updated_at=at,
    )
    if not first and (fields.invoice_prefix is None or fields.credit_note_prefix is None):
        raise InvalidInput(
            "invoice_prefix" if fields.invoice_prefix is None else "credit_note_prefix",
            "is required for every entity but the first (which continues INV- and CN-)",
        )
    _apply(session, entity, fields)
    session.add(entity)
    session.flush()
    ensure_sequence(session, entity.invoice_prefix)
    ensure_sequence(session, entity.credit_note_prefix)
    return entity


def update_entity(
    session: Session, code: str, fields: EntityFields, as_of: datetime
) -> BillingEntity:
    """Change an entity's settings; finalized documents keep the snapshot they took."""
    entity = get_entity(session, code)
    _apply(session, entity, fields)
    entity.updated_at = require_utc(as_of, "as_of")
    session.flush()
    ensure_sequence(session, entity.invoice_prefix)
    ensure_sequence(session, entity.credit_note_prefix)
    return entity


def make_default(session: Session, code: str, as_of: datetime) -> BillingEntity:
    """Make `code` the default entity (of every account without one of its own)."""
    entity = get_entity(session, code)
    session.execute(
        update(BillingEntity).where(BillingEntity.id != entity.id).values(is_default=False)
    )
    entity.is_default = True
    entity.updated_at = require_utc(as_of, "as_of")
    session.flush()
    return entity


def get_entity(session: Session, code: str) -> BillingEntity:
    """The billing entity with this code."""
    # Codes are stored in lower case (create_entity), so US and us name the same entity.
    wanted = code.strip().lower()
    entity = session.scalar(select(BillingEntity).where(BillingEntity.code == wanted))
    if entity is None:
        raise NotFound(f"billing entity {code!r} does not exist")
    return entity


def list_entities(session: Session) -> list[BillingEntity]:
    """Every billing entity, by code."""
    return list(session.scalars(select(BillingEntity).order_by(BillingEntity.code)))


def default_entity(session: Session) -> BillingEntity | None:
    """The default billing entity; None while the operator has set none up."""
    return session.scalar(select(BillingEntity).where(BillingEntity.is_default.is_(True)))


def next_numbers(session: Session, entity: BillingEntity) -> tuple[str, str]:
    """The numbers the entity's next invoice and credit note will get (INV-000034)."""
    rows = session.execute(
        select(NumberSequence.name, NumberSequence.next_value).where(
            NumberSequence.name.in_([entity.invoice_prefix, entity.credit_note_prefix])
        )
    )
    values = {name: value for name, value in rows}
    return (
        f"{entity.invoice_prefix}{values.get(entity.invoice_prefix, 1):06d}",
        f"{entity.credit_note_prefix}{values.get(entity.credit_note_prefix, 1):06d}",
    )


def issuer_snapshot(entity: BillingEntity) -> dict[str, Any]:
    """What a finalized document keeps of its issuer."""
    return {
        "code": entity.code,
        "legal_name": entity.legal_name,
        "address_line1": entity.address_line1,
        "address_line2": entity.address_line2,
        "city": entity.city,
        "postal_code": entity.postal_code,
        "region": entity.region,
        "country": entity.country,
        "tax_id": entity.tax_id,
        "email": entity.email,
        "bank_name": entity.bank_name,
        "iban": entity.bank_iban,
        "bic": entity.bank_bic,
        "account_number": entity.bank_account_number,
        "routing_number": entity.bank_routing_number,
    }
