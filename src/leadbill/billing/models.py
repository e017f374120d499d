"""Invoices, their lines, the gapless numbering counter, and payments."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from leadbill.db import Base, BigId, MoneyAmount, UTCDateTime


class Invoice(Base):
    """An invoice: draft, then open with a gapless number, then paid or void.

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
    kind: Mapped[str] = mapped_column(String(16))  # period | seat_fee
    number: Mapped[str | None] = mapped_column(String(32), unique=True)
    status: Mapped[str] = mapped_column(String(16))  # draft | open | paid | void
    currency: Mapped[str] = mapped_column(String(3))
    total: Mapped[Decimal] = mapped_column(MoneyAmount())
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finalized_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


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


class NumberSequence(Base):
    """A gapless counter; its row is locked while a number is taken."""

    __tablename__ = "number_sequences"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    next_value: Mapped[int] = mapped_column(Integer)


class Payment(Base):
    """Money received against one invoice. The reference is unique per account."""

    __tablename__ = "payments"
    __table_args__ = (UniqueConstraint("account_id", "reference"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(MoneyAmount())
    currency: Mapped[str] = mapped_column(String(3))
    reference: Mapped[str] = mapped_column(String(128))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
