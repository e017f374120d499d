"""Dunning's tables: one row per reminder step sent, one per invoice seen overdue.

`(invoice_id, step)` is unique: a step is queued once per invoice, ever, whatever
workers run the job at once or again. An invoice's `DunningInvoice` row is written
the first time the job sees it past its due date (the `invoice.overdue` webhook
goes out with it, once) and records the final action when it is taken.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from leadbill.db import Base, BigId, UTCDateTime


class DunningReminder(Base):
    """A reminder step queued for an invoice: its day after the due date and when.

    `days_overdue` is counted on the account's local date when it was queued; the
    message itself is a row of the mail outbox pointing here (`reminder_id`).
    """

    __tablename__ = "dunning_reminders"
    __table_args__ = (UniqueConstraint("invoice_id", "step"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"))
    step: Mapped[int] = mapped_column(Integer)
    due_on: Mapped[date] = mapped_column(Date)  # the date dunning counts from
    local_date: Mapped[date] = mapped_column(Date)  # the account's date when it was queued
    days_overdue: Mapped[int] = mapped_column(Integer)
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DunningInvoice(Base):
    """An invoice dunning saw overdue, and the final action taken on it (if any)."""

    __tablename__ = "dunning_invoices"

    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    overdue_at: Mapped[datetime] = mapped_column(UTCDateTime())
    action: Mapped[str | None] = mapped_column(String(16))  # uncollectible | pause_service
    action_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
