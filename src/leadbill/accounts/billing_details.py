"""An account's billing details: legal name, postal address, tax number, PO, terms, entity.

Every value is checked where it comes in: lengths, the country (ISO 3166-1) and
region (ISO 3166-2), and the tax number for format and check digits against the
country (core.tax_numbers, with python-stdnum). An empty string clears an
optional field; None leaves it as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadbill.accounts.models import Account, BillingDetails
from leadbill.core.errors import RuleViolation
from leadbill.core.periods import require_utc
from leadbill.core.tax_numbers import check_country, check_region, check_tax_id
from leadbill.core.wording import one_line
from leadbill.entities.models import BillingEntity
from leadbill.entities.service import check_terms, get_entity
from leadbill.errors import from_rule

# The documented maximum length of each text field.
LIMITS = {
    "legal_name": 200,
    "address_line1": 200,
    "address_line2": 200,
    "city": 100,
    "postal_code": 20,
    "tax_exemption": 100,
    "purchase_order": 64,
}
# The stored columns a change may set.
STORED = (
    *LIMITS,
    "region",
    "country",
    "tax_id",
    "payment_terms_days",
    "billing_entity_id",
)


@dataclass(frozen=True, slots=True)
class DetailsChange:
    """A change of billing details: None keeps a field, "" clears it."""

    legal_name: str | None = None
    address_line1: str | None = None
    address_line2: str | None = None
    city: str | None = None
    postal_code: str | None = None
    region: str | None = None
    country: str | None = None
    tax_id: str | None = None
    tax_exemption: str | None = None
    purchase_order: str | None = None
    payment_terms_days: int | None = None
    clear_payment_terms: bool = False
    billing_entity: str | None = None  # an entity's code; "" for the default entity


def details_of(session: Session, account_id: int) -> BillingDetails | None:
    """The account's billing details, None when it has none of its own."""
    return session.get(BillingDetails, account_id)


def set_details(
    session: Session, account: Account, change: DetailsChange, as_of: datetime
) -> BillingDetails:
    """Apply a change to the account's billing details; nothing is stored if a field is bad."""
    try:
        at = require_utc(as_of, "as_of")
    except RuleViolation as error:
        raise from_rule(error) from None
    details = details_of(session, account.id)
    values: dict[str, Any] = {
        name: getattr(details, name) if details is not None else None for name in STORED
    }
    try:
        for name, limit in LIMITS.items():
            given = getattr(change, name)
            if given is not None:
                values[name] = one_line(given, name, limit)
        if change.country is not None:
            values["country"] = check_country(change.country) if change.country.strip() else None
        if change.region is not None:
            values["region"] = change.region.strip() or None
        if values["region"] is not None:
            values["region"] = check_region(values["region"], values["country"])
        if change.tax_id is not None:
            values["tax_id"] = change.tax_id.strip() or None
        if values["tax_id"] is not None:
            values["tax_id"] = check_tax_id(values["tax_id"], values["country"])
    except RuleViolation as error:
        raise from_rule(error) from None
    if change.clear_payment_terms:
        values["payment_terms_days"] = None
    elif change.payment_terms_days is not None:
        values["payment_terms_days"] = check_terms(change.payment_terms_days)
    if change.billing_entity is not None:
        values["billing_entity_id"] = (
            get_entity(session, change.billing_entity).id if change.billing_entity else None
        )
    if details is None:
        details = BillingDetails(account_id=account.id, updated_at=at, **values)
        session.add(details)
    else:
        for name, value in values.items():
            setattr(details, name, value)
        details.updated_at = at
    session.flush()
    return details


def entity_of(session: Session, details: BillingDetails | None) -> BillingEntity | None:
    """The entity that bills an account: its own, else the default (None: none set up)."""
    if details is not None and details.billing_entity_id is not None:
        return session.get_one(BillingEntity, details.billing_entity_id)
    return session.scalar(select(BillingEntity).where(BillingEntity.is_default.is_(True)))


def customer_snapshot(values: Mapping[str, Any]) -> dict[str, Any]:
    """What a finalized document keeps of its customer.

    `values` holds the account's `code`, `name` and `billing_email` and its billing
    details' columns (None where the account has none): one plain row, read for a
    whole batch of accounts at once.
    """
    return {
        "code": values["code"],
        "legal_name": values["legal_name"] or values["name"],
        "address_line1": values["address_line1"],
        "address_line2": values["address_line2"],
        "city": values["city"],
        "postal_code": values["postal_code"],
        "region": values["region"],
        "country": values["country"],
        "tax_id": values["tax_id"],
        "tax_exemption": values["tax_exemption"],
        "purchase_order": values["purchase_order"],
        "email": values["billing_email"],
    }
