"""Staff pages of webhooks: endpoints and the delivery log, with redelivery.

As the API: admins and billing staff read the endpoints and the log and send a
delivery again; other roles are refused.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request, Response

from leadbill.auth.dependencies import DbSession
from leadbill.portal.permissions import READS_WEBHOOKS, REDELIVERS_WEBHOOKS, may
from leadbill.portal.web import (
    PortalRoute,
    SignedIn,
    check_csrf,
    clock_of,
    redirect,
    render,
    set_flash,
)
from leadbill.webhooks.service import (
    DELIVERY_STATUSES,
    attempts_of,
    event_types_of,
    get_delivery,
    list_deliveries,
    list_endpoints,
    redeliver,
)

router = APIRouter(route_class=PortalRoute, include_in_schema=False)

LOG_PAGE_SIZE = 100


@router.get("/staff/webhooks")
def webhooks(
    request: Request,
    visitor: SignedIn,
    db: DbSession,
    status: Annotated[str, Query()] = "",
    before: Annotated[int | None, Query()] = None,
) -> Response:
    """Endpoints and the delivery log, newest first: status, attempts, last error."""
    visitor.require(*READS_WEBHOOKS)
    endpoints = list_endpoints(db, removed=True)
    deliveries = list_deliveries(db, status=status or None, before=before, limit=LOG_PAGE_SIZE)
    return render(
        request,
        "staff_webhooks.html",
        visitor,
        db,
        nav="staff-webhooks",
        title="Webhooks",
        endpoints=endpoints,
        event_types=event_types_of(db, [endpoint.id for endpoint, _code in endpoints]),
        deliveries=deliveries,
        status=status,
        statuses=DELIVERY_STATUSES,
        next_before=(deliveries[-1].delivery.id if len(deliveries) == LOG_PAGE_SIZE else None),
        can_redeliver=may(visitor, REDELIVERS_WEBHOOKS),
    )


@router.get("/staff/webhooks/deliveries/{delivery_id}")
def delivery(request: Request, delivery_id: int, visitor: SignedIn, db: DbSession) -> Response:
    """One delivery with every attempt."""
    visitor.require(*READS_WEBHOOKS)
    row = get_delivery(db, delivery_id)
    return render(
        request,
        "staff_webhook_delivery.html",
        visitor,
        db,
        nav="staff-webhooks",
        title=f"Webhook delivery {delivery_id}",
        row=row,
        attempts=attempts_of(db, delivery_id),
        can_redeliver=may(visitor, REDELIVERS_WEBHOOKS),
    )


@router.post("/staff/webhooks/deliveries/{delivery_id}/redeliver")
def send_again(
    request: Request,
    delivery_id: int,
    visitor: SignedIn,
    db: DbSession,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Queue the delivery again, now, with a fresh allowance of attempts."""
    check_csrf(visitor, csrf_token)
    visitor.require(*REDELIVERS_WEBHOOKS)
    redeliver(db, delivery_id, as_of=clock_of(request))
    set_flash(db, visitor, f"Delivery {delivery_id} is queued to be sent again.")
    return redirect(f"/portal/staff/webhooks/deliveries/{delivery_id}")
