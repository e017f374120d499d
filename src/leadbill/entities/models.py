"""Billing entities: who issues an account's invoices, with its own number sequences."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from leadbill.db import Base, BigId, UTCDateTime


class BillingEntity(Base):
    """The operator (or one of its companies) as it appears on its invoices.

    Every invoice and credit note snapshots its entity when it is finalized, so
    editing an entity never changes a finalized document. Numbers are gapless per
    prefix: `invoice_prefix` and `credit_note_prefix` name the counter rows in
    `number_sequences`, and no two entities share a prefix. One entity is the
    default: accounts that name none belong to it.
    """

    __tablename__ = "billing_entities"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    legal_name: Mapped[str] = mapped_column(String(200))
    address_line1: Mapped[str] = mapped_column(String(200))
    address_line2: Mapped[str | None] = mapped_column(String(200))
    city: Mapped[str] = mapped_column(String(100))
    postal_code: Mapped[str | None] = mapped_column(String(20))
    region: Mapped[str | None] = mapped_column(String(8))
    country: Mapped[str] = mapped_column(String(2))
    tax_id: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(254))
    invoice_prefix: Mapped[str] = mapped_column(String(12), unique=True)
    credit_note_prefix: Mapped[str] = mapped_column(String(12), unique=True)
    payment_terms_days: Mapped[int] = mapped_column(Integer)
    default_currency: Mapped[str] = mapped_column(String(3))
    # Dunning (core.dunning): reminder steps in days after the due date, as "0,3,7,14",
    # and the final action after the last one (none, uncollectible, pause_service).
    dunning_steps: Mapped[str] = mapped_column(String(60), default="0,3,7,14")
    dunning_action: Mapped[str] = mapped_column(String(16), default="none")
    # Where customers pay by transfer: an IBAN (and BIC), or a US account number and
    # ABA routing number; never both (core.bank checks each).
    bank_name: Mapped[str | None] = mapped_column(String(100))
    bank_iban: Mapped[str | None] = mapped_column(String(34))
    bank_bic: Mapped[str | None] = mapped_column(String(11))
    bank_account_number: Mapped[str | None] = mapped_column(String(17))
    bank_routing_number: Mapped[str | None] = mapped_column(String(9))
    # Its own SMTP server and From address for the e-mails it sends (none: the
    # LEADBILL_SMTP_* server and LEADBILL_MAIL_FROM). The password is never stored:
    # the worker reads it from LEADBILL_SMTP_PASSWORD_<CODE> (mail.smtp).
    mail_from: Mapped[str | None] = mapped_column(String(254))
    smtp_host: Mapped[str | None] = mapped_column(String(253))
    smtp_port: Mapped[int | None] = mapped_column(Integer)
    smtp_security: Mapped[str | None] = mapped_column(String(8))
    smtp_user: Mapped[str | None] = mapped_column(String(254))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
