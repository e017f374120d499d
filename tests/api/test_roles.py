"""Every endpoint with every role, and a customer key against another account's ids.

Allowed roles get 2xx (409 for the primary of a seat, which never changes);
staff roles that are not allowed get 403; a customer asking for anything of
another account gets 404, exactly as for something that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from leadbill.accounts.models import Account
from leadbill.auth.service import Role
from leadbill.context import service as context
from leadbill.entities.service import EntityFields, create_entity
from leadbill.mail.models import MailMessage
from leadbill.plans.service import create_plan
from leadbill.taxes.service import create_rate
from leadbill.webhooks.models import WebhookDelivery
from leadbill.webhooks.service import create_endpoint, emit
from tests.api.conftest import START, World
from tests.conftest import utc

STAFF = ("admin", "billing", "reviewer", "viewer")
READERS = (*STAFF, "customer")
BILLERS = ("admin", "billing")
ROLES = [role.value for role in Role]
AS_OF = "as_of=2026-01-15T00:00:00Z"
FILTERS = "seat=acme-seat&counted=false&reason=never_called&phone=303-555-0100&email=ANN@x.test"


@dataclass(frozen=True)
class Case:
    """One endpoint: how to call it and who may."""

    name: str
    method: str
    path: str
    allowed: tuple[str, ...]
    body: dict[str, Any] | None = None
    success: int = 200
    # A customer may be refused with 404 where the request names an account not its own.
    customer_refusal: int = 403


PERSON = {"name": "Nia New", "email": "nia@acme.test"}
EVENT = {
    "idempotency_key": "k1",
    "account": "acme",
    "lead_id": "L1",
    "event_type": "received",
    "occurred_at": "2026-01-05T10:00:00Z",
}
ENTITY = {
    "code": "nordic",
    "legal_name": "Lead Data Nordic AB",
    "address_line1": "Sveavägen 44",
    "city": "Stockholm",
    "country": "SE",
    "invoice_prefix": "SE-",
    "credit_note_prefix": "SECN-",
}
TAX_RATE = {"name": "TVA 20%", "rate": "20", "country": "FR", "valid_from": "2026-01-01"}
PLAN = {
    "code": "pkg-200",
    "currency": "USD",
    "interval": "month",
    "fee": "1800.00",
    "included_leads": 200,
    "per_lead_rate": "9.00",
}

CASES = [
    Case("create plan", "POST", "/v1/plans", ("admin",), PLAN, 201),
    Case("list plans", "GET", "/v1/plans", READERS),
    Case("get plan", "GET", "/v1/plans/pkg-100", READERS),
    Case(
        "create account",
        "POST",
        "/v1/accounts",
        ("admin",),
        {"code": "newco", "billing_email": "b@newco.test"},
        201,
    ),
    Case("list accounts", "GET", "/v1/accounts", READERS),
    Case("get account", "GET", "/v1/accounts/acme", READERS),
    Case(
        "create subscription",
        "POST",
        "/v1/subscriptions",
        BILLERS,
        {"account": "fresh", "plan": "pkg-100", "start": "2026-02-01T00:00:00Z"},
        201,
        customer_refusal=404,  # the body names an account that is not the customer's
    ),
    Case("get subscription", "GET", "/v1/subscriptions/{acme_sub}", READERS),
    Case("cancel subscription", "POST", "/v1/subscriptions/{acme_sub}/cancel", BILLERS),
    Case(
        "create seat",
        "POST",
        "/v1/accounts/acme/seats",
        BILLERS,
        {"code": "s9", "primary": PERSON},
        201,
    ),
    Case("list seats", "GET", "/v1/accounts/acme/seats", READERS),
    Case("get seat", "GET", "/v1/accounts/acme/seats/acme-seat", READERS),
    Case(
        "set backup",
        "PUT",
        "/v1/accounts/acme/seats/acme-seat/backup",
        (*BILLERS, "customer"),
        PERSON,
    ),
    Case(
        "remove backup",
        "DELETE",
        "/v1/accounts/acme/seats/acme-seat/backup",
        (*BILLERS, "customer"),
    ),
    Case(
        "change primary",
        "PUT",
        "/v1/accounts/acme/seats/acme-seat/primary",
        (*BILLERS, "customer"),
        PERSON,
        409,
    ),
    Case("send lead events", "POST", "/v1/lead-events", ("admin", "ingest"), {"events": [EVENT]}),
    Case(
        "billing run",
        "POST",
        "/v1/billing-runs",
        BILLERS,
        {"as_of": "2026-02-01T00:00:00Z"},
    ),
    Case("list invoices", "GET", "/v1/invoices", READERS),
    Case("get invoice", "GET", "/v1/invoices/{acme_invoice}", READERS),
    Case(
        "record payment",
        "POST",
        "/v1/invoices/{acme_invoice}/payments",
        BILLERS,
        {"amount": "100.00", "currency": "USD", "reference": "wire-1"},
        201,
    ),
    Case("usage summary", "GET", f"/v1/accounts/acme/usage?{AS_OF}", READERS),
    Case("call report", "GET", f"/v1/accounts/acme/call-report?{AS_OF}", READERS),
    # Webhooks are the operator's integration: admin manages endpoints; admin and billing
    # read them, read the delivery log and redeliver. Customers get 403 like other staff.
    Case(
        "create webhook endpoint",
        "POST",
        "/v1/webhook-endpoints",
        ("admin",),
        {"url": "https://crm.test/hooks", "event_types": ["invoice.paid"]},
        201,
    ),
    Case("list webhook endpoints", "GET", "/v1/webhook-endpoints", BILLERS),
    Case("get webhook endpoint", "GET", "/v1/webhook-endpoints/{endpoint}", BILLERS),
    Case("remove webhook endpoint", "DELETE", "/v1/webhook-endpoints/{endpoint}", ("admin",)),
    Case("list webhook deliveries", "GET", "/v1/webhook-deliveries", BILLERS),
    Case("get webhook delivery", "GET", "/v1/webhook-deliveries/{delivery}", BILLERS),
    Case("redeliver webhook", "POST", "/v1/webhook-deliveries/{delivery}/redeliver", BILLERS),
    Case("list worker jobs", "GET", "/v1/worker-jobs", BILLERS),
    Case("list mail messages", "GET", "/v1/mail-messages", (*BILLERS, "customer")),
    Case("get mail message", "GET", "/v1/mail-messages/{acme_mail}", (*BILLERS, "customer")),
    Case(
        "resend mail message",
        "POST",
        "/v1/mail-messages/{acme_mail}/resend",
        (*BILLERS, "customer"),
    ),
    Case("list dunning", "GET", f"/v1/dunning?{AS_OF}", (*BILLERS, "customer")),
    Case("list account dunning", "GET", "/v1/dunning?account=acme", (*BILLERS, "customer")),
    # Not paused: the allowed roles reach the rule (409), the others are refused.
    Case("resume subscription", "POST", "/v1/subscriptions/{acme_sub}/resume", BILLERS, None, 409),
    Case(
        "filtered call report", "GET", f"/v1/accounts/acme/call-report?{AS_OF}&{FILTERS}", READERS
    ),
    Case("list subscriptions", "GET", "/v1/subscriptions", READERS),
    Case("list account subscriptions", "GET", "/v1/subscriptions?account=acme", READERS),
    Case(
        "change plan",
        "POST",
        "/v1/subscriptions/{acme_sub}/change-plan",
        BILLERS,
        {"plan": "pkg-150", "at": "2026-01-15T00:00:00Z"},
    ),
    Case("get lead policy", "GET", "/v1/accounts/acme/lead-policy", READERS),
    Case(
        "set lead policy",
        "PUT",
        "/v1/accounts/acme/lead-policy",
        ("admin",),
        {"duplicate_window_days": 14},
    ),
    Case("list campaigns", "GET", "/v1/accounts/acme/campaigns", READERS),
    Case(
        "create campaign", "POST", "/v1/accounts/acme/campaigns", ("admin",), {"code": "new"}, 201
    ),
    Case(
        "pause campaign",
        "POST",
        "/v1/accounts/acme/campaigns/spring/pauses",
        ("admin",),
        {"start": "2026-01-20T00:00:00Z"},
        201,
    ),
    Case("resume campaign", "POST", "/v1/accounts/acme/campaigns/paused/resume", ("admin",), {}),
    Case("list service area", "GET", "/v1/accounts/acme/service-area", READERS),
    Case(
        "set service area",
        "PUT",
        "/v1/accounts/acme/service-area",
        ("admin",),
        {"postal_codes": ["80202"]},
    ),
    Case("list customers", "GET", "/v1/accounts/acme/customers", READERS),
    Case(
        "add customers",
        "POST",
        "/v1/accounts/acme/customers",
        ("admin",),
        {"customers": [{"phone": "+13035550100"}]},
    ),
    Case("list block list", "GET", "/v1/accounts/acme/block-list", READERS),
    Case(
        "add block entry",
        "POST",
        "/v1/accounts/acme/block-list",
        ("admin",),
        {"kind": "domain", "value": "acme.example"},
        201,
    ),
    Case(
        "remove block entry",
        "DELETE",
        "/v1/accounts/acme/block-list/{acme_block}",
        ("admin",),
        success=204,
    ),
    Case(
        "decide leads",
        "POST",
        "/v1/accounts/acme/lead-decisions",
        ("admin", "reviewer"),
        {"lead_ids": ["L1"], "reason": "wrong_number"},
    ),
    Case("lead decisions", "GET", "/v1/accounts/acme/leads/L1/decisions", STAFF),
    Case("explain invoice", "GET", "/v1/invoices/{acme_invoice}/explain", READERS),
    Case("invoice line leads", "GET", "/v1/invoices/{acme_invoice}/lines/1/leads", READERS),
    Case("plan advice", "GET", "/v1/accounts/acme/plan-advice", READERS),
    Case(
        "ledger export",
        "GET",
        "/v1/exports/ledger?from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z",
        ("admin", "billing", "viewer"),
    ),
    # Billing entities and tax rates are the operator's settings: admin changes them, every
    # staff role reads them; customers get 403 (their issuer shows in their billing details).
    Case("create billing entity", "POST", "/v1/billing-entities", ("admin",), ENTITY, 201),
    Case("list billing entities", "GET", "/v1/billing-entities", STAFF),
    Case("get billing entity", "GET", "/v1/billing-entities/us", STAFF),
    Case(
        "change billing entity",
        "PATCH",
        "/v1/billing-entities/us",
        ("admin",),
        {"postal_code": "80202"},
    ),
    Case("default billing entity", "POST", "/v1/billing-entities/us/default", ("admin",)),
    Case("create tax rate", "POST", "/v1/tax-rates", ("admin",), TAX_RATE, 201),
    Case("list tax rates", "GET", "/v1/tax-rates", STAFF),
    Case(
        "end tax rate",
        "POST",
        "/v1/tax-rates/{tax_rate}/end",
        ("admin",),
        {"valid_to": "2030-12-31"},
    ),
    Case("get billing details", "GET", "/v1/accounts/acme/billing-details", READERS),
    Case("get payment method", "GET", "/v1/accounts/acme/payment-method", READERS),
    Case(
        "set payment method",
        "PUT",
        "/v1/accounts/acme/payment-method",
        BILLERS,
        {"kind": "bank_transfer"},
    ),
    Case(
        "set billing details",
        "PUT",
        "/v1/accounts/acme/billing-details",
        (*BILLERS, "customer"),
        {"legal_name": "Acme Realty LLC", "purchase_order": "PO-7"},
    ),
    Case(
        "mark uncollectible",
        "POST",
        "/v1/invoices/{acme_invoice}/uncollectible",
        BILLERS,
        {"reason": "Customer went out of business"},
    ),
    Case("receivables", "GET", f"/v1/reports/receivables?{AS_OF}", STAFF),
    Case("receivables csv", "GET", f"/v1/reports/receivables?{AS_OF}&format=csv", STAFF),
    Case("receivables of acme", "GET", f"/v1/reports/receivables?{AS_OF}&account=acme", STAFF),
]


def _path(template: str, world: World) -> str:
    return template.format(
        acme_sub=world.subscriptions["acme"],
        other_sub=world.subscriptions["other"],
        acme_invoice=world.invoices["acme"],
        other_invoice=world.invoices["other"],
        endpoint=world.webhooks.get("endpoint", 0),
        delivery=world.webhooks.get("delivery", 0),
        acme_block=world.extra.get("acme_block", 0),
        other_block=world.extra.get("other_block", 0),
        tax_rate=world.extra.get("tax_rate", 0),
        acme_mail=world.extra.get("acme_mail", 0),
        other_mail=world.extra.get("other_mail", 0),
    )


def _call(client: TestClient, world: World, role: str, case: Case) -> Any:
    return client.request(
        case.method, _path(case.path, world), json=case.body, headers=world.auth(role)
    )


@pytest.fixture
def webhook(world: World, sessions: sessionmaker[Session]) -> None:
    """A webhook endpoint for every account's invoice.paid, and one delivery queued to it."""
    with sessions() as session, session.begin():
        endpoint = create_endpoint(
            session, url="https://crm.test/hooks", event_types=["invoice.paid"], as_of=START
        )
        account_id = session.scalars(select(Account.id).where(Account.code == "acme")).one()
        emit(session, account_id, "invoice.paid", {}, occurred_at=START)
        delivery = session.scalars(select(WebhookDelivery.id)).one()
    world.webhooks.update(endpoint=endpoint.id, delivery=delivery)


@pytest.fixture
def fresh_account(client: TestClient, world: World, sessions: sessionmaker[Session]) -> None:
    """An account without a subscription (create-subscription case), a plan higher on the
    ladder, and on acme and other: a campaign, a paused one, a block-list entry, a lead."""
    response = client.post(
        "/v1/accounts",
        json={"code": "fresh", "billing_email": "b@fresh.test"},
        headers=world.auth("admin"),
    )
    assert response.status_code == 201
    with sessions() as session, session.begin():
        create_plan(
            session,
            code="pkg-150",
            name="Package 150",
            currency="USD",
            interval="month",
            fee="1400.00",
            included_leads=150,
            per_lead_rate="9.50",
            ladder="pkg",
            as_of=utc(2026, 1, 1),
        )
        for code in ("acme", "other"):
            context.add_campaign(session, code, "spring")
            context.add_campaign(session, code, "paused")
            context.pause_campaign(session, code, "paused", utc(2026, 1, 10))
            world.extra[f"{code}_block"] = context.add_block_entry(
                session, code, "domain", "blocked.example"
            ).id
            # The "invoice issued" message of the account's first invoice.
            world.extra[f"{code}_mail"] = (
                session.scalars(
                    select(MailMessage.id)
                    .join(Account, Account.id == MailMessage.account_id)
                    .where(Account.code == code)
                    .order_by(MailMessage.id)
                ).first()
                or 0
            )
    events = [
        {
            "idempotency_key": f"{code}-1",
            "account": code,
            "lead_id": lead,
            "event_type": "received",
            "occurred_at": "2026-01-05T10:00:00Z",
            "seat": f"{code}-seat",
        }
        for code, lead in (("acme", "L1"), ("other", "L2"))
    ]
    sent = client.post("/v1/lead-events", json={"events": events}, headers=world.auth("ingest"))
    assert sent.json()["totals"]["accepted"] == 2


@pytest.fixture
def billing_settings(world: World, sessions: sessionmaker[Session]) -> None:
    """The operator's billing entity (the default) and a tax rate."""
    fields = EntityFields(
        legal_name="Leadbill Demo Inc.", address_line1="1 Main St", city="Denver", country="US"
    )
    with sessions() as session, session.begin():
        create_entity(session, code="us", fields=fields, as_of=START)
        world.extra["tax_rate"] = create_rate(
            session,
            name="Moms 25%",
            rate="25",
            country="SE",
            region=None,
            valid_from=utc(2020, 1, 1).date(),
            valid_to=None,
            as_of=START,
        ).id


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name.replace(" ", "-"))
def test_every_endpoint_with_every_role(
    client: TestClient,
    world: World,
    fresh_account: None,
    webhook: None,
    billing_settings: None,
    case: Case,
    role: str,
) -> None:
    response = _call(client, world, role, case)
    if role in case.allowed:
        expected = case.success
    elif role == "customer":
        expected = case.customer_refusal
    else:
        expected = 403
    assert response.status_code == expected, response.text
    if expected >= 400:
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["status"] == expected


OTHER_ACCOUNT = [
    Case("get account", "GET", "/v1/accounts/other", READERS),
    Case(
        "create subscription",
        "POST",
        "/v1/subscriptions",
        BILLERS,
        {"account": "other", "plan": "pkg-100", "start": "2026-02-01T00:00:00Z"},
    ),
    Case("get subscription", "GET", "/v1/subscriptions/{other_sub}", READERS),
    Case("cancel subscription", "POST", "/v1/subscriptions/{other_sub}/cancel", BILLERS),
    Case("resume subscription", "POST", "/v1/subscriptions/{other_sub}/resume", BILLERS),
    Case("list dunning", "GET", "/v1/dunning?account=other", (*BILLERS, "customer")),
    Case(
        "create seat", "POST", "/v1/accounts/other/seats", BILLERS, {"code": "x", "primary": PERSON}
    ),
    Case("list seats", "GET", "/v1/accounts/other/seats", READERS),
    Case("get seat", "GET", "/v1/accounts/other/seats/other-seat", READERS),
    Case("set backup", "PUT", "/v1/accounts/other/seats/other-seat/backup", READERS, PERSON),
    Case("remove backup", "DELETE", "/v1/accounts/other/seats/other-seat/backup", READERS),
    Case("change primary", "PUT", "/v1/accounts/other/seats/other-seat/primary", READERS, PERSON),
    Case("list invoices", "GET", "/v1/invoices?account=other", READERS),
    Case("get invoice", "GET", "/v1/invoices/{other_invoice}", READERS),
    Case(
        "record payment",
        "POST",
        "/v1/invoices/{other_invoice}/payments",
        BILLERS,
        {"amount": "1.00", "currency": "USD", "reference": "x"},
    ),
    Case("usage summary", "GET", f"/v1/accounts/other/usage?{AS_OF}", READERS),
    Case("call report", "GET", f"/v1/accounts/other/call-report?{AS_OF}", READERS),
    Case("filtered call report", "GET", f"/v1/accounts/other/call-report?{FILTERS}", READERS),
    Case("list subscriptions", "GET", "/v1/subscriptions?account=other", READERS),
    Case(
        "change plan",
        "POST",
        "/v1/subscriptions/{other_sub}/change-plan",
        BILLERS,
        {"plan": "pkg-150", "at": "2026-01-15T00:00:00Z"},
    ),
    Case("get lead policy", "GET", "/v1/accounts/other/lead-policy", READERS),
    Case("set lead policy", "PUT", "/v1/accounts/other/lead-policy", READERS, {}),
    Case("list campaigns", "GET", "/v1/accounts/other/campaigns", READERS),
    Case("create campaign", "POST", "/v1/accounts/other/campaigns", READERS, {"code": "x"}),
    Case(
        "pause campaign",
        "POST",
        "/v1/accounts/other/campaigns/spring/pauses",
        READERS,
        {"start": "2026-01-20T00:00:00Z"},
    ),
    Case("resume campaign", "POST", "/v1/accounts/other/campaigns/paused/resume", READERS, {}),
    Case("list service area", "GET", "/v1/accounts/other/service-area", READERS),
    Case(
        "set service area", "PUT", "/v1/accounts/other/service-area", READERS, {"postal_codes": []}
    ),
    Case("list customers", "GET", "/v1/accounts/other/customers", READERS),
    Case(
        "add customers",
        "POST",
        "/v1/accounts/other/customers",
        READERS,
        {"customers": [{"email": "a@b.test"}]},
    ),
    Case("list block list", "GET", "/v1/accounts/other/block-list", READERS),
    Case(
        "add block entry",
        "POST",
        "/v1/accounts/other/block-list",
        READERS,
        {"kind": "domain", "value": "x.example"},
    ),
    Case("remove block entry", "DELETE", "/v1/accounts/other/block-list/{other_block}", READERS),
    Case(
        "remove acme entry through other",
        "DELETE",
        "/v1/accounts/other/block-list/{acme_block}",
        READERS,
    ),
    Case(
        "decide leads",
        "POST",
        "/v1/accounts/other/lead-decisions",
        READERS,
        {"lead_ids": ["L2"], "reason": "wrong_number"},
    ),
    Case("lead decisions", "GET", "/v1/accounts/other/leads/L2/decisions", READERS),
    Case("explain invoice", "GET", "/v1/invoices/{other_invoice}/explain", READERS),
    Case("invoice line leads", "GET", "/v1/invoices/{other_invoice}/lines/1/leads", READERS),
    Case("plan advice", "GET", "/v1/accounts/other/plan-advice", READERS),
    Case("get billing details", "GET", "/v1/accounts/other/billing-details", READERS),
    Case("get payment method", "GET", "/v1/accounts/other/payment-method", READERS),
    Case(
        "set payment method",
        "PUT",
        "/v1/accounts/other/payment-method",
        READERS,
        {"kind": "bank_transfer"},
    ),
    Case(
        "set billing details",
        "PUT",
        "/v1/accounts/other/billing-details",
        READERS,
        {"purchase_order": "PO-1"},
    ),
    Case(
        "mark uncollectible",
        "POST",
        "/v1/invoices/{other_invoice}/uncollectible",
        BILLERS,
        {"reason": "gone"},
    ),
    Case("list mail messages", "GET", "/v1/mail-messages?account=other", READERS),
    Case("get mail message", "GET", "/v1/mail-messages/{other_mail}", READERS),
    Case("resend mail message", "POST", "/v1/mail-messages/{other_mail}/resend", READERS),
]


@pytest.mark.parametrize("case", OTHER_ACCOUNT, ids=lambda case: case.name.replace(" ", "-"))
def test_customer_gets_404_for_another_accounts_ids(
    client: TestClient, world: World, fresh_account: None, case: Case
) -> None:
    response = _call(client, world, "customer", case)
    assert response.status_code == 404, response.text
    body = response.json()
    assert body["type"] == "https://leadbill.dev/problems/not-found"
    assert "errors" not in body
    # The same request for something that does not exist answers the same way.
    missing = case.path.replace("{other_sub}", "999999").replace("{other_invoice}", "INV-999999")
    missing = missing.replace("{other_block}", "999999").replace("{acme_block}", "999999")
    missing = missing.replace("{other_mail}", "999999")
    missing = missing.replace("other", "ghost")
    body_missing = None
    if case.body is not None:
        body_missing = {
            k: (v.replace("other", "ghost") if isinstance(v, str) else v)
            for k, v in case.body.items()
        }
    ghost = client.request(
        case.method, _path(missing, world), json=body_missing, headers=world.auth("customer")
    )
    assert ghost.status_code == 404


def test_customer_lists_only_its_own_account_and_invoices(client: TestClient, world: World) -> None:
    headers = world.auth("customer")
    accounts = client.get("/v1/accounts", headers=headers).json()["data"]
    assert [a["code"] for a in accounts] == ["acme"]
    invoices = client.get("/v1/invoices", headers=headers).json()["data"]
    assert invoices and {i["account"] for i in invoices} == {"acme"}
    staff = client.get("/v1/invoices", headers=world.auth("viewer")).json()["data"]
    assert {i["account"] for i in staff} == {"acme", "other"}
