"""The portal's routes under /portal, mounted in the API app served by `leadbill serve`."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import FileResponse, RedirectResponse

from leadbill.portal import (
    billing_details,
    customer,
    customer_reviews,
    documents,
    licences,
    notifications,
    passwords,
    plan,
    seats,
    signin,
    staff,
    staff_accounts,
    staff_billing,
    staff_dunning,
    staff_entities,
    staff_invoices,
    staff_jobs,
    staff_outbox,
    staff_receivables,
    staff_tax_rates,
    staff_users,
    staff_webhooks,
)
from leadbill.portal.web import COOKIE_PATH, PortalRoute, SignedIn, redirect

STATIC = Path(__file__).parent / "static"

home = APIRouter(route_class=PortalRoute, include_in_schema=False)


@home.get("/")
def portal_home(visitor: SignedIn) -> Response:
    """A customer starts on the dashboard, staff on the review queue."""
    return redirect(
        f"{COOKIE_PATH}/staff/reviews" if visitor.is_staff else f"{COOKIE_PATH}/dashboard"
    )


@home.get("/static/portal.css")
def stylesheet() -> Response:
    """The portal's one stylesheet."""
    return FileResponse(
        STATIC / "portal.css",
        media_type="text/css",
        headers={"Cache-Control": "public, max-age=3600"},
    )


@home.get("/static/favicon.svg")
def favicon() -> Response:
    """The portal's icon (pages link it, so browsers do not ask for /favicon.ico)."""
    return FileResponse(
        STATIC / "favicon.svg",
        media_type="image/svg+xml",
        headers={"Cache-Control": "public, max-age=86400"},
    )


@home.get("/static/htmx.min.js")
def htmx_script() -> Response:
    """htmx (vendored, see the file's first line): partial page updates, e.g. the call report."""
    return FileResponse(
        STATIC / "htmx.min.js",
        media_type="text/javascript",
        headers={"Cache-Control": "public, max-age=3600"},
    )


def install(app: FastAPI) -> None:
    """Mount the portal under /portal; `/` sends a browser there."""
    for router in (
        home,
        signin.router,
        passwords.router,
        customer.router,
        customer_reviews.router,
        documents.router,
        staff.router,
        seats.router,
        licences.router,
        plan.router,
        staff_accounts.router,
        staff_billing.router,
        staff_invoices.router,
        staff_receivables.router,
        staff_dunning.router,
        staff_webhooks.router,
        staff_jobs.router,
        staff_outbox.router,
        staff_users.router,
        billing_details.router,
        notifications.router,
        staff_entities.router,
        staff_tax_rates.router,
    ):
        app.include_router(router, prefix=COOKIE_PATH)

    @app.get("/", include_in_schema=False)
    def root(_request: Request) -> Response:
        return RedirectResponse(f"{COOKIE_PATH}/", status_code=307)
