"""Accounts: the operator's customers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from leadbill.db import Base, BigId, UTCDateTime


class Account(Base):
    """A customer of the operator, with its currency and time zone."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3))
    time_zone: Mapped[str] = mapped_column(String(64))
    billing_email: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class BillingDetails(Base):
    """What an account's invoices say of the customer, and which entity issues them.

    One row per account at most; an account without one belongs to the default
    billing entity and is billed under its name. Each invoice snapshots these
    details when it is finalized, so editing them never changes an issued document.
    The country decides the tax (core.tax); `tax_id` was checked for format and
    check digits when it was stored.
    """

    __tablename__ = "billing_details"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    billing_entity_id: Mapped[int | None] = mapped_column(ForeignKey("billing_entities.id"))
    legal_name: Mapped[str | None] = mapped_column(String(200))
    address_line1: Mapped[str | None] = mapped_column(String(200))
    address_line2: Mapped[str | None] = mapped_column(String(200))
    city: Mapped[str | None] = mapped_column(String(100))
    postal_code: Mapped[str | None] = mapped_column(String(20))
    region: Mapped[str | None] = mapped_column(String(8))
    country: Mapped[str | None] = mapped_column(String(2))
    tax_id: Mapped[str | None] = mapped_column(String(32))
    tax_exemption: Mapped[str | None] = mapped_column(String(100))
    purchase_order: Mapped[str | None] = mapped_column(String(64))
    payment_terms_days: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
