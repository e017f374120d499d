"""Leads and their events."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from leadbill.db import Base, BigId, UTCDateTime


def _partial_index(name: str, column: str, *more: str) -> Index:
    """(account_id, column, *more) for the leads whose `column` is set (migration 0008).

    Queries only compare these columns with a value, which NULL never matches, so
    the rows without one stay out of the index and cost nothing at ingestion.
    """
    where = text(f"{column} IS NOT NULL")
    return Index(name, "account_id", column, *more, sqlite_where=where, postgresql_where=where)


class Lead(Base):
    """One prospect, identified by the operator's own lead id within an account.

    `first_called_at` is the earliest call event, kept up to date on ingestion so
    that usage is a plain indexed GROUP BY; it is what the `called` counting
    policy of the core selects. `first_found_at` is the same for `contact_found`
    (the earliest contact_found / contact_enriched / contact_verified event).

    `phone_e164` and `email_key` are the normalised phone and e-mail
    (core.contacts), indexed per account so that duplicates are found by a
    join. `exclusion_reason` is the core's automatic reason (R12, R18) from
    the account context, with `exclusion_lead_id` the earlier lead a duplicate
    repeats; `decision_reason` is the latest staff decision (R16).
    """

    __tablename__ = "leads"
    __table_args__ = (
        UniqueConstraint("account_id", "external_id"),
        # Lets a review reference (account_id, lead_id): no review of another account's lead.
        Index("uq_leads_account_id", "account_id", "id", unique=True),
        # Covers the `called` usage queries (count, per seat, per category): migration 0014.
        _partial_index(
            "ix_leads_account_first_called",
            "first_called_at",
            "decision_reason",
            "seat_id",
            "category",
        ),
        Index("ix_leads_account_received", "account_id", "received_at"),
        _partial_index("ix_leads_account_first_found", "first_found_at"),
        _partial_index("ix_leads_account_phone", "phone_e164", "received_at"),
        _partial_index("ix_leads_account_email", "email_key", "received_at"),
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
    category: Mapped[str | None] = mapped_column(String(64))
    campaign: Mapped[str | None] = mapped_column(String(64))
    company: Mapped[str | None] = mapped_column(String(200))
    company_domain: Mapped[str | None] = mapped_column(String(200))
    phone_e164: Mapped[str | None] = mapped_column(String(16))
    email_key: Mapped[str | None] = mapped_column(String(254))
    first_found_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    exclusion_reason: Mapped[str | None] = mapped_column(String(32))
    exclusion_lead_id: Mapped[int | None] = mapped_column(BigId)
    decision_reason: Mapped[str | None] = mapped_column(String(32))


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


class LeadActivityMonth(Base):
    """When a lead was active in one UTC calendar month: the call report's index (0015).

    A lead is active at the instant of each of its received, call and found events
    (leads.activity.ACTIVITY_TYPES). One row per account, month (its first day) and
    lead holds the earliest and latest such instant in that month. The primary key
    is in the operator's lead-id order, so a page of a period's leads is a few
    limited index scans (reports.repository.leads_page), whatever the account's
    history. Written at ingestion (leads.activity.record_activity).
    """

    __tablename__ = "lead_activity_months"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    external_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"))
    first_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LeadDecision(Base):
    """A staff decision on a lead (R16): who marked it non-billable, when, and why."""

    __tablename__ = "lead_decisions"
    __table_args__ = (Index("ix_lead_decisions_lead", "lead_id", "decided_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"))
    reason: Mapped[str] = mapped_column(String(32))
    decided_by: Mapped[str] = mapped_column(String(200))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime())
