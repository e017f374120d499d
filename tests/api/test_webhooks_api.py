"""Webhooks over HTTP: endpoints (admin), the delivery log and redelivery (admin, billing)."""

from __future__ import annotations

from typing import get_args

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from leadbill.webhooks.delivery import DeliveryPolicy, deliver_due
from leadbill.webhooks.events import EVENT_TYPES
from leadbill.webhooks.schemas import EventType
from tests.api.conftest import World
from tests.webhook_receiver import Receiver, running

POLICY = DeliveryPolicy(timeout=1, max_attempts=2, backoff_base=30, backoff_cap=60)


def _create(client: TestClient, world: World, url: str, **extra: object) -> dict[str, object]:
    body = {"url": url, "event_types": ["invoice.paid"], **extra}
    response = client.post("/v1/webhook-endpoints", json=body, headers=world.auth("admin"))
    assert response.status_code == 201, response.text
    created: dict[str, object] = response.json()
    return created


def test_register_list_read_and_remove_an_endpoint(client: TestClient, world: World) -> None:
    created = _create(
        client,
        world,
        "https://crm.example/hooks",
        event_types=["invoice.paid", "invoice.finalized", "invoice.paid"],
        account="acme",
        description="CRM",
    )
    secret = created.pop("secret")
    assert isinstance(secret, str) and secret.startswith("whsec_")
    assert created["event_types"] == ["invoice.finalized", "invoice.paid"]
    assert created["account"] == "acme" and created["removed_at"] is None
    endpoint_id = created["id"]
    listed = client.get("/v1/webhook-endpoints", headers=world.auth("billing")).json()
    assert listed["data"] == [created]
    assert secret not in str(listed)
    one = client.get(f"/v1/webhook-endpoints/{endpoint_id}", headers=world.auth("billing"))
    assert one.json() == created
    removed = client.delete(f"/v1/webhook-endpoints/{endpoint_id}", headers=world.auth("admin"))
    assert removed.status_code == 200 and removed.json()["removed_at"] is not None
    again = client.delete(f"/v1/webhook-endpoints/{endpoint_id}", headers=world.auth("admin"))
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert client.get("/v1/webhook-endpoints", headers=world.auth("admin")).json()["data"] == []
    with_removed = client.get("/v1/webhook-endpoints?removed=true", headers=world.auth("admin"))
    assert [e["id"] for e in with_removed.json()["data"]] == [endpoint_id]


def test_invalid_endpoints_are_problems_naming_the_field(client: TestClient, world: World) -> None:
    cases = [
        ({"url": "https://x.test/", "event_types": ["invoice.created"]}, "event_types.0"),
        ({"url": "https://x.test/", "event_types": []}, "event_types"),
        ({"url": "ftp://x.test/", "event_types": ["invoice.paid"]}, "url"),
        ({"url": "https://x.test/", "event_types": ["invoice.paid"], "secret": "x"}, "secret"),
    ]
    for body, field in cases:
        response = client.post("/v1/webhook-endpoints", json=body, headers=world.auth("admin"))
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert field in [e["field"] for e in response.json()["errors"]]
    unknown = client.post(
        "/v1/webhook-endpoints",
        json={"url": "https://x.test/", "event_types": ["invoice.paid"], "account": "ghost"},
        headers=world.auth("admin"),
    )
    assert unknown.status_code == 404
    missing = client.get("/v1/webhook-deliveries/999999", headers=world.auth("admin"))
    assert missing.status_code == 404
    bad_status = client.get("/v1/webhook-deliveries?status=lost", headers=world.auth("admin"))
    assert bad_status.status_code == 422


def test_a_payment_over_the_api_is_delivered_logged_and_redelivered(
    client: TestClient, world: World, sessions: sessionmaker[Session]
) -> None:
    with running(Receiver()) as receiver:
        created = _create(client, world, receiver.url)
        receiver.secret = str(created["secret"])
        paid = client.post(
            f"/v1/invoices/{world.invoices['acme']}/payments",
            json={"amount": "1000.00", "currency": "USD", "reference": "wire-1"},
            headers=world.auth("billing"),
        )
        assert paid.status_code == 201 and paid.json()["invoice_status"] == "paid"
        listed = client.get("/v1/webhook-deliveries", headers=world.auth("billing")).json()
        (pending,) = listed["data"]
        assert pending["status"] == "pending" and pending["event_type"] == "invoice.paid"
        assert pending["account"] == "acme" and pending["endpoint_id"] == created["id"]

        report = deliver_due(sessions, POLICY)
        assert report.delivered == 1
        (message,) = receiver.received
        assert message.signature_valid and message.message_id == pending["message_id"]
        assert message.json["data"]["number"] == world.invoices["acme"]

        path = f"/v1/webhook-deliveries/{pending['id']}"
        detail = client.get(path, headers=world.auth("admin")).json()
        assert detail["status"] == "delivered" and detail["next_attempt_at"] is None
        assert detail["delivered_at"].endswith("Z")
        assert detail["body"] == message.body.decode()
        (attempt,) = detail["attempt_log"]
        assert attempt["status_code"] == 200 and attempt["outcome"] == "delivered"

        redone = client.post(f"{path}/redeliver", headers=world.auth("billing"))
        assert redone.status_code == 200 and redone.json()["status"] == "pending"
        assert deliver_due(sessions, POLICY).delivered == 1
        assert [r.message_id for r in receiver.received] == [pending["message_id"]] * 2
        log = client.get(path, headers=world.auth("admin")).json()["attempt_log"]
        assert [a["number"] for a in log] == [1, 2]


def test_the_delivery_log_is_paged_newest_first_and_filtered(
    client: TestClient, world: World
) -> None:
    first = _create(client, world, "https://one.test/hooks", event_types=["invoice.finalized"])
    _create(client, world, "https://two.test/hooks", event_types=["invoice.finalized"])
    run = client.post(
        "/v1/billing-runs", json={"as_of": "2026-02-01T00:00:00Z"}, headers=world.auth("admin")
    )
    assert run.json()["invoices_issued"] == 2
    headers = world.auth("admin")
    seen, cursor = [], None
    while True:
        query = "/v1/webhook-deliveries?limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(query, headers=headers).json()
        seen.extend(d["id"] for d in page["data"])
        cursor = page["page"]["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 4 and seen == sorted(seen, reverse=True)
    only_first = client.get(f"/v1/webhook-deliveries?endpoint={first['id']}", headers=headers)
    assert len(only_first.json()["data"]) == 2
    other = client.get("/v1/webhook-deliveries?account=other&status=pending", headers=headers)
    assert [d["account"] for d in other.json()["data"]] == ["other", "other"]
    none = client.get("/v1/webhook-deliveries?event_type=invoice.paid", headers=headers)
    assert none.json()["data"] == []
    assert all(d["created_at"].endswith("Z") for d in only_first.json()["data"])


def test_the_api_offers_exactly_the_event_types_leadbill_sends() -> None:
    assert get_args(EventType) == EVENT_TYPES
