"""Every staff page and action with every role: exactly what the API's role matrix allows.

The allowed roles here are those of tests/api/test_roles.py for the matching endpoint;
a role outside them gets 403 with a page that says so, and does not see the button.
Customers get 403 on every staff page. A form posted without its CSRF token is refused
and changes nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from leadbill.accounts.models import BillingDetails
from leadbill.billing.models import Invoice, Payment
from leadbill.entities.models import BillingEntity
from leadbill.leads.models import LeadDecision
from leadbill.reviews.models import Review
from leadbill.taxes.models import TaxRate
from leadbill.webhooks.models import WebhookDelivery
from tests.portal.conftest import sign_in
from tests.portal.settings_world import add_billing_settings
from tests.portal.staff_world import STAFF_USERS, StaffWorld, build_staff_world

STAFF = ("admin", "billing", "reviewer", "viewer")
BILLERS = ("admin", "billing")
ROLES = (*STAFF, "customer")


@dataclass(frozen=True)
class Page:
    """A staff page, who may read it, and the button only some readers see."""

    path: str
    readers: tuple[str, ...]
    button: str | None = None
    button_roles: tuple[str, ...] = ()


@dataclass(frozen=True)
class Action:
    """A staff form post and who may send it (the API endpoint it mirrors)."""

    name: str
    path: str
    allowed: tuple[str, ...]
    form: dict[str, str] = field(default_factory=dict)
    success: int = 303


PAGES = [
    Page("/portal/staff/accounts", STAFF),  # GET /v1/accounts
    Page("/portal/staff/accounts/acme", STAFF),  # GET /v1/accounts/acme, subscriptions, seats
    # GET call-report (readers); POST lead-decisions (admin, reviewer)
    Page("/portal/staff/accounts/acme/calls", STAFF, "Mark non-billable", ("admin", "reviewer")),
    Page("/portal/staff/plans", STAFF),  # GET /v1/plans
    Page("/portal/staff/billing-runs", STAFF, "Run billing", BILLERS),  # POST /v1/billing-runs
    Page("/portal/staff/invoices", STAFF, "Record a payment", BILLERS),  # GET /v1/invoices
    # POST /v1/invoices/{number}/uncollectible: admin, billing
    Page("/portal/staff/invoices", STAFF, "Mark uncollectible", BILLERS),
    Page("/portal/staff/receivables", STAFF),  # GET /v1/reports/receivables
    Page("/portal/staff/receivables.csv", STAFF),
    Page("/portal/staff/payments?account=acme", STAFF, "Record payment", BILLERS),  # POST
    Page("/portal/staff/credit-notes", STAFF),  # GET /v1/credit-notes
    Page("/portal/staff/reviews", STAFF, "Approve", ("admin", "reviewer")),  # reviews decision
    # GET /v1/webhook-endpoints, /v1/webhook-deliveries; POST .../redeliver: admin, billing
    Page("/portal/staff/webhooks", BILLERS, "Redeliver", BILLERS),
    Page("/portal/staff/webhooks/deliveries/{delivery}", BILLERS, "Redeliver now", BILLERS),
    # GET /v1/billing-entities, /v1/tax-rates: every staff role; POST, PATCH: admin.
    Page("/portal/staff/billing-entities", STAFF, "Add billing entity", ("admin",)),
    Page("/portal/staff/billing-entities/nordic", STAFF, "Make nordic the default", ("admin",)),
    Page("/portal/staff/billing-entities/us", STAFF, "Save changes", ("admin",)),
    Page("/portal/staff/tax-rates", STAFF, "Add tax rate", ("admin",)),
    # GET /v1/accounts/acme/billing-details (readers); PUT: admin, billing.
    Page("/portal/staff/accounts/acme/billing-details", STAFF, "Save billing details", BILLERS),
]
ENTITY_FORM = {
    "legal_name": "Leadbill Demo Inc.",
    "address_line1": "1 Main St",
    "city": "Denver",
    "postal_code": "80203",
    "country": "US",
    "invoice_prefix": "INV-",
    "credit_note_prefix": "CN-",
    "payment_terms_days": "15",
    "default_currency": "USD",
}


def _actions(world: StaffWorld, review_id: int, role: str, rate_id: int) -> list[Action]:
    first_invoice = world.portal.invoices["acme"][0]
    return [
        Action(
            "billing run",
            "/portal/staff/billing-runs",
            BILLERS,
            {"as_of": "2026-01-20T00:00"},
            success=200,
        ),
        Action(
            "record payment",
            "/portal/staff/payments",
            BILLERS,
            {"invoice": first_invoice, "amount": "1.00", "reference": f"wire-{role}"},
        ),
        Action(
            "lead decision",
            "/portal/staff/accounts/acme/calls/ACME-001/decision",
            ("admin", "reviewer"),
            {"reason": "wrong_number"},
        ),
        Action(
            "review decision",
            f"/portal/staff/reviews/{review_id}/decide",
            ("admin", "reviewer"),
            {"decision": "approve"},
        ),
        Action(
            "mark uncollectible",
            f"/portal/staff/invoices/{world.portal.invoices['acme'][1]}/uncollectible",
            BILLERS,
            {"reason": "The agency closed."},
        ),
        Action(
            "redeliver",
            f"/portal/staff/webhooks/deliveries/{world.delivery_id}/redeliver",
            BILLERS,
        ),
        Action(
            "add billing entity",
            "/portal/staff/billing-entities",
            ("admin",),
            {
                **ENTITY_FORM,
                "code": "de",
                "country": "DE",
                "invoice_prefix": "DE-",
                "credit_note_prefix": "DECN-",
            },
        ),
        Action(
            "change billing entity", "/portal/staff/billing-entities/us", ("admin",), ENTITY_FORM
        ),
        Action(
            "default billing entity", "/portal/staff/billing-entities/nordic/default", ("admin",)
        ),
        Action(
            "add tax rate",
            "/portal/staff/tax-rates",
            ("admin",),
            {"name": "TVA 20%", "rate": "20", "country": "FR", "valid_from": "2026-01-01"},
        ),
        Action(
            "end tax rate",
            f"/portal/staff/tax-rates/{rate_id}/end",
            ("admin",),
            {"valid_to": "2030-12-31"},
        ),
        Action(
            "billing details",
            "/portal/staff/accounts/acme/billing-details",
            BILLERS,
            {"legal_name": "Acme Realty LLC", "purchase_order": "PO-7", "payment_terms_days": "30"},
        ),
    ]


@pytest.fixture
def staff_world(sessions: sessionmaker[Session]) -> StaffWorld:
    """The portal's world with staff users, a failed delivery, open reviews, two billing
    entities and a tax rate."""
    world = build_staff_world(sessions, reviews=True)
    add_billing_settings(sessions)
    return world


def _ids(sessions: sessionmaker[Session]) -> tuple[int, int]:
    """The first review and the tax rate the actions act on."""
    with sessions() as session:
        review_id = session.scalars(select(Review.id).order_by(Review.id)).first()
        rate_id = session.scalars(select(TaxRate.id)).one()
    assert review_id is not None
    return review_id, rate_id


def _counts(sessions: sessionmaker[Session]) -> dict[str, object]:
    """What the actions change: payments, decisions, decided reviews, queued deliveries,
    invoices written off."""
    with sessions() as session:
        return {
            "payments": session.scalar(select(func.count()).select_from(Payment)),
            "decisions": session.scalar(select(func.count()).select_from(LeadDecision)),
            "decided": session.scalar(
                select(func.count()).select_from(Review).where(Review.status == "approved")
            ),
            "pending": session.scalar(
                select(func.count())
                .select_from(WebhookDelivery)
                .where(WebhookDelivery.status == "pending")
            ),
            "invoices": session.scalar(select(func.count()).select_from(Invoice)),
            "entities": session.execute(
                select(
                    BillingEntity.code, BillingEntity.postal_code, BillingEntity.is_default
                ).order_by(BillingEntity.code)
            ).all(),
            "rates": session.execute(
                select(TaxRate.id, TaxRate.valid_to).order_by(TaxRate.id)
            ).all(),
            "details": session.execute(
                select(BillingDetails.account_id, BillingDetails.purchase_order)
            ).all(),
            "uncollectible": session.scalar(
                select(func.count()).select_from(Invoice).where(Invoice.status == "uncollectible")
            ),
        }


@pytest.mark.parametrize("role", ROLES)
def test_each_role_reads_and_acts_exactly_as_the_api_allows(
    client: TestClient, staff_world: StaffWorld, sessions: sessionmaker[Session], role: str
) -> None:
    token = sign_in(client, STAFF_USERS[role])
    for page in PAGES:
        path = page.path.format(delivery=staff_world.delivery_id)
        response = client.get(path)
        expected = 200 if role in page.readers else 403
        assert response.status_code == expected, (path, role, response.text[:300])
        if expected == 403:
            assert "Not allowed" in response.text, path
            continue
        if page.button is not None:
            shown = f">{page.button}<" in response.text
            assert shown == (role in page.button_roles), (path, role, page.button)
    if role != "customer":
        home = client.get("/portal/staff/accounts").text
        assert ('href="/portal/staff/webhooks"' in home) == (role in BILLERS)
        assert 'href="/portal/staff/billing-entities"' in home
        assert 'href="/portal/staff/tax-rates"' in home

    review_id, rate_id = _ids(sessions)
    for action in _actions(staff_world, review_id, role, rate_id):
        before = _counts(sessions)
        response = client.post(action.path, data={**action.form, "csrf_token": token})
        expected = action.success if role in action.allowed else 403
        assert response.status_code == expected, (action.name, role, response.text[:300])
        if expected == 403:
            assert "may not do this" in response.text or "operator staff" in response.text
            assert _counts(sessions) == before, action.name  # nothing changed


@pytest.mark.parametrize("role", ["admin", "billing", "reviewer"])
def test_staff_forms_without_the_csrf_token_are_refused_and_change_nothing(
    client: TestClient, staff_world: StaffWorld, sessions: sessionmaker[Session], role: str
) -> None:
    sign_in(client, STAFF_USERS[role])
    review_id, rate_id = _ids(sessions)
    before = _counts(sessions)
    for action in _actions(staff_world, review_id, role, rate_id):
        for token in (None, "forged-token"):
            form = dict(action.form)
            if token is not None:
                form["csrf_token"] = token
            response = client.post(action.path, data=form)
            assert response.status_code == 403, (action.name, response.text[:300])
            assert "This form has expired" in response.text
    assert _counts(sessions) == before


def test_a_customer_never_sees_staff_navigation(
    client: TestClient, staff_world: StaffWorld
) -> None:
    sign_in(client, STAFF_USERS["customer"])
    page = client.get("/portal/dashboard").text
    assert not re.search(r'href="/portal/staff/', page)
