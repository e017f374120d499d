"""The one query of the aging report: invoices owed at an instant, with what was paid.

Owed at `as_of` means finalized by then and, by then, neither paid, void nor
marked uncollectible; only payments received by then count against it. One
statement reads the invoices and their payments together (an outer join); the
amounts are summed as Decimals in Python, since SQLite keeps money as text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from leadbill.accounts.models import Account
from leadbill.billing.models import Invoice, Payment
from leadbill.entities.models import BillingEntity


@dataclass(slots=True)
class OwedInvoice:
    """A finalized invoice owed at the report's instant, and what was paid on it by then."""

    invoice_id: int
    number: str
    account_code: str
    time_zone: str
    entity_code: str | None  # None: issued before billing entities existed
    currency: str
    total: Decimal
    due_on: date | None
    paid: Decimal


def _unset_or_after(column: InstrumentedAttribute[datetime | None], as_of: datetime) -> Any:
    return or_(column.is_(None), column > as_of)


def owed_invoices(
    session: Session,
    as_of: datetime,
    *,
    account_id: int | None = None,
    entity_id: int | None = None,
) -> list[OwedInvoice]:
    """Every invoice owed at `as_of`, by id, optionally of one account or one entity."""
    query = (
        select(
            Invoice.id,
            Invoice.number,
            Account.code,
            Account.time_zone,
            BillingEntity.code,
            Invoice.currency,
            Invoice.total,
            Invoice.due_on,
            Payment.amount,
        )
        .join(Account, Account.id == Invoice.account_id)
        .outerjoin(BillingEntity, BillingEntity.id == Invoice.billing_entity_id)
        .outerjoin(Payment, and_(Payment.invoice_id == Invoice.id, Payment.received_at <= as_of))
        .where(
            Invoice.number.is_not(None),
            Invoice.status != "draft",
            Invoice.finalized_at <= as_of,
            _unset_or_after(Invoice.paid_at, as_of),
            _unset_or_after(Invoice.voided_at, as_of),
            _unset_or_after(Invoice.uncollectible_at, as_of),
        )
        .order_by(Invoice.id)
    )
    if account_id is not None:
        query = query.where(Invoice.account_id == account_id)
    if entity_id is not None:
        query = query.where(Invoice.billing_entity_id == entity_id)
    found: dict[int, OwedInvoice] = {}
    for row in session.execute(query):
        (invoice_id, number, code, zone, entity, currency, total, due_on, paid) = row
        owed = found.get(invoice_id)
        if owed is None:
            owed = found[invoice_id] = OwedInvoice(
                invoice_id, str(number), code, zone, entity, currency, total, due_on, Decimal(0)
            )  # every finalized invoice has a number
        if paid is not None:
            owed.paid += paid
    return list(found.values())
