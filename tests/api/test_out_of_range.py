"""Instants near the ends of the calendar and numbers past the driver's are refused with
422 naming the field, never a 500 (schemathesis rarely draws them, so they are listed)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.api.conftest import World

EARLY = "0001-01-01T00:00:00+01:00"  # before year 1 in UTC
LATE = "9999-12-31T23:59:59-01:00"  # after year 9999 in UTC
FAR = "2999-01-01T00:00:00Z"


def _cases(world: World) -> list[tuple[str, str, dict[str, Any] | None, str]]:
    sub = world.subscriptions["acme"]
    invoice = world.invoices["acme"]
    cases: list[tuple[str, str, dict[str, Any] | None, str]] = []
    for instant in (EARLY, LATE, FAR):
        query = instant.replace("+", "%2B")
        cases += [
            ("POST", "/v1/accounts/acme/campaigns/c/pauses", {"start": instant}, "start"),
            ("POST", "/v1/accounts/acme/campaigns/c/resume", {"at": instant}, "at"),
            (
                "POST",
                f"/v1/subscriptions/{sub}/change-plan",
                {"plan": "pkg-100", "at": instant},
                "at",
            ),
            ("POST", f"/v1/subscriptions/{sub}/licences", {"count": 1, "at": instant}, "at"),
            ("POST", "/v1/billing-runs", {"as_of": instant}, "as_of"),
            ("GET", f"/v1/accounts/acme/usage?as_of={query}", None, "as_of"),
            ("GET", f"/v1/accounts/acme/plan-advice?as_of={query}", None, "as_of"),
            ("GET", f"/v1/accounts/acme/call-report?as_of={query}", None, "as_of"),
            (
                "POST",
                "/v1/subscriptions",
                {"account": "acme", "plan": "pkg-100", "start": instant},
                "start",
            ),
            (
                "POST",
                f"/v1/invoices/{invoice}/payments",
                {"amount": "1.00", "currency": "USD", "reference": "r", "received_at": instant},
                "received_at",
            ),
        ]
    cases.append(("GET", "/v1/accounts/acme/call-report?period=100000", None, "period"))
    return cases


def test_out_of_range_instants_are_422_naming_the_field(client: TestClient, world: World) -> None:
    admin = world.auth("admin")
    assert (
        client.post("/v1/accounts/acme/campaigns", json={"code": "c"}, headers=admin).status_code
        == 201
    )
    for method, path, body, field in _cases(world):
        response = client.request(method, path, json=body, headers=admin)
        assert response.status_code == 422, (method, path, body, response.text)
        assert response.json()["errors"][0]["field"] == field, (path, response.text)


def test_huge_or_odd_invoice_numbers_are_404(client: TestClient, world: World) -> None:
    for number in ("99999999999999999999999", "%C2%B2"):
        response = client.get(f"/v1/invoices/{number}", headers=world.auth("admin"))
        assert response.status_code == 404, response.text


def test_lone_surrogates_in_json_are_422_and_nothing_is_stored(
    client: TestClient, world: World
) -> None:
    headers = {**world.auth("admin"), "Content-Type": "application/json"}
    event = (
        b'{"events": [{"idempotency_key": "\\ud800", "account": "acme", "lead_id": "L",'
        b' "event_type": "received", "occurred_at": "2026-01-05T10:00:00Z"}]}'
    )
    for path, body in (
        ("/v1/lead-events", event),
        ("/v1/accounts", b'{"code": "x\\ud800", "billing_email": "a@b.test"}'),
        ("/v1/accounts/acme/customers", b'{"customers": [{"phone": "\\udfff"}]}'),
        ("/v1/accounts/acme/block-list", b'{"kind": "email", "value": "\\ud800@x.test"}'),
    ):
        response = client.post(path, content=body, headers=headers)
        assert response.status_code == 422, (path, response.text)
    report = client.get("/v1/accounts/acme/call-report?as_of=2026-01-15T00:00:00Z", headers=headers)
    assert report.json()["data"] == []


def test_event_instants_out_of_the_window_reject_the_event_naming_occurred_at(
    client: TestClient, world: World
) -> None:
    def event(key: str, at: str) -> dict[str, Any]:
        return {"idempotency_key": key, "account": "acme", "lead_id": "L-window",
                "event_type": "call_attempted", "occurred_at": at}  # fmt: skip

    batch = [event(f"w{i}", at) for i, at in enumerate((EARLY, "1900-01-05T10:00:00Z", LATE, FAR))]
    batch.append(event("w-ok", "2026-01-05T10:00:00Z"))
    response = client.post("/v1/lead-events", json={"events": batch}, headers=world.auth("admin"))
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [(r["status"], r["field"]) for r in results] == [("rejected", "occurred_at")] * 4 + [
        ("accepted", None)
    ]
    assert "back-dated 366 days" in results[1]["reason"]
    assert "more than a day after the events were received" in results[3]["reason"]


def test_an_unknown_field_in_a_body_is_422_naming_it_and_nothing_is_stored(
    client: TestClient, world: World
) -> None:
    body = {"code": "newco", "billing_email": "b@newco.test", "colour": "red"}
    response = client.post("/v1/accounts", json=body, headers=world.auth("admin"))
    assert response.status_code == 422, response.text
    assert response.json()["errors"] == [
        {"field": "colour", "reason": "is not a known field of this request"}
    ]
    assert client.get("/v1/accounts/newco", headers=world.auth("admin")).status_code == 404


def test_seat_codes_and_review_texts_past_their_limits_are_422_naming_the_field(
    client: TestClient, world: World
) -> None:
    admin = world.auth("admin")
    seat = {"code": "west side", "primary": {"name": "Pat", "email": "pat@acme.test"}}
    response = client.post("/v1/accounts/acme/seats", json=seat, headers=admin)
    assert response.status_code == 422, response.text
    assert response.json()["errors"] == [
        {
            "field": "code",
            "reason": "'west side' is not a seat code: 1 to 64 letters, digits, '-' or '_'",
        }
    ]
    review = {"account": "acme", "lead_id": "L" * 129, "reason": "job_seeker",
              "explanation": "x" * 2001}  # fmt: skip
    response = client.post("/v1/reviews", json=review, headers=admin)
    assert response.status_code == 422, response.text
    assert {e["field"] for e in response.json()["errors"]} == {"lead_id", "explanation"}
