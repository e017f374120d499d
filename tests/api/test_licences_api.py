"""Licences over the API (R19-R22): add with the total due today, remove at the period end,
and the self-serve cap: a customer key may reach it, beyond it only staff, and says so."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from leadbill.accounts.service import create_account
from leadbill.auth.service import create_key
from leadbill.plans.service import create_plan
from leadbill.subscriptions.service import create_subscription
from tests.api.conftest import World

ROLES = ("admin", "billing", "reviewer", "viewer", "ingest", "customer")


@dataclass
class Licensed:
    """A subscription on a licence plan (cap 5, 3 licences) started yesterday."""

    subscription: int
    customer: dict[str, str]


@pytest.fixture
def licensed(world: World, sessions: sessionmaker[Session]) -> Licensed:
    """Account `team` on `pro-annual` (1200.00 a licence a year, cap 5) with 3 licences."""
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    with sessions() as session, session.begin():
        plan = create_plan(
            session,
            code="pro-annual",
            name="Pro annual",
            currency="USD",
            interval="year",
            fee="0",
            included_leads=0,
            per_lead_rate="0",
            counting_policy="none",
            licence_price="1200.00",
            licence_cap=5,
            as_of=start,
        )
        account = create_account(
            session,
            code="team",
            name="Team",
            currency="USD",
            time_zone="UTC",
            billing_email="b@team.test",
            as_of=start,
        )
        subscription = create_subscription(
            session, account=account, plan=plan, start=start, licences=3
        )
        _row, key = create_key(session, role="customer", account_code="team", as_of=start)
    return Licensed(subscription.id, {"Authorization": f"Bearer {key}"})


def _headers(world: World, licensed: Licensed, role: str) -> dict[str, str]:
    return licensed.customer if role == "customer" else world.auth(role)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("method", "path", "body", "allowed"),
    [
        ("POST", "licences", {"count": 1}, ("admin", "billing", "customer")),
        ("POST", "licences/removals", {"count": 1}, ("admin", "billing")),
        (
            "GET",
            "licences/preview?change=1",
            None,
            ("admin", "billing", "reviewer", "viewer", "customer"),
        ),
    ],
    ids=["add", "remove", "preview"],
)
def test_licence_endpoints_with_every_role(
    client: TestClient,
    world: World,
    licensed: Licensed,
    role: str,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    allowed: tuple[str, ...],
) -> None:
    response = client.request(
        method,
        f"/v1/subscriptions/{licensed.subscription}/{path}",
        json=body,
        headers=_headers(world, licensed, role),
    )
    assert response.status_code == (200 if role in allowed else 403), response.text
    # acme's customer key does not see team's subscription at all.
    other = client.request(
        method,
        f"/v1/subscriptions/{licensed.subscription}/{path}",
        json=body,
        headers=world.auth("customer"),
    )
    assert other.status_code == 404


def test_r20_r22_customer_adds_up_to_the_cap_with_the_total_due_today(
    client: TestClient, world: World, licensed: Licensed
) -> None:
    base = f"/v1/subscriptions/{licensed.subscription}/licences"
    preview = client.get(f"{base}/preview?change=2", headers=licensed.customer)
    assert preview.status_code == 200, preview.text
    figures = preview.json()
    assert figures["licences_now"] == 5 and figures["licences_next_period"] == 5
    assert figures["next_renewal_amount"] == {"amount": "6000.00", "currency": "USD"}
    due = figures["total_due_today"]
    assert due["currency"] == "USD" and 0 < float(due["amount"]) <= 2400

    added = client.post(base, json={"count": 2}, headers=licensed.customer)
    assert added.status_code == 200, added.text
    change = added.json()
    assert change["subscription"]["licences"] == 5
    # Charged what the preview said (a few milliseconds later: within a cent).
    charged = change["invoice"]["total"]
    assert charged["currency"] == "USD"
    assert abs(Decimal(charged["amount"]) - Decimal(due["amount"])) <= Decimal("0.01")

    beyond = client.post(base, json={"count": 1}, headers=licensed.customer)
    assert beyond.status_code == 403
    assert "at most 5 licences" in beyond.json()["detail"]
    assert "operator staff" in beyond.json()["detail"]
    preview_beyond = client.get(f"{base}/preview?change=1", headers=licensed.customer)
    assert preview_beyond.status_code == 403

    staff = client.post(base, json={"count": 1}, headers=world.auth("billing"))
    assert staff.status_code == 200
    assert staff.json()["subscription"]["licences"] == 6


def test_r21_removal_at_the_period_end_without_refund(
    client: TestClient, world: World, licensed: Licensed
) -> None:
    removed = client.post(
        f"/v1/subscriptions/{licensed.subscription}/licences/removals",
        json={"count": 2},
        headers=world.auth("admin"),
    )
    assert removed.status_code == 200, removed.text
    change = removed.json()
    assert change["invoice"] is None and change["immediate"] is False
    assert change["subscription"]["licences"] == 3
    assert change["subscription"]["licences_next_period"] == 1
    assert change["effective_at"] == change["subscription"]["current_period"]["end"]


def test_customer_may_not_choose_the_instant(client: TestClient, licensed: Licensed) -> None:
    response = client.post(
        f"/v1/subscriptions/{licensed.subscription}/licences",
        json={"count": 1, "at": "2026-01-01T00:00:00Z"},
        headers=licensed.customer,
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "at"
