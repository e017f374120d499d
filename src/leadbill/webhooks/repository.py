"""Set-based queries of the webhooks: matching endpoints, bulk outbox writes, due deliveries."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, func, insert, select, update
from sqlalchemy.orm import Session

from leadbill.accounts.models import Account
from leadbill.db import Base
from leadbill.webhooks.models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEndpointEvent,
    WebhookEvent,
)

# Rows per insert and ids per IN list: far below every driver's bind limit.
CHUNK = 1000

events_table: Table = Base.metadata.tables[WebhookEvent.__tablename__]
deliveries_table: Table = Base.metadata.tables[WebhookDelivery.__tablename__]


@dataclass(frozen=True, slots=True)
class Subscriber:
    """An endpoint that wants events of `event_type` (of one account, or of all: None)."""

    endpoint_id: int
    account_id: int | None
    event_type: str


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for offset in range(0, len(items), CHUNK):
        yield items[offset : offset + CHUNK]


def subscribers(session: Session, event_types: Iterable[str]) -> list[Subscriber]:
    """The live endpoints subscribed to any of these event types (one query)."""
    wanted = sorted(set(event_types))
    if not wanted:
        return []
    query = (
        select(WebhookEndpoint.id, WebhookEndpoint.account_id, WebhookEndpointEvent.event_type)
        .join(WebhookEndpointEvent, WebhookEndpointEvent.endpoint_id == WebhookEndpoint.id)
        .where(WebhookEndpoint.removed_at.is_(None), WebhookEndpointEvent.event_type.in_(wanted))
        .order_by(WebhookEndpoint.id)
    )
    return [Subscriber(*row) for row in session.execute(query)]


def account_codes(session: Session, account_ids: Iterable[int]) -> dict[int, str]:
    """The codes of these accounts."""
    found: dict[int, str] = {}
    for chunk in _chunks(sorted(set(account_ids))):
        rows = session.execute(select(Account.id, Account.code).where(Account.id.in_(chunk)))
        found.update({int(account_id): code for account_id, code in rows})
    return found


def insert_events(session: Session, rows: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Bulk insert outbox events; their ids keyed by message id."""
    ids: dict[str, int] = {}
    for chunk in _chunks(rows):
        statement = insert(events_table).returning(events_table.c.id, events_table.c.message_id)
        ids.update({message_id: int(id_) for id_, message_id in session.execute(statement, chunk)})
    return ids


def insert_deliveries(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Bulk insert deliveries, one per (event, endpoint)."""
    for chunk in _chunks(rows):
        session.execute(insert(deliveries_table), list(chunk))


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery a worker holds until its lease ends, with what it needs to send it."""

    delivery_id: int
    account_id: int
    attempts: int
    lease: str
    url: str
    secret: str
    endpoint_removed: bool
    message_id: str
    event_type: str
    body: str


def due_ids(session: Session, as_of: datetime, limit: int) -> list[int]:
    """Deliveries due by `as_of` (pending, or sending with an expired lease), locked.

    PostgreSQL: FOR UPDATE SKIP LOCKED, so workers claim disjoint batches; SQLite:
    the transaction already holds the database write lock (BEGIN IMMEDIATE).
    """
    query = (
        select(WebhookDelivery.id)
        .where(
            WebhookDelivery.status.in_(("pending", "sending")),
            WebhookDelivery.next_attempt_at <= as_of,
        )
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return [int(id_) for id_ in session.scalars(query)]


def claim(session: Session, ids: Sequence[int], lease: str, lease_until: datetime) -> list[Claimed]:
    """Mark the deliveries as sending under `lease` until `lease_until`; count the attempt."""
    if not ids:
        return []
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id.in_(ids))
        .values(
            status="sending",
            lease=lease,
            attempts=WebhookDelivery.attempts + 1,
            next_attempt_at=lease_until,
        )
        .execution_options(synchronize_session=False)
    )
    query = (
        select(
            WebhookDelivery.id.label("delivery_id"),
            WebhookDelivery.account_id,
            WebhookDelivery.attempts,
            WebhookDelivery.lease,
            WebhookEndpoint.url,
            WebhookEndpoint.secret,
            WebhookEndpoint.removed_at.is_not(None).label("endpoint_removed"),
            WebhookEvent.message_id,
            WebhookEvent.event_type,
            WebhookEvent.body,
        )
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.id.in_(ids))
        .order_by(WebhookDelivery.id)
    )
    return [Claimed(**row._asdict()) for row in session.execute(query)]


def next_attempt_number(session: Session, delivery_id: int) -> int:
    """The number of the delivery's next logged attempt (1 for the first)."""
    last = session.scalar(
        select(func.max(WebhookAttempt.number)).where(WebhookAttempt.delivery_id == delivery_id)
    )
    return int(last or 0) + 1
