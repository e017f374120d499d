"""API shapes of webhook endpoints and deliveries."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, get_args

from pydantic import BaseModel, Field

from leadbill.pagination import PageInfo
from leadbill.schemas import RequestModel
from leadbill.webhooks.models import WebhookAttempt, WebhookEndpoint
from leadbill.webhooks.service import DeliveryRow

EventType = Literal[
    "invoice.finalized",
    "invoice.paid",
    "invoice.overdue",
    "credit_note.issued",
    "review.submitted",
    "review.decided",
    "usage.threshold_reached",
    "subscription.renewed",
    "subscription.cancelled",
    "mail.failed",
]


class WebhookEndpointCreate(RequestModel):
    """A URL to receive signed events of the chosen types."""

    url: str = Field(min_length=1, max_length=2000, examples=["https://crm.example/hooks/leadbill"])
    event_types: list[EventType] = Field(
        min_length=1, max_length=len(get_args(EventType)), examples=[["invoice.finalized"]]
    )
    account: str | None = Field(
        default=None,
        max_length=64,
        description="Only this account's events (default: the events of every account)",
    )
    description: str = Field(default="", max_length=200)


class WebhookEndpointOut(BaseModel):
    """A webhook endpoint; `account` null means it receives every account's events."""

    id: int
    url: str
    event_types: list[str]
    account: str | None
    description: str
    created_at: datetime
    removed_at: datetime | None

    @classmethod
    def of(
        cls, endpoint: WebhookEndpoint, account: str | None, event_types: list[str]
    ) -> WebhookEndpointOut:
        """The API shape of a stored endpoint (never its secret)."""
        return cls(
            id=endpoint.id,
            url=endpoint.url,
            event_types=event_types,
            account=account,
            description=endpoint.description,
            created_at=endpoint.created_at,
            removed_at=endpoint.removed_at,
        )


class WebhookEndpointCreated(WebhookEndpointOut):
    """A new endpoint with its signing secret, shown only in this response."""

    secret: str = Field(examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"])


class WebhookEndpointPage(BaseModel):
    """One page of endpoints, by id."""

    data: list[WebhookEndpointOut]
    page: PageInfo


class WebhookAttemptOut(BaseModel):
    """One logged attempt: the HTTP status (null on a network error or timeout), time, error."""

    number: int
    attempted_at: datetime
    status_code: int | None
    duration_ms: int
    error: str | None
    outcome: str

    @classmethod
    def of(cls, attempt: WebhookAttempt) -> WebhookAttemptOut:
        """The API shape of a logged attempt."""
        return cls(
            number=attempt.number,
            attempted_at=attempt.attempted_at,
            status_code=attempt.status_code,
            duration_ms=attempt.duration_ms,
            error=attempt.error,
            outcome=attempt.outcome,
        )


class WebhookDeliveryOut(BaseModel):
    """The delivery of one event to one endpoint.

    `status`: pending, sending, delivered, failed or cancelled; `message_id` is
    the `webhook-id` header, the same on every attempt.
    """

    id: int
    endpoint_id: int
    account: str
    event_type: str
    message_id: str
    occurred_at: datetime
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, row: DeliveryRow) -> WebhookDeliveryOut:
        """The API shape of a delivery row."""
        d = row.delivery
        return cls(
            id=d.id,
            endpoint_id=d.endpoint_id,
            account=row.account,
            event_type=row.event_type,
            message_id=row.message_id,
            occurred_at=row.occurred_at,
            status=d.status,
            attempts=d.attempts,
            next_attempt_at=d.next_attempt_at if d.status in ("pending", "sending") else None,
            last_attempt_at=d.last_attempt_at,
            last_status_code=d.last_status_code,
            last_error=d.last_error,
            delivered_at=d.delivered_at,
            created_at=d.created_at,
        )


class WebhookDeliveryDetail(WebhookDeliveryOut):
    """A delivery with the body it sends and its log of attempts."""

    body: str
    attempt_log: list[WebhookAttemptOut]


class WebhookDeliveryPage(BaseModel):
    """One page of deliveries, newest first."""

    data: list[WebhookDeliveryOut]
    page: PageInfo
