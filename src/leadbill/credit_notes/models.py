"""Credit notes, their lines, and their application to later invoices."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column

from leadbill.db import Base, BigId, MoneyAmount, UTCDateTime
from leadbill.errors import Conflict


class CreditNote(Base):
    """A correction to a finalized invoice: numbered without gaps, immutable.

    It comes from an approved review of a lead (R15: `review_id` and `lead_id`)
    or from an immediate downgrade (R7: `subscription_change_id`), never both.
    `review_id` is unique: one approved review credits at most once, whatever
    runs at the same time; `(subscription_change_id, invoice_id)` is unique: a
    plan change credits each invoice that charged the reduced fee at most once.
    The number comes from its own gapless counter, shared by both kinds.
    """

    __tablename__ = "credit_notes"
    __table_args__ = (
        UniqueConstraint("review_id", name="uq_credit_notes_review"),
        UniqueConstraint(
            "subscription_change_id", "invoice_id", name="uq_credit_notes_change_invoice"
        ),
        CheckConstraint(
            "(review_id IS NOT NULL AND lead_id IS NOT NULL AND subscription_change_id IS NULL)"
            " OR (review_id IS NULL AND lead_id IS NULL AND subscription_change_id IS NOT NULL)",
            name="ck_credit_notes_review_or_change",
        ),
        Index("ix_credit_notes_account_issued", "account_id", "issued_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    number: Mapped[str] = mapped_column(String(32), unique=True)
    review_id: Mapped[int | None] = mapped_column(ForeignKey("reviews.id"))
    subscription_change_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscription_changes.id", name="fk_credit_notes_subscription_change")
    )
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"))
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id"))
    currency: Mapped[str] = mapped_column(String(3))
    total: Mapped[Decimal] = mapped_column(MoneyAmount())  # gross: net + tax
    net_total: Mapped[Decimal] = mapped_column(MoneyAmount())
    tax_total: Mapped[Decimal] = mapped_column(MoneyAmount())
    reason: Mapped[str] = mapped_column(String(32))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The issuer and customer as they were when the credit note was issued (None before 0016).
    # The entity of the issuer snapshot: a record of history, not a live reference.
    billing_entity_id: Mapped[int | None] = mapped_column(BigId)
    issuer: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    customer: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class CreditNoteLine(Base):
    """One line of a credit note: a charge beyond the re-rating, or a downgrade's fee difference."""

    __tablename__ = "credit_note_lines"
    __table_args__ = (UniqueConstraint("credit_note_id", "position"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    credit_note_id: Mapped[int] = mapped_column(ForeignKey("credit_notes.id"))
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(String(400))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal] = mapped_column(MoneyAmount())
    amount: Mapped[Decimal] = mapped_column(MoneyAmount())
    period_start: Mapped[datetime | None] = mapped_column(UTCDateTime())
    period_end: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The tax of the invoice lines it corrects (core.tax.credited_tax).
    tax_category: Mapped[str | None] = mapped_column(String(2))
    tax_rate: Mapped[Decimal] = mapped_column(MoneyAmount())
    tax_amount: Mapped[Decimal] = mapped_column(MoneyAmount())


class CreditApplication(Base):
    """Part (or all) of a credit note taken by one invoice, as a negative line there.

    `(credit_note_id, sequence)` is unique and `sequence` counts the note's
    applications from 1: two billing runs applying the same credit at once
    write the same key, so one of them fails and retries, and a credit is
    never applied twice. `(credit_note_id, invoice_id)` is unique as well.
    """

    __tablename__ = "credit_applications"
    __table_args__ = (
        UniqueConstraint("credit_note_id", "sequence"),
        UniqueConstraint("credit_note_id", "invoice_id"),
        Index("ix_credit_applications_account", "account_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    credit_note_id: Mapped[int] = mapped_column(ForeignKey("credit_notes.id"))
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"))
    sequence: Mapped[int] = mapped_column(Integer)
    amount: Mapped[Decimal] = mapped_column(MoneyAmount())
    remaining_after: Mapped[Decimal] = mapped_column(MoneyAmount())
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime())


def _refuse_change(_mapper: Any, _connection: Any, target: Any) -> None:
    raise Conflict(f"{type(target).__name__} rows are immutable once issued")


# Credit notes are immutable: the ORM refuses any update or delete of one or its lines.
for _model in (CreditNote, CreditNoteLine, CreditApplication):
    event.listen(_model, "before_update", _refuse_change)
    event.listen(_model, "before_delete", _refuse_change)
