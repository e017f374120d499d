"""Webhook endpoints, the outbox of events, and deliveries with their log of attempts.

An event is written to the outbox (`webhook_events`) by the same transaction as
the change that causes it, with one delivery row per endpoint that wants it:
(event, endpoint) is unique, so nothing is queued twice. The worker sends each
delivery and logs every attempt (`webhook_attempts`).

Account scope: every table carries `account_id`. Every event, delivery and
attempt belongs to one account (never null). An endpoint is the operator's:
with `account_id` null it receives the events of every account, with an account
it receives only that account's (its event-type rows repeat it). Endpoints are
few and read by every emitting transaction, so on a database distributed by
account (Citus) the endpoint tables are reference tables, copied to every node,
while the outbox tables are distributed by `account_id` like the rest.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from leadbill.db import Base, BigId, UTCDateTime


class WebhookEndpoint(Base):
    """A URL that receives signed events of the types it subscribed to.

    The secret (`whsec_` + base64 of 32 random bytes) signs every message;
    it has to be kept in clear to sign, so it is shown only when the endpoint
    is created. A removed endpoint (`removed_at`) receives nothing more.
    """

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class WebhookEndpointEvent(Base):
    """One event type an endpoint subscribed to; `account_id` is its endpoint's (never changes)."""

    __tablename__ = "webhook_endpoint_events"

    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id"), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)


class WebhookEvent(Base):
    """One event in the outbox: its type, its message id and the exact body that is signed.

    `message_id` is the `webhook-id` header: the same for every attempt and every
    endpoint, so a receiver can drop a message it has already processed.
    """

    __tablename__ = "webhook_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    event_type: Mapped[str] = mapped_column(String(64))
    message_id: Mapped[str] = mapped_column(String(64), unique=True)
    body: Mapped[str] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class WebhookDelivery(Base):
    """The delivery of one event to one endpoint.

    Status: `pending` (due at `next_attempt_at`), `sending` (claimed by a worker
    until `next_attempt_at`, its lease), `delivered` (acknowledged with a 2xx),
    `failed` (the last allowed attempt failed) or `cancelled` (endpoint removed).
    `attempts` counts the attempts since the delivery was last (re)queued.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "endpoint_id"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_endpoint", "endpoint_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("webhook_events.id"))
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id"))
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    lease: Mapped[str | None] = mapped_column(String(32))
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(500))
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class WebhookAttempt(Base):
    """One attempt to deliver: when, the HTTP status (none on a network error), how long, why."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (UniqueConstraint("delivery_id", "number"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("webhook_deliveries.id"))
    number: Mapped[int] = mapped_column(Integer)  # 1, 2, … over the delivery's whole life
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status_code: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(500))
    outcome: Mapped[str] = mapped_column(String(16))  # delivered | retry | failed
