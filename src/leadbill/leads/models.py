"""Leads and their events."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from leadbill.db import Base, BigId, UTCDateTime


class Lead(Base):
    """One prospect, identified by the operator's own lead id within an account.

    `first_called_at` is the earliest call event, kept up to date on ingestion so
    that usage is a plain indexed GROUP BY; it is what the `called` counting
    policy of the core selects.
    """

    __tablename__ = "leads"
    __table_args__ = (
        UniqueConstraint("account_id", "external_id"),
        Index("ix_leads_account_first_called", "account_id", "first_called_at"),
        Index("ix_leads_account_seat", "account_id", "seat_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    external_id: Mapped[str] = mapped_column(String(128))
    seat_id: Mapped[int | None] = mapped_column(ForeignKey("seats.id"))
    name: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(254))
    postal_code: Mapped[str | None] = mapped_column(String(16))
    source: Mapped[str | None] = mapped_column(String(32))
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    first_called_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LeadEvent(Base):
    """One event of a lead's history. The idempotency key makes re-sending harmless."""

    __tablename__ = "lead_events"
    __table_args__ = (
        UniqueConstraint("account_id", "idempotency_key"),
        Index("ix_lead_events_lead", "lead_id", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"))
    idempotency_key: Mapped[str] = mapped_column(String(128))
    type: Mapped[str] = mapped_column(String(32))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    call_result: Mapped[str | None] = mapped_column(String(64))
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[str | None] = mapped_column(String(500))
    ingested_at: Mapped[datetime] = mapped_column(UTCDateTime())
