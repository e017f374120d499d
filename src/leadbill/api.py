"""The REST API: a FastAPI app under /v1 mounting each concept's endpoints.

`create_app(sessions)` builds an app on a given session factory (tests pass
their database's); the module-level `app` uses the configured database,
opened at the first request. Errors are mapped once in `leadbill.problems`.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from leadbill import problems
from leadbill.accounts.endpoints import router as accounts
from leadbill.billing.endpoints import router as billing
from leadbill.context.endpoints import router as account_context
from leadbill.dunning.endpoints import router as dunning
from leadbill.entities.endpoints import router as billing_entities
from leadbill.jobs.endpoints import router as worker_jobs
from leadbill.leads.endpoints import decisions as lead_decisions
from leadbill.leads.endpoints import router as lead_events
from leadbill.mail.endpoints import router as mail
from leadbill.payment_methods.endpoints import router as payment_methods
from leadbill.plans.endpoints import advice as plan_advice
from leadbill.plans.endpoints import router as plans
from leadbill.portal.routes import install as install_portal
from leadbill.receivables.endpoints import router as receivables
from leadbill.reports.endpoints import router as reports
from leadbill.reviews.endpoints import router as reviews
from leadbill.seats.endpoints import router as seats
from leadbill.subscriptions.endpoints import router as subscriptions
from leadbill.taxes.endpoints import router as tax_rates
from leadbill.webhooks.endpoints import router as webhooks

PREFIX = "/v1"

DESCRIPTION = """\
leadbill meters lead events, decides which leads are billable and why, prices
them under subscription plans and issues invoices.

Authenticate with `Authorization: Bearer <key>` (create keys with
`leadbill keys create`). Money is `{"amount": "285.00", "currency": "USD"}`
(a decimal string); instants are RFC 3339 with an offset. Lists are paged with
an opaque `cursor` and `limit`; pass `page.next_cursor` back as `cursor`.
Errors are `application/problem+json` (RFC 9457). Send `Idempotency-Key` on a
mutating request to make a retry return the first response.
"""


def create_app(sessions: sessionmaker[Session] | None = None) -> FastAPI:
    """The API app on `sessions` (default: the configured database)."""
    from leadbill import __version__

    app = FastAPI(
        title="leadbill",
        version=__version__,
        description=DESCRIPTION,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.sessions = sessions
    problems.install(app)
    for router in (plans, accounts, subscriptions, seats, lead_events, billing, reports, webhooks):
        app.include_router(router, prefix=PREFIX)
    app.include_router(receivables, prefix=PREFIX)
    app.include_router(dunning, prefix=PREFIX)
    app.include_router(reviews, prefix=PREFIX)
    app.include_router(worker_jobs, prefix=PREFIX)
    app.include_router(mail, prefix=PREFIX)
    app.include_router(payment_methods, prefix=PREFIX)
    for router in (account_context, lead_decisions, plan_advice, billing_entities, tax_rates):
        app.include_router(router, prefix=PREFIX)
    install_portal(app)
    return app


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document of the API (what /openapi.json serves)."""
    return create_app().openapi()


app = create_app()
