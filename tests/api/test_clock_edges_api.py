"""Cancellation and seat instants over the API: bounded by the clock, recorded with the key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from tests.api.conftest import World


def test_cancel_at_an_instant_says_when_it_ends_and_who_cancelled(
    client: TestClient, world: World
) -> None:
    sub = world.subscriptions["acme"]
    response = client.post(
        f"/v1/subscriptions/{sub}/cancel",
        json={"at": "2026-03-10T00:00:00Z"},
        headers=world.auth("billing"),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["cancel_requested_at"] == "2026-03-10T00:00:00Z"
    assert body["cancel_requested_by"] == "billing (API key 2)"  # the key's name and id
    # Billing never ran: the periods before the one cancelled still renew.
    assert body["ends_at"] == "2026-04-01T00:00:00Z"
    assert body["renewals_before_end"] == ["2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z"]


def test_cancel_more_than_a_day_ahead_of_the_clock_is_refused(
    client: TestClient, world: World
) -> None:
    ahead = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    sub = world.subscriptions["acme"]
    response = client.post(
        f"/v1/subscriptions/{sub}/cancel", json={"at": ahead}, headers=world.auth("admin")
    )
    assert response.status_code == 422, response.text
    error = response.json()["errors"][0]
    assert error["field"] == "at" and "more than a day ahead of the clock" in error["reason"]
    current = client.get(f"/v1/subscriptions/{sub}", headers=world.auth("admin")).json()
    assert current["cancel_at_period_end"] is False and current["ends_at"] is None


def test_seat_created_at_an_instant_records_the_key(client: TestClient, world: World) -> None:
    response = client.post(
        "/v1/accounts/acme/seats",
        json={
            "code": "s2",
            "primary": {"name": "Ana Lee", "email": "ana@acme.test"},
            "at": "2026-02-03T10:00:00Z",
        },
        headers=world.auth("billing"),
    )
    assert response.status_code == 201, response.text
    seat = response.json()["seat"]
    assert seat["created_at"] == "2026-02-03T10:00:00Z"
    assert seat["created_by"] == "billing (API key 2)"
    invoice = client.get(
        f"/v1/invoices/{response.json()['fee_invoice']}", headers=world.auth("billing")
    ).json()
    assert invoice["issued_at"] == "2026-02-03T10:00:00Z"

    ahead = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    refused = client.post(
        "/v1/accounts/acme/seats",
        json={"code": "s3", "primary": {"name": "Bo", "email": "bo@acme.test"}, "at": ahead},
        headers=world.auth("billing"),
    )
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "at"
