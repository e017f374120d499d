"""What an invoice takes from its account at issue: issuer, customer, tax, terms, numbering.

`billing_of` reads, for a whole batch of accounts at once, the billing entity
that issues their documents (their own, else the default one), their billing
details and terms. The tax rule itself is core.tax's; this module only feeds it
the stored data and applies its decision to the lines. An account of an
operator that has set up no billing entity is billed as before entities
existed: numbers INV-/CN-, no issuer block, no tax, net 15.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadbill.accounts.billing_details import customer_snapshot
from leadbill.accounts.models import Account, BillingDetails
from leadbill.core.tax import TaxDecision, TaxParties, TaxRate, decide_tax
from leadbill.entities.models import BillingEntity
from leadbill.entities.service import (
    LEGACY_CREDIT_NOTE_PREFIX,
    LEGACY_INVOICE_PREFIX,
    issuer_snapshot,
)
from leadbill.taxes.service import core_rates

_DETAIL_NAMES = (
    "account_id",
    "billing_entity_id",
    "legal_name",
    "address_line1",
    "address_line2",
    "city",
    "postal_code",
    "region",
    "country",
    "tax_id",
    "tax_exemption",
    "purchase_order",
    "payment_terms_days",
)
# Payment terms when neither the account nor an entity says otherwise.
DEFAULT_TERMS_DAYS = 15
CHUNK = 1000


@dataclass(frozen=True, slots=True)
class AccountBilling:
    """Everything an account's invoice takes at issue besides its lines."""

    account_id: int
    time_zone: str
    entity_id: int | None
    invoice_prefix: str
    credit_note_prefix: str
    terms_days: int
    parties: TaxParties
    issuer: dict[str, Any] | None
    customer: dict[str, Any]

    def issue_date(self, at: datetime) -> date:
        """The date an instant is in the account's time zone: the invoice's date."""
        return at.astimezone(ZoneInfo(self.time_zone)).date()

    def due_on(self, issued_at: datetime) -> date:
        """The issue date plus the payment terms."""
        return self.issue_date(issued_at) + timedelta(days=self.terms_days)

    def decision(self, rates: Sequence[TaxRate], issued_at: datetime) -> TaxDecision:
        """The tax of an invoice issued at `issued_at` (core.tax)."""
        return decide_tax(self.parties, rates, self.issue_date(issued_at))


def _billing(
    values: Mapping[str, Any], entity: BillingEntity | None, issuer: dict[str, Any] | None
) -> AccountBilling:
    """An account's billing from its plain row (account and billing-details columns)."""
    own_terms = values["payment_terms_days"]
    terms = (
        own_terms
        if own_terms is not None
        else entity.payment_terms_days
        if entity is not None
        else DEFAULT_TERMS_DAYS
    )
    customer = customer_snapshot(values)
    return AccountBilling(
        account_id=values["id"],
        time_zone=values["time_zone"],
        entity_id=entity.id if entity else None,
        invoice_prefix=entity.invoice_prefix if entity else LEGACY_INVOICE_PREFIX,
        credit_note_prefix=entity.credit_note_prefix if entity else LEGACY_CREDIT_NOTE_PREFIX,
        terms_days=terms,
        parties=TaxParties(
            issuer_country=entity.country if entity else None,
            customer_country=customer["country"],
            customer_region=customer["region"],
            customer_tax_id=customer["tax_id"],
            exemption=customer["tax_exemption"],
        ),
        issuer=issuer,
        customer=customer,
    )


def billing_of(
    session: Session, account_ids: Iterable[int], *, entity_id: int | None = None
) -> dict[int, AccountBilling]:
    """The billing of each account (three queries, whatever the number of accounts).

    With `entity_id`, that entity issues instead of the account's own (a credit
    note is issued by the entity of the invoice it corrects).
    """
    ids = sorted(set(account_ids))
    entities = {e.id: e for e in session.scalars(select(BillingEntity))}
    issuers = {e.id: issuer_snapshot(e) for e in entities.values()}
    default = next((e for e in entities.values() if e.is_default), None)
    found: dict[int, AccountBilling] = {}
    # Plain rows, not ORM objects: a batch reads thousands and changes none.
    account_columns = [Account.id, Account.code, Account.name, Account.time_zone]
    detail_columns = [getattr(BillingDetails, name) for name in _DETAIL_NAMES]
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        query = (
            select(*account_columns, Account.billing_email, *detail_columns)
            .outerjoin(BillingDetails, BillingDetails.account_id == Account.id)
            .where(Account.id.in_(chunk))
        )
        for row in session.execute(query):
            values = row._asdict()
            chosen = entity_id if entity_id is not None else values["billing_entity_id"]
            entity = entities.get(chosen) if chosen else default
            # One issuer snapshot per entity, shared by its documents (never changed).
            found[values["id"]] = _billing(values, entity, issuers[entity.id] if entity else None)
    return found


def account_billing(session: Session, account_id: int) -> AccountBilling:
    """The billing of one account."""
    return billing_of(session, [account_id])[account_id]


def tax_rates(session: Session) -> list[TaxRate]:
    """Every stored tax rate, for core.tax."""
    return core_rates(session)


def format_number(prefix: str, value: int) -> str:
    """The printed form of a document number: its prefix and six digits (INV-000042)."""
    return f"{prefix}{value:06d}"
