"""Seats: one fixed primary person and one optional backup."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from leadbill.db import Base, BigId, UTCDateTime


class Seat(Base):
    """A seat of a subscription. The primary never changes; the backup may."""

    __tablename__ = "seats"
    __table_args__ = (UniqueConstraint("account_id", "code"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    primary_name: Mapped[str] = mapped_column(String(200))
    primary_email: Mapped[str] = mapped_column(String(254))
    primary_phone: Mapped[str | None] = mapped_column(String(32))
    backup_name: Mapped[str | None] = mapped_column(String(200))
    backup_email: Mapped[str | None] = mapped_column(String(254))
    backup_phone: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str | None] = mapped_column(String(200))  # staff or API key
