"""HTTP routes of webhooks: endpoints (admin manages; admin, billing read) and deliveries.

Webhooks are the operator's integration: admin registers and removes
endpoints; admin and billing staff read endpoints and the delivery log and ask
for redeliveries (they follow up on invoice and payment events). Other staff
roles and customer keys get 403.
"""

from __future__ import annotations

from fastapi import APIRouter, Query
from sqlalchemy.orm import Session

from leadbill.accounts.service import get_account
from leadbill.auth.dependencies import Caller, DbSession, allow
from leadbill.auth.idempotency import LeadbillRoute
from leadbill.auth.service import Role
from leadbill.console import now
from leadbill.pagination import DEFAULT_LIMIT, MAX_LIMIT, decode_cursor, page_info
from leadbill.schemas import PROBLEM_RESPONSES
from leadbill.webhooks import service
from leadbill.webhooks.models import WebhookEndpoint
from leadbill.webhooks.schemas import (
    WebhookAttemptOut,
    WebhookDeliveryDetail,
    WebhookDeliveryOut,
    WebhookDeliveryPage,
    WebhookEndpointCreate,
    WebhookEndpointCreated,
    WebhookEndpointOut,
    WebhookEndpointPage,
)

router = APIRouter(tags=["webhooks"], route_class=LeadbillRoute, responses=PROBLEM_RESPONSES)
MANAGERS = (Role.ADMIN,)
READERS = (Role.ADMIN, Role.BILLING)


def _endpoint_out(session: Session, endpoint: WebhookEndpoint) -> WebhookEndpointOut:
    types = service.event_types_of(session, [endpoint.id])[endpoint.id]
    return WebhookEndpointOut.of(
        endpoint, service.account_code_of(session, endpoint.account_id), types
    )


@router.post("/webhook-endpoints", status_code=201, response_model=WebhookEndpointCreated)
def create_endpoint(
    body: WebhookEndpointCreate, session: DbSession, caller: Caller
) -> WebhookEndpointCreated:
    """Register an endpoint for some event types (admin); the response shows its secret once."""
    allow(caller, *MANAGERS)
    endpoint = service.create_endpoint(
        session,
        url=body.url,
        event_types=list(body.event_types),
        account_code=body.account,
        description=body.description,
        as_of=now(),
    )
    shown = _endpoint_out(session, endpoint)
    return WebhookEndpointCreated(**shown.model_dump(), secret=endpoint.secret)


@router.get("/webhook-endpoints", response_model=WebhookEndpointPage)
def list_endpoints(
    session: DbSession,
    caller: Caller,
    removed: bool = Query(False, description="Include removed endpoints"),
    cursor: str | None = None,
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
) -> WebhookEndpointPage:
    """Webhook endpoints by id (admin, billing); secrets are never listed."""
    allow(caller, *READERS)
    rows = service.list_endpoints(
        session, after=decode_cursor(cursor, int), limit=limit, removed=removed
    )
    types = service.event_types_of(session, [endpoint.id for endpoint, _ in rows])
    return WebhookEndpointPage(
        data=[WebhookEndpointOut.of(endpoint, code, types[endpoint.id]) for endpoint, code in rows],
        page=page_info(rows, limit, lambda row: row[0].id),
    )


@router.get("/webhook-endpoints/{endpoint_id}", response_model=WebhookEndpointOut)
def get_endpoint(endpoint_id: int, session: DbSession, caller: Caller) -> WebhookEndpointOut:
    """One webhook endpoint (admin, billing)."""
    allow(caller, *READERS)
    return _endpoint_out(session, service.get_endpoint(session, endpoint_id))


@router.delete("/webhook-endpoints/{endpoint_id}", response_model=WebhookEndpointOut)
def remove_endpoint(endpoint_id: int, session: DbSession, caller: Caller) -> WebhookEndpointOut:
    """Remove an endpoint (admin): nothing more is sent to it; its queued deliveries cancel."""
    allow(caller, *MANAGERS)
    return _endpoint_out(session, service.remove_endpoint(session, endpoint_id, as_of=now()))


@router.get("/webhook-deliveries", response_model=WebhookDeliveryPage)
def list_deliveries(
    session: DbSession,
    caller: Caller,
    endpoint: int | None = Query(None, description="Only deliveries to this endpoint id"),
    status: str | None = Query(None, description="pending, sending, delivered, failed, cancelled"),
    account: str | None = Query(None, description="Only this account's events"),
    event_type: str | None = None,
    cursor: str | None = None,
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
) -> WebhookDeliveryPage:
    """The delivery log, newest first (admin, billing)."""
    allow(caller, *READERS)
    rows = service.list_deliveries(
        session,
        endpoint_id=endpoint,
        status=status,
        account_id=get_account(session, account).id if account is not None else None,
        event_type=event_type,
        before=decode_cursor(cursor, int),
        limit=limit,
    )
    return WebhookDeliveryPage(
        data=[WebhookDeliveryOut.of(row) for row in rows],
        page=page_info(rows, limit, lambda row: row.delivery.id),
    )


def _detail(session: Session, delivery_id: int) -> WebhookDeliveryDetail:
    row = service.get_delivery(session, delivery_id)
    return WebhookDeliveryDetail(
        **WebhookDeliveryOut.of(row).model_dump(),
        body=service.body_of(session, row.delivery),
        attempt_log=[WebhookAttemptOut.of(a) for a in service.attempts_of(session, delivery_id)],
    )


@router.get("/webhook-deliveries/{delivery_id}", response_model=WebhookDeliveryDetail)
def get_delivery(delivery_id: int, session: DbSession, caller: Caller) -> WebhookDeliveryDetail:
    """One delivery with its body and every attempt (admin, billing)."""
    allow(caller, *READERS)
    return _detail(session, delivery_id)


@router.post("/webhook-deliveries/{delivery_id}/redeliver", response_model=WebhookDeliveryDetail)
def redeliver(delivery_id: int, session: DbSession, caller: Caller) -> WebhookDeliveryDetail:
    """Send a delivery again, now, with a fresh allowance of attempts (admin, billing)."""
    allow(caller, *READERS)
    service.redeliver(session, delivery_id, as_of=now())
    return _detail(session, delivery_id)
