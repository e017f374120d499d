"""Errors are application/problem+json (RFC 9457) with stable types; no input gives a 500."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from leadbill.plans.models import Plan
from tests.api.conftest import World

PROBLEMS = "https://leadbill.dev/problems/"
PLAN = {
    "code": "pkg-200",
    "currency": "USD",
    "interval": "month",
    "fee": "1800.00",
    "included_leads": 200,
    "per_lead_rate": "9.00",
}


def _problem(response: Any, status: int, kind: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["type"] == PROBLEMS + kind
    assert body["status"] == status
    assert body["title"] and body["detail"]
    return body


def _plans(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(Plan)) or 0)


def test_no_key_is_401_with_bearer_challenge(client: TestClient, world: World) -> None:
    response = client.get("/v1/plans")
    _problem(response, 401, "unauthenticated")
    assert response.headers["www-authenticate"] == "Bearer"
    _problem(client.get("/v1/plans", headers={"Authorization": "Basic x"}), 401, "unauthenticated")
    wrong = {"Authorization": "Bearer lb_not-a-real-key-at-all"}
    _problem(client.get("/v1/plans", headers=wrong), 401, "unauthenticated")


def test_invalid_input_lists_each_field_with_its_reason(client: TestClient, world: World) -> None:
    body = _problem(
        client.post("/v1/plans", json={"code": "", "fee": "ten"}, headers=world.auth("admin")),
        422,
        "invalid-input",
    )
    fields = {error["field"] for error in body["errors"]}
    assert {"code", "fee", "currency", "interval", "included_leads", "per_lead_rate"} <= fields
    assert all(error["reason"] for error in body["errors"])


@pytest.mark.parametrize("amount", [1800.0, 1800, 18.5])
def test_money_given_as_a_json_number_is_refused(
    client: TestClient, world: World, sessions: sessionmaker[Session], amount: object
) -> None:
    body = _problem(
        client.post("/v1/plans", json={**PLAN, "fee": amount}, headers=world.auth("admin")),
        422,
        "invalid-input",
    )
    assert body["errors"][0]["field"] == "fee"
    assert "decimal string" in body["errors"][0]["reason"]
    assert _plans(sessions) == 1


def test_service_rule_violation_names_the_field(client: TestClient, world: World) -> None:
    body = _problem(
        client.post("/v1/plans", json={**PLAN, "interval": "week"}, headers=world.auth("admin")),
        422,
        "invalid-input",
    )
    assert body["errors"] == [{"field": "interval", "reason": "'week' is not one of month, year"}]


def test_malformed_json_is_400_and_stores_nothing(
    client: TestClient, world: World, sessions: sessionmaker[Session]
) -> None:
    headers = {**world.auth("admin"), "Content-Type": "application/json"}
    _problem(client.post("/v1/plans", content=b'{"code": ', headers=headers), 400, "malformed-json")
    assert _plans(sessions) == 1


def test_wrong_content_type_is_415_and_stores_nothing(
    client: TestClient, world: World, sessions: sessionmaker[Session]
) -> None:
    headers = {**world.auth("admin"), "Content-Type": "text/csv"}
    response = client.post("/v1/plans", content=b"code,fee\nx,1", headers=headers)
    _problem(response, 415, "unsupported-media-type")
    form = client.post("/v1/plans", data={"code": "x"}, headers=world.auth("admin"))
    _problem(form, 415, "unsupported-media-type")
    assert _plans(sessions) == 1


def test_not_found_conflict_and_forbidden(client: TestClient, world: World) -> None:
    admin = world.auth("admin")
    _problem(client.get("/v1/plans/nope", headers=admin), 404, "not-found")
    _problem(client.get("/v1/no-such-route", headers=admin), 404, "not-found")
    body = _problem(
        client.post("/v1/plans", json={**PLAN, "code": "pkg-100"}, headers=admin),
        409,
        "conflict",
    )
    assert "pkg-100" in body["detail"]
    _problem(client.post("/v1/plans", json=PLAN, headers=world.auth("viewer")), 403, "forbidden")
    _problem(client.patch("/v1/plans/pkg-100", headers=admin), 405, "method-not-allowed")


def test_r8_primary_of_a_seat_is_refused_with_409(client: TestClient, world: World) -> None:
    response = client.put(
        "/v1/accounts/acme/seats/acme-seat/primary",
        json={"name": "Someone Else", "email": "else@acme.test"},
        headers=world.auth("admin"),
    )
    body = _problem(response, 409, "conflict")
    assert "fixed" in body["detail"]


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/v1/invoices?cursor=%%%", "cursor"),
        ("/v1/invoices?cursor=Im5vdCBhbiBpbnQi", "cursor"),
        ("/v1/invoices?limit=0", "limit"),
        ("/v1/invoices?limit=abc", "limit"),
        ("/v1/invoices?status=lost", "status"),
        ("/v1/subscriptions/not-a-number", "subscription_id"),
        ("/v1/subscriptions/99999999999999999999999", "subscription_id"),
        ("/v1/accounts/acme/usage?as_of=2026-01-15T00:00:00", "as_of"),
        ("/v1/accounts/acme/call-report?period=-1", "period"),
    ],
)
def test_bad_query_and_path_values_are_422_with_the_field(
    client: TestClient, world: World, path: str, field: str
) -> None:
    body = _problem(client.get(path, headers=world.auth("admin")), 422, "invalid-input")
    assert field in {error["field"] for error in body["errors"]}


@pytest.mark.parametrize(
    "payload",
    [
        [],
        "text",
        None,
        {"code": ["list"]},
        {"code": "x" * 5000, "billing_email": "b@x.test"},
        {"code": "x", "billing_email": "no-at-sign"},
        {"code": "x", "billing_email": "b@x.test", "currency": "ZZZ"},
        {"code": "x", "billing_email": "b@x.test", "time_zone": "Mars/Olympus"},
        {"code": "x", "billing_email": "b@x.test", "unexpected": 1},
        {"code": "\u0000", "billing_email": "b@x.test"},
    ],
)
def test_bad_bodies_never_give_a_500(client: TestClient, world: World, payload: object) -> None:
    response = client.post("/v1/accounts", json=payload, headers=world.auth("admin"))
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"] == "application/problem+json"


def test_instants_are_rfc3339_with_offset_and_naive_ones_refused(
    client: TestClient, world: World
) -> None:
    admin = world.auth("admin")
    naive = {"account": "acme", "plan": "pkg-100", "start": "2026-03-01T00:00:00"}
    body = _problem(
        client.post("/v1/subscriptions", json=naive, headers=admin), 422, "invalid-input"
    )
    assert body["errors"][0]["field"] == "start"
    subscription = client.get(f"/v1/subscriptions/{world.subscriptions['acme']}", headers=admin)
    assert subscription.json()["current_period"]["start"] == "2026-01-01T00:00:00Z"


@pytest.mark.parametrize(
    "path", ["/v1/accounts/%00", "/v1/plans?cursor=%00", "/v1/accounts/acme/seats/a%00b"]
)
def test_nul_in_path_or_query_is_422_on_both_databases(
    client: TestClient, world: World, path: str
) -> None:
    _problem(client.get(path, headers=world.auth("admin")), 422, "invalid-input")
