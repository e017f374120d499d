"""Cursor (keyset) pagination: opaque cursor, limit, next_cursor; every item once."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.api.conftest import World


def _walk(client: TestClient, path: str, headers: dict[str, str], key: str) -> list[Any]:
    seen: list[Any] = []
    cursor = None
    for _ in range(50):
        separator = "&" if "?" in path else "?"
        url = f"{path}{separator}limit=2" + (f"&cursor={cursor}" if cursor else "")
        response = client.get(url, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body["data"]) <= 2
        seen.extend(item[key] for item in body["data"])
        cursor = body["page"]["next_cursor"]
        if cursor is None:
            return seen
    raise AssertionError("pagination did not end")


def test_accounts_pages_by_code(client: TestClient, world: World) -> None:
    admin = world.auth("admin")
    for code in ("c", "a", "e", "b", "d"):
        body = {"code": f"z-{code}", "billing_email": f"b@{code}.test"}
        assert client.post("/v1/accounts", json=body, headers=admin).status_code == 201
    codes = _walk(client, "/v1/accounts", admin, "code")
    assert codes == ["acme", "other", "z-a", "z-b", "z-c", "z-d", "z-e"]


def test_invoices_page_oldest_first_without_gaps(client: TestClient, world: World) -> None:
    billing = world.auth("billing")
    run = client.post("/v1/billing-runs", json={"as_of": "2026-03-01T00:00:00Z"}, headers=billing)
    assert run.json()["invoices_issued"] == 4
    ids = _walk(client, "/v1/invoices", billing, "id")
    assert ids == sorted(ids) and len(ids) == len(set(ids)) == 8
    acme = _walk(client, "/v1/invoices?account=acme", world.auth("customer"), "id")
    assert len(acme) == 4


def test_call_report_pages_by_lead_id(client: TestClient, world: World) -> None:
    events = [
        {
            "idempotency_key": f"k{i}",
            "account": "acme",
            "lead_id": f"L{i}",
            "event_type": "call_answered",
            "occurred_at": "2026-01-05T10:00:00Z",
        }
        for i in range(5)
    ]
    sent = client.post("/v1/lead-events", json={"events": events}, headers=world.auth("ingest"))
    assert sent.json()["totals"]["accepted"] == 5
    path = "/v1/accounts/acme/call-report?as_of=2026-01-15T00:00:00Z"
    leads = _walk(client, path, world.auth("customer"), "lead_id")
    assert leads == ["L0", "L1", "L2", "L3", "L4"]
