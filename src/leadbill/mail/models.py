"""The mail outbox: one row per message to send, and the log of its attempts.

A message is written by the same transaction as the change that causes it
(an invoice finalized, a credit note issued), like the webhook outbox. The row
names what to send (its kind and the document), not the rendered message:
the text, HTML and PDF are made when the worker sends it, so a billing run
only inserts small rows. What was sent (subject, parts, attachment names) is
kept on the row when it is sent, so `leadbill mail show` prints it exactly.

A billing batch does not write a message per invoice: it writes one row for
the whole batch (`MailInvoiceBatch`, the invoices it finalized), and the outbox
turns it into the messages before it is next read or sent
(`leadbill.mail.service.catch_up`), so billing pays for one small insert per
batch. The batch row commits with its invoices or not at all.

A kind and its document are unique: one "invoice issued" message per invoice,
one "credit note issued" per credit note, one reminder per dunning step (database
constraints, not checks).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from leadbill.db import Base, BigId, UTCDateTime


class MailMessage(Base):
    """One message in the outbox, with its delivery state.

    Status: `pending` (due at `next_attempt_at`), `sending` (claimed by a worker
    until `next_attempt_at`, its lease), `sent` (the SMTP server accepted it),
    `failed` (refused for good, 5xx, or the last allowed attempt failed),
    `cancelled` (not sent: a reminder whose invoice was paid, credited to zero,
    void or written off before it went out; `last_error` says which).
    `attempts` counts the attempts since the message was last (re)queued.
    """

    __tablename__ = "mail_messages"
    __table_args__ = (
        UniqueConstraint("kind", "invoice_id"),
        UniqueConstraint("kind", "credit_note_id"),
        Index("uq_mail_messages_reminder_id", "reminder_id", unique=True),
        Index("ix_mail_messages_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # None: a message to a staff user (a password reset), who belongs to no account.
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"))
    credit_note_id: Mapped[int | None] = mapped_column(ForeignKey("credit_notes.id"))
    # A dunning reminder (kind invoice.reminder, a `dunning_reminders` id): one message
    # per reminder step. No foreign key, so that SQLite adds and drops the column in
    # place instead of recreating the outbox (which its attempts point at).
    reminder_id: Mapped[int | None] = mapped_column(BigId)
    recipient: Mapped[str] = mapped_column(String(254))
    message_id: Mapped[str] = mapped_column(String(100), unique=True)  # the Message-ID header
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    lease: Mapped[str | None] = mapped_column(String(32))
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_code: Mapped[int | None] = mapped_column(Integer)  # the SMTP reply code
    last_error: Mapped[str | None] = mapped_column(String(500))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # As sent (empty until then): the From address, subject, parts and attachment names.
    sender: Mapped[str | None] = mapped_column(String(254))
    subject: Mapped[str | None] = mapped_column(String(300))
    text_body: Mapped[str | None] = mapped_column(Text)
    html_body: Mapped[str | None] = mapped_column(Text)
    attachments: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class MailAttempt(Base):
    """One attempt to send: when, the SMTP reply code (none on a connection error), why."""

    __tablename__ = "mail_attempts"
    __table_args__ = (UniqueConstraint("message_id", "number"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("mail_messages.id"))
    number: Mapped[int] = mapped_column(Integer)  # 1, 2, … over the message's whole life
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    code: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(500))
    outcome: Mapped[str] = mapped_column(String(16))  # sent | retry | failed | superseded


class MailInvoiceBatch(Base):
    """The invoices one billing batch finalized, waiting to become "invoice issued" messages.

    `invoices` is a list of [account id, invoice id] pairs; `created_at` is when the
    batch queued them (each message's creation and first due time). No foreign keys:
    the row lives only until the outbox catches up, and the messages it becomes
    carry them.
    """

    __tablename__ = "mail_invoice_batches"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    invoices: Mapped[list[list[int]]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
