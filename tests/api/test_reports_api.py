"""Call-report filters and search, staff decisions (R16), invoice explain, plan advice and
plan changes (R7) over the API, on the services' own figures."""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi.testclient import TestClient

from tests.api.conftest import World

REPORT = "/v1/accounts/acme/call-report?as_of=2026-01-15T00:00:00Z"


def _events(*events: dict[str, Any]) -> dict[str, Any]:
    base = {"account": "acme", "seat": "acme-seat"}
    return {"events": [{**base, **event} for event in events]}


def _send(client: TestClient, world: World, body: dict[str, Any]) -> None:
    response = client.post("/v1/lead-events", json=body, headers=world.auth("ingest"))
    assert response.json()["totals"]["rejected"] == 0, response.text


def _leads(client: TestClient, world: World, query: str, role: str = "customer") -> list[str]:
    response = client.get(f"{REPORT}&{query}", headers=world.auth(role))
    assert response.status_code == 200, response.text
    return [row["lead_id"] for row in response.json()["data"]]


def _three_leads(client: TestClient, world: World) -> None:
    _send(
        client,
        world,
        _events(
            {
                "idempotency_key": "a1",
                "lead_id": "L1",
                "event_type": "received",
                "occurred_at": "2026-01-05T10:00:00Z",
                "phone": "(303) 555-0100",
                "email": "Ann@Mail.Example",
            },
            {
                "idempotency_key": "a2",
                "lead_id": "L1",
                "event_type": "call_attempted",
                "occurred_at": "2026-01-05T10:05:00Z",
            },
            {
                "idempotency_key": "b1",
                "lead_id": "L2",
                "event_type": "received",
                "occurred_at": "2026-01-06T10:00:00Z",
                "phone": "+1 720 555 0199",
            },
            {
                "idempotency_key": "c1",
                "lead_id": "L3",
                "event_type": "received",
                "occurred_at": "2026-01-07T10:00:00Z",
                "email": "cy@mail.example",
            },
        ),
    )


def test_r9_call_report_filters_and_search(client: TestClient, world: World) -> None:
    _three_leads(client, world)
    assert _leads(client, world, "phone=303-555-0100") == ["L1"]
    assert _leads(client, world, "phone=%2B13035550100") == ["L1"]
    assert _leads(client, world, "email=ANN@mail.example") == ["L1"]
    assert _leads(client, world, "counted=true") == ["L1"]
    assert _leads(client, world, "counted=false") == ["L2", "L3"]
    assert _leads(client, world, "reason=never_called") == ["L2", "L3"]
    assert _leads(client, world, "reason=called&seat=acme-seat") == ["L1"]
    assert _leads(client, world, "counted=false&email=ann@mail.example") == []
    # Filtered pages follow the cursor like any other.
    first = client.get(f"{REPORT}&counted=false&limit=1", headers=world.auth("viewer")).json()
    assert [r["lead_id"] for r in first["data"]] == ["L2"]
    cursor = first["page"]["next_cursor"]
    second = client.get(
        f"{REPORT}&counted=false&limit=1&cursor={cursor}", headers=world.auth("viewer")
    )
    assert [r["lead_id"] for r in second.json()["data"]] == ["L3"]
    for query, field in (("seat=nope", "seat"), ("reason=bogus", "reason")):
        response = client.get(f"{REPORT}&{query}", headers=world.auth("admin"))
        assert response.status_code == 422 and response.json()["errors"][0]["field"] == field


def test_r16_staff_decision_marks_leads_non_billable(client: TestClient, world: World) -> None:
    _three_leads(client, world)
    url = "/v1/accounts/acme/lead-decisions"
    decided = client.post(
        url,
        json={"lead_ids": ["L2", "L3"], "reason": "wrong_number"},
        headers=world.auth("reviewer"),
    )
    assert decided.status_code == 200, decided.text
    assert decided.json()["decided"] == 2
    history = client.get("/v1/accounts/acme/leads/L2/decisions", headers=world.auth("viewer"))
    assert [d["reason"] for d in history.json()["data"]] == ["wrong_number"]
    assert "API key" in history.json()["data"][0]["decided_by"]
    unknown = client.post(
        url, json={"lead_ids": ["L2", "L9"], "reason": "wrong_number"}, headers=world.auth("admin")
    )
    assert unknown.status_code == 404 and "L9" in unknown.json()["detail"]
    bad = client.post(url, json={"lead_ids": ["L2"], "reason": "meh"}, headers=world.auth("admin"))
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "reason"
    billed = client.post(
        "/v1/billing-runs", json={"as_of": "2026-02-01T00:00:00Z"}, headers=world.auth("billing")
    )
    assert billed.status_code == 200
    late = client.post(
        url, json={"lead_ids": ["L1"], "reason": "wrong_number"}, headers=world.auth("admin")
    )
    assert late.status_code == 409 and "already invoiced" in late.json()["detail"]


def test_r4_invoice_explain_names_the_overage_leads(client: TestClient, world: World) -> None:
    events = []
    for n in range(102):
        lead = f"L{n:03d}"
        day = 2 + n % 25
        events.append(
            {
                "idempotency_key": f"r{n}",
                "lead_id": lead,
                "event_type": "received",
                "occurred_at": f"2026-01-{day:02d}T09:00:00Z",
            }
        )
        events.append(
            {
                "idempotency_key": f"c{n}",
                "lead_id": lead,
                "event_type": "call_answered",
                "occurred_at": f"2026-01-{day:02d}T10:{n % 60:02d}:00Z",
            }
        )
    _send(client, world, _events(*events))
    run = client.post(
        "/v1/billing-runs", json={"as_of": "2026-02-01T00:00:00Z"}, headers=world.auth("admin")
    ).json()
    invoices = client.get("/v1/invoices?account=acme", headers=world.auth("customer")).json()
    number = next(i["number"] for i in invoices["data"] if i["number"] in run["invoice_numbers"])
    explained = client.get(f"/v1/invoices/{number}/explain", headers=world.auth("customer"))
    assert explained.status_code == 200, explained.text
    overage = next(line for line in explained.json()["lines"] if line["kind"] == "overage")
    assert overage["has_leads"] and overage["quantity"] == 2
    assert overage["counted_leads"] == 102 and overage["within_allowance"] == 100
    assert overage["amount"] == {"amount": "20.00", "currency": "USD"}
    leads = client.get(
        f"/v1/invoices/{number}/lines/{overage['position']}/leads?limit=1000",
        headers=world.auth("customer"),
    ).json()
    assert len(leads["data"]) == 102
    # The last two leads in counting order (day 26: n = 24, 49, 74, 99 -> latest minutes).
    assert sorted(lead["lead_id"] for lead in leads["data"] if lead["overage"]) == ["L049", "L099"]
    fee = next(line for line in explained.json()["lines"] if line["kind"] != "overage")
    assert fee["has_leads"] is False and fee["explanation"]
    none = client.get(f"/v1/invoices/{number}/lines/99/leads", headers=world.auth("admin"))
    assert none.status_code == 404

    advice = client.get(
        "/v1/accounts/acme/plan-advice?as_of=2026-02-02T00:00:00Z&periods=1",
        headers=world.auth("customer"),
    )
    assert advice.status_code == 200, advice.text
    body = advice.json()
    assert body["current"]["plan"] == "pkg-100"
    assert body["current"]["total"] == {"amount": "1020.00", "currency": "USD"}
    assert body["reasoning"]


def test_r7_change_plan_upgrade_now_or_at_period_end(client: TestClient, world: World) -> None:
    admin = world.auth("admin")
    plan = {
        "code": "pkg-150",
        "currency": "USD",
        "interval": "month",
        "fee": "1400.00",
        "included_leads": 150,
        "per_lead_rate": "9.50",
        "ladder": "pkg",
    }
    assert client.post("/v1/plans", json=plan, headers=admin).status_code == 201
    url = f"/v1/subscriptions/{world.subscriptions['acme']}/change-plan"
    later = client.post(
        url,
        json={"plan": "pkg-150", "timing": "period_end", "at": "2026-01-10T00:00:00Z"},
        headers=admin,
    )
    assert later.status_code == 200, later.text
    assert later.json()["immediate"] is False and later.json()["invoice"] is None
    assert later.json()["subscription"]["scheduled_plan"] == "pkg-150"

    other = world.subscriptions["other"]
    now = client.post(
        f"/v1/subscriptions/{other}/change-plan",
        json={"plan": "pkg-150", "at": "2026-01-16T12:00:00Z"},
        headers=world.auth("billing"),
    )
    assert now.status_code == 200, now.text
    change = now.json()
    assert change["immediate"] is True and change["subscription"]["plan"] == "pkg-150"
    # (1400 - 1000) x 15.5/31 of January = 200.00
    assert change["invoice"]["total"] == {"amount": "200.00", "currency": "USD"}
    off_ladder = client.post(url, json={"plan": "nope"}, headers=admin)
    assert off_ladder.status_code == 404


def test_ledger_export_is_csv_of_the_invoices(client: TestClient, world: World) -> None:
    response = client.get(
        "/v1/exports/ledger?from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z",
        headers=world.auth("billing"),
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(response.text)))
    # Each account's first fee (1000.00) and seat fee (57.00), no tax: no entity is set up.
    assert sorted((row["account"], row["gross"]) for row in rows) == [
        ("acme", "1000.00"),
        ("acme", "57.00"),
        ("other", "1000.00"),
        ("other", "57.00"),
    ]
    naive = client.get(
        "/v1/exports/ledger?from=2026-01-01T00:00:00&to=2026-02-01T00:00:00Z",
        headers=world.auth("billing"),
    )
    assert naive.status_code == 422
    assert naive.json()["errors"][0]["field"] == "from"
