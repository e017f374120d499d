"""Webhook use cases: register and remove endpoints, emit events, read and redeliver deliveries.

`emit` and `emit_many` are what other features call, with their own session:
the event and its deliveries are written by the transaction that makes the
change, so they commit together or not at all (a transactional outbox). When
no endpoint wants an event nothing is written, which keeps a billing run
without webhooks exactly as cheap as before.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, exists, select, update
from sqlalchemy.orm import Session

from leadbill.accounts.models import Account
from leadbill.accounts.service import get_account
from leadbill.core.errors import RuleViolation
from leadbill.core.periods import require_utc
from leadbill.errors import Conflict, InvalidInput, NotFound, from_rule
from leadbill.webhooks import repository
from leadbill.webhooks.events import EVENT_TYPES, instant
from leadbill.webhooks.models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEndpointEvent,
    WebhookEvent,
)
from leadbill.webhooks.signing import new_secret

DELIVERY_STATUSES = ("pending", "sending", "delivered", "failed", "cancelled")
MAX_URL_LENGTH = 2000


@dataclass(frozen=True, slots=True)
class Event:
    """One event to send: its account, type (see `events.EVENT_TYPES`), data and instant."""

    account_id: int
    event_type: str
    data: dict[str, Any]
    occurred_at: datetime


def _utc(value: datetime, field: str) -> datetime:
    try:
        return require_utc(value, field)
    except RuleViolation as error:
        raise from_rule(error) from None


def _check_event_type(event_type: str, field: str = "event_type") -> str:
    if event_type not in EVENT_TYPES:
        raise InvalidInput(field, f"{event_type!r} is not one of {', '.join(EVENT_TYPES)}")
    return event_type


def message_body(event_type: str, account_code: str, data: dict[str, Any], at: datetime) -> str:
    """The exact JSON body sent (and signed) for an event; `data` gains the account code."""
    envelope: dict[str, Any] = {
        "type": event_type,
        "timestamp": instant(at),
        "data": {"account": account_code, **data},
    }
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False)


def subscribed_types(session: Session, event_types: Iterable[str]) -> set[str]:
    """Those of `event_types` that some live endpoint subscribes to (one query).

    A producer of many events asks first, so as not to build events no endpoint wants.
    """
    return {s.event_type for s in repository.subscribers(session, event_types)}


def emit_many(
    session: Session, events: Sequence[Event], *, created_at: datetime | None = None
) -> int:
    """Write events and their deliveries to the outbox in the caller's transaction.

    Set-based: one query for the subscribed endpoints, one for the account codes,
    one insert per table (chunked). Returns the number of deliveries queued;
    an event no endpoint wants is not written. `created_at` (default: now) is
    when the deliveries become due.
    """
    for event in events:
        _check_event_type(event.event_type)
        _utc(event.occurred_at, "occurred_at")
    subscribed = repository.subscribers(session, {e.event_type for e in events})
    if not subscribed:
        return 0
    due = _utc(created_at, "created_at") if created_at else datetime.now(UTC)
    wanted: list[tuple[Event, list[int]]] = []
    for event in events:
        endpoints = [
            s.endpoint_id
            for s in subscribed
            if s.event_type == event.event_type and s.account_id in (None, event.account_id)
        ]
        if endpoints:
            wanted.append((event, endpoints))
    if not wanted:
        return 0
    codes = repository.account_codes(session, {event.account_id for event, _ in wanted})
    rows: list[dict[str, Any]] = []
    for event, _endpoints in wanted:
        if event.account_id not in codes:
            raise NotFound(f"account {event.account_id} does not exist")
        rows.append(
            {
                "account_id": event.account_id,
                "event_type": event.event_type,
                "message_id": "msg_" + uuid.uuid4().hex,
                "body": message_body(
                    event.event_type, codes[event.account_id], event.data, event.occurred_at
                ),
                "occurred_at": event.occurred_at,
                "created_at": due,
            }
        )
    ids = repository.insert_events(session, rows)
    deliveries = [
        {
            "account_id": event.account_id,
            "event_id": ids[row["message_id"]],
            "endpoint_id": endpoint_id,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": due,
            "created_at": due,
        }
        for (event, endpoints), row in zip(wanted, rows, strict=True)
        for endpoint_id in endpoints
    ]
    repository.insert_deliveries(session, deliveries)
    return len(deliveries)


def emit(
    session: Session,
    account_id: int,
    event_type: str,
    data: dict[str, Any],
    *,
    occurred_at: datetime,
) -> int:
    """Write one event and its deliveries in the caller's transaction; see `emit_many`."""
    return emit_many(session, [Event(account_id, event_type, data, occurred_at)])


# Endpoints ------------------------------------------------------------------------------


def _check_url(url: str) -> str:
    url = url.strip()
    if not url or len(url) > MAX_URL_LENGTH or any(c.isspace() for c in url):
        raise InvalidInput("url", f"must be an http(s) URL of at most {MAX_URL_LENGTH} characters")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput("url", f"{url!r} is not an http:// or https:// URL with a host")
    if parts.username or parts.password:
        raise InvalidInput("url", "must not carry credentials; the signature authenticates")
    return url


def _check_event_types(event_types: Sequence[str]) -> list[str]:
    chosen = sorted({_check_event_type(t.strip(), "event_types") for t in event_types})
    if not chosen:
        raise InvalidInput("event_types", "name at least one event type")
    return chosen


def create_endpoint(
    session: Session,
    *,
    url: str,
    event_types: Sequence[str],
    account_code: str | None = None,
    description: str = "",
    as_of: datetime,
) -> WebhookEndpoint:
    """Register an endpoint for these event types (of one account, or of every account)."""
    url = _check_url(url)
    chosen = _check_event_types(event_types)
    account = get_account(session, account_code) if account_code else None
    if len(description) > 200:
        raise InvalidInput("description", "must be at most 200 characters")
    endpoint = WebhookEndpoint(
        account_id=account.id if account else None,
        url=url,
        secret=new_secret(),
        description=description.strip(),
        created_at=_utc(as_of, "as_of"),
    )
    session.add(endpoint)
    session.flush()
    session.add_all(
        WebhookEndpointEvent(endpoint_id=endpoint.id, event_type=t, account_id=endpoint.account_id)
        for t in chosen
    )
    session.flush()
    return endpoint


def get_endpoint(session: Session, endpoint_id: int) -> WebhookEndpoint:
    """An endpoint by id (removed ones included)."""
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        raise NotFound(f"webhook endpoint {endpoint_id} does not exist")
    return endpoint


def event_types_of(session: Session, endpoint_ids: Sequence[int]) -> dict[int, list[str]]:
    """The event types of each endpoint, sorted."""
    found: dict[int, list[str]] = {endpoint_id: [] for endpoint_id in endpoint_ids}
    if endpoint_ids:
        rows = session.execute(
            select(WebhookEndpointEvent.endpoint_id, WebhookEndpointEvent.event_type)
            .where(WebhookEndpointEvent.endpoint_id.in_(endpoint_ids))
            .order_by(WebhookEndpointEvent.event_type)
        )
        for endpoint_id, event_type in rows:
            found[endpoint_id].append(event_type)
    return found


def list_endpoints(
    session: Session, *, after: int | None = None, limit: int = 100, removed: bool = False
) -> list[tuple[WebhookEndpoint, str | None]]:
    """Endpoints by id with their account code (None: every account); removed ones on request."""
    query = (
        select(WebhookEndpoint, Account.code)
        .outerjoin(Account, Account.id == WebhookEndpoint.account_id)
        .order_by(WebhookEndpoint.id)
        .limit(limit)
    )
    if not removed:
        query = query.where(WebhookEndpoint.removed_at.is_(None))
    if after is not None:
        query = query.where(WebhookEndpoint.id > after)
    return [(endpoint, code) for endpoint, code in session.execute(query)]


def account_code_of(session: Session, account_id: int | None) -> str | None:
    """The code of an account id (None stays None)."""
    return None if account_id is None else session.get_one(Account, account_id).code


def remove_endpoint(session: Session, endpoint_id: int, *, as_of: datetime) -> WebhookEndpoint:
    """Remove an endpoint: it receives nothing more; its queued deliveries are cancelled."""
    endpoint = get_endpoint(session, endpoint_id)
    if endpoint.removed_at is not None:
        raise Conflict(f"webhook endpoint {endpoint_id} was already removed")
    endpoint.removed_at = _utc(as_of, "as_of")
    # A delivery being sent right now finishes; the worker cancels it if it must retry.
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint_id, WebhookDelivery.status == "pending")
        .values(status="cancelled", lease=None)
        .execution_options(synchronize_session=False)
    )
    session.flush()
    return endpoint


# Deliveries -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    """A delivery with its event's type, message id and account code."""

    delivery: WebhookDelivery
    event_type: str
    message_id: str
    occurred_at: datetime
    account: str


def _delivery_query() -> Any:
    return (
        select(
            WebhookDelivery,
            WebhookEvent.event_type,
            WebhookEvent.message_id,
            WebhookEvent.occurred_at,
            Account.code,
        )
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .join(Account, Account.id == WebhookDelivery.account_id)
    )


def list_deliveries(
    session: Session,
    *,
    endpoint_id: int | None = None,
    status: str | None = None,
    account_id: int | None = None,
    event_type: str | None = None,
    before: int | None = None,
    limit: int = 100,
) -> list[DeliveryRow]:
    """Deliveries, newest first (by id), filtered by endpoint, status, account or event type."""
    query = _delivery_query().order_by(WebhookDelivery.id.desc()).limit(limit)
    if endpoint_id is not None:
        query = query.where(WebhookDelivery.endpoint_id == endpoint_id)
    if status is not None:
        if status not in DELIVERY_STATUSES:
            raise InvalidInput("status", f"{status!r} is not one of {', '.join(DELIVERY_STATUSES)}")
        query = query.where(WebhookDelivery.status == status)
    if account_id is not None:
        query = query.where(WebhookDelivery.account_id == account_id)
    if event_type is not None:
        query = query.where(WebhookEvent.event_type == _check_event_type(event_type))
    if before is not None:
        query = query.where(WebhookDelivery.id < before)
    return [DeliveryRow(*row) for row in session.execute(query)]


def get_delivery(session: Session, delivery_id: int) -> DeliveryRow:
    """One delivery by id."""
    row = session.execute(_delivery_query().where(WebhookDelivery.id == delivery_id)).first()
    if row is None:
        raise NotFound(f"webhook delivery {delivery_id} does not exist")
    return DeliveryRow(*row)


def attempts_of(session: Session, delivery_id: int) -> list[WebhookAttempt]:
    """Every logged attempt of a delivery, in order."""
    return list(
        session.scalars(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id == delivery_id)
            .order_by(WebhookAttempt.number)
        )
    )


def body_of(session: Session, delivery: WebhookDelivery) -> str:
    """The JSON body the delivery sends."""
    return session.get_one(WebhookEvent, delivery.event_id).body


def redeliver(session: Session, delivery_id: int, *, as_of: datetime) -> WebhookDelivery:
    """Queue a delivery again, due at `as_of`, with a fresh allowance of attempts.

    Works on delivered, failed, cancelled and pending deliveries; a delivered one is
    sent again with the same `webhook-id`, so a receiver can tell it is the same message.
    """
    as_of = _utc(as_of, "as_of")
    # Lock the row (PostgreSQL) so that a worker's claim and the redelivery do not interleave.
    session.execute(
        select(WebhookDelivery.id).where(WebhookDelivery.id == delivery_id).with_for_update()
    )
    delivery = session.get(WebhookDelivery, delivery_id, populate_existing=True)
    if delivery is None:
        raise NotFound(f"webhook delivery {delivery_id} does not exist")
    if delivery.status == "sending":
        raise Conflict(f"webhook delivery {delivery_id} is being sent; try again in a moment")
    if get_endpoint(session, delivery.endpoint_id).removed_at is not None:
        raise Conflict(f"the endpoint of webhook delivery {delivery_id} was removed")
    delivery.status = "pending"
    delivery.attempts = 0
    delivery.next_attempt_at = as_of
    delivery.lease = None
    session.flush()
    return delivery


FINAL_STATUSES = ("delivered", "failed", "cancelled")


def prune(session: Session, *, before: datetime) -> int:
    """Delete events written before `before` whose every delivery is final, with their log.

    Pending and sending deliveries are never touched. Set-based: three DELETEs.
    Returns the number of events deleted.
    """
    before = _utc(before, "before")
    unfinished = exists().where(
        WebhookDelivery.event_id == WebhookEvent.id,
        WebhookDelivery.status.not_in(FINAL_STATUSES),
    )
    old = select(WebhookEvent.id).where(WebhookEvent.created_at < before, ~unfinished)
    ids = list(session.scalars(old))
    for offset in range(0, len(ids), repository.CHUNK):
        chunk = ids[offset : offset + repository.CHUNK]
        deliveries = select(WebhookDelivery.id).where(WebhookDelivery.event_id.in_(chunk))
        session.execute(delete(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(deliveries)))
        session.execute(delete(WebhookDelivery).where(WebhookDelivery.event_id.in_(chunk)))
        session.execute(delete(WebhookEvent).where(WebhookEvent.id.in_(chunk)))
    return len(ids)
