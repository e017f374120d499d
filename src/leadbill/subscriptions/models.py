"""Subscriptions, their periods and the segments inside a period."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from leadbill.db import Base, BigId, UTCDateTime


class Subscription(Base):
    """An account on a plan. `current_period_*` is the open period."""

    __tablename__ = "subscriptions"
    __table_args__ = (
        # One live subscription per account: usage is the account's counted leads.
        Index(
            "uq_subscriptions_one_active_per_account",
            "account_id",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
        Index("ix_subscriptions_due", "status", "current_period_end"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"))
    status: Mapped[str] = mapped_column(String(16))  # active | ended
    anchor_at: Mapped[datetime] = mapped_column(UTCDateTime())
    current_period_index: Mapped[int] = mapped_column(Integer)
    current_period_start: Mapped[datetime] = mapped_column(UTCDateTime())
    current_period_end: Mapped[datetime] = mapped_column(UTCDateTime())
    cancel_at_period_end: Mapped[bool] = mapped_column(Boolean, default=False)
    cancel_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancel_requested_by: Mapped[str | None] = mapped_column(String(200))  # staff or API key
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Licences now (R19), and what applies from the next period (R21 removals,
    # R7 downgrades at period end); None: nothing scheduled.
    licences: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    scheduled_licences: Mapped[int | None] = mapped_column(Integer)
    scheduled_plan_id: Mapped[int | None] = mapped_column(ForeignKey("plans.id"))
    # Service paused (dunning's final action, or staff): new lead events of the account
    # are refused until staff resume it. None: the service runs.
    service_paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    service_paused_reason: Mapped[str | None] = mapped_column(String(300))


class SubscriptionPeriod(Base):
    """One billing period of a subscription, as it was opened."""

    __tablename__ = "subscription_periods"
    __table_args__ = (UniqueConstraint("subscription_id", "period_index"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id"))
    period_index: Mapped[int] = mapped_column(Integer)
    start: Mapped[datetime] = mapped_column(UTCDateTime())
    end: Mapped[datetime] = mapped_column(UTCDateTime())


class SubscriptionSegment(Base):
    """A stretch of a period on one plan; a plan change inside a period splits it."""

    __tablename__ = "subscription_segments"
    __table_args__ = (UniqueConstraint("subscription_id", "period_index", "start"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id"))
    period_index: Mapped[int] = mapped_column(Integer)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"))
    start: Mapped[datetime] = mapped_column(UTCDateTime())
    end: Mapped[datetime] = mapped_column(UTCDateTime())


class SubscriptionChange(Base):
    """A plan or licence change, recorded once per idempotency key.

    `(subscription_id, key)` is unique, so retrying the same change (same key)
    finds the first one and its invoice instead of charging twice.
    """

    __tablename__ = "subscription_changes"
    __table_args__ = (UniqueConstraint("subscription_id", "key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id"))
    key: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))  # plan | licences
    actor: Mapped[str] = mapped_column(String(16))  # customer | staff
    period_index: Mapped[int] = mapped_column(Integer)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    effective_at: Mapped[datetime] = mapped_column(UTCDateTime())
    from_plan_id: Mapped[int | None] = mapped_column(ForeignKey("plans.id"))
    to_plan_id: Mapped[int | None] = mapped_column(ForeignKey("plans.id"))
    licence_change: Mapped[int | None] = mapped_column(Integer)
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"))
