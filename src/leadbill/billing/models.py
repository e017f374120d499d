"""Invoices, their lines, the gapless numbering counter, and payments."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    event,
    inspect,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column

from leadbill.db import Base, BigId, MoneyAmount, UTCDateTime
from leadbill.errors import Conflict


class Invoice(Base):
    """An invoice: draft, then open with a gapless number, then paid, void or uncollectible.

    `total` is what the customer pays: `net_total` + `tax_total` (the gross) plus
    the credit notes applied as negative lines (R15). `issuer` and `customer` are
    the billing entity's and the account's details as they were at finalization
    (None on invoices finalized before billing entities existed); `due_on` is the
    issue date in the account's time zone plus its payment terms.

    `(subscription_id, boundary_index)` is unique: the invoice issued at the
    start of period k (closing period k-1) exists at most once, whatever runs.
    A seat's fee invoice is unique per seat.
    """

    __tablename__ = "invoices"
    __table_args__ = (
        UniqueConstraint("subscription_id", "boundary_index"),
        UniqueConstraint("seat_id"),
        Index("ix_invoices_account_issued", "account_id", "issued_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    subscription_id: Mapped[int | None] = mapped_column(ForeignKey("subscriptions.id"))
    seat_id: Mapped[int | None] = mapped_column(ForeignKey("seats.id"))
    boundary_index: Mapped[int | None] = mapped_column(Integer)
    # period: a boundary of the billing run, or a subscription's first fee (boundary 0);
    # seat_fee: a new seat's one-time fee (R8); change: the prorated fee difference of
    # a plan change at once (R7); licences: licences added inside a period (R20).
    kind: Mapped[str] = mapped_column(String(16))
    number: Mapped[str | None] = mapped_column(String(32), unique=True)
    # draft | open | paid | void | uncollectible
    status: Mapped[str] = mapped_column(String(16))
    currency: Mapped[str] = mapped_column(String(3))
    total: Mapped[Decimal] = mapped_column(MoneyAmount())
    net_total: Mapped[Decimal] = mapped_column(MoneyAmount())
    tax_total: Mapped[Decimal] = mapped_column(MoneyAmount())
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finalized_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The entity of the issuer snapshot: a record of history, not a live reference.
    billing_entity_id: Mapped[int | None] = mapped_column(BigId)
    due_on: Mapped[date | None] = mapped_column(Date)
    issuer: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    customer: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    tax_mention: Mapped[str | None] = mapped_column(String(300))
    uncollectible_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    uncollectible_reason: Mapped[str | None] = mapped_column(String(300))
    # The ISO 11649 creditor reference the customer quotes when paying by transfer
    # (core.bank.creditor_reference of the number), set at finalization.
    payment_reference: Mapped[str | None] = mapped_column(String(25), index=True)


class InvoiceLine(Base):
    """One line of an invoice, rounded once when it was rated."""

    __tablename__ = "invoice_lines"
    __table_args__ = (UniqueConstraint("invoice_id", "position"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"))
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(String(300))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal] = mapped_column(MoneyAmount())
    amount: Mapped[Decimal] = mapped_column(MoneyAmount())
    period_start: Mapped[datetime | None] = mapped_column(UTCDateTime())
    period_end: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # core.tax: EN 16931 category (None: no tax), rate in percent, the line's tax.
    tax_category: Mapped[str | None] = mapped_column(String(2))
    tax_rate: Mapped[Decimal] = mapped_column(MoneyAmount())
    tax_amount: Mapped[Decimal] = mapped_column(MoneyAmount())


class NumberSequence(Base):
    """A gapless counter; its row is locked while a number is taken."""

    __tablename__ = "number_sequences"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    next_value: Mapped[int] = mapped_column(Integer)


PAYMENT_METHODS = ("bank_transfer", "sepa_debit", "card", "other")


class Payment(Base):
    """Money received against one invoice. The reference is unique per account.

    `method` is how the money came (PAYMENT_METHODS); `provider_reference` is what
    the bank or payment provider calls it (a statement's entry reference, a charge
    id); `fee` is what the provider kept of it, where known (NULL: not known).
    """

    __tablename__ = "payments"
    __table_args__ = (UniqueConstraint("account_id", "reference"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(MoneyAmount())
    currency: Mapped[str] = mapped_column(String(3))
    reference: Mapped[str] = mapped_column(String(128))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    method: Mapped[str] = mapped_column(
        String(16), default="bank_transfer", server_default="bank_transfer"
    )
    provider_reference: Mapped[str | None] = mapped_column(String(128))
    fee: Mapped[Decimal | None] = mapped_column(MoneyAmount())


# A finalized invoice is immutable: only its status and the instants that record a
# status change may move. The guard sits on the mapper so that no code path that
# goes through the ORM can edit a finalized invoice or its lines by accident.
_STATUS_FIELDS = frozenset(
    {"status", "paid_at", "voided_at", "uncollectible_at", "uncollectible_reason"}
)


def _previous_status(invoice: Invoice) -> str:
    history = inspect(invoice).attrs.status.history
    if history.deleted:
        return str(history.deleted[0])
    return invoice.status


def _refuse_finalized_invoice_change(_mapper: Any, _connection: Any, invoice: Invoice) -> None:
    previous = _previous_status(invoice)
    if previous == "draft":
        return
    if invoice.status == "draft":
        raise Conflict(f"invoice {invoice.number} is {previous}; it cannot become a draft again")
    state = inspect(invoice)
    for attribute in state.mapper.column_attrs:
        if attribute.key in _STATUS_FIELDS:
            continue
        if state.attrs[attribute.key].history.has_changes():
            raise Conflict(
                f"invoice {invoice.number} is {previous} and immutable; "
                f"{attribute.key} cannot change (issue a credit note instead)"
            )


def _refuse_finalized_line_change(_mapper: Any, connection: Any, line: InvoiceLine) -> None:
    status = connection.execute(
        select(Invoice.__table__.c.status).where(Invoice.__table__.c.id == line.invoice_id)
    ).scalar()
    if status is not None and status != "draft":
        raise Conflict(f"invoice {line.invoice_id} is {status}; its lines cannot change")


event.listen(Invoice, "before_update", _refuse_finalized_invoice_change)
for _event in ("before_insert", "before_update", "before_delete"):
    event.listen(InvoiceLine, _event, _refuse_finalized_line_change)
