"""An Idempotency-Key on a mutating request makes a retry return the first response."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from leadbill.accounts.models import Account
from leadbill.billing.models import Payment
from tests.api.conftest import World

ACCOUNT = {"code": "newco", "billing_email": "b@newco.test"}


def _count(sessions: sessionmaker[Session], table: type) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def test_retry_returns_the_first_response_and_creates_once(
    client: TestClient, world: World, sessions: sessionmaker[Session]
) -> None:
    headers = {**world.auth("admin"), "Idempotency-Key": "create-newco-1"}
    first = client.post("/v1/accounts", json=ACCOUNT, headers=headers)
    again = client.post("/v1/accounts", json=ACCOUNT, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert _count(sessions, Account) == 3
    # Without the key the same request is a new one, refused as a duplicate account.
    plain = client.post("/v1/accounts", json=ACCOUNT, headers=world.auth("admin"))
    assert plain.status_code == 409


def test_payment_retry_records_one_payment(
    client: TestClient, world: World, sessions: sessionmaker[Session]
) -> None:
    headers = {**world.auth("billing"), "Idempotency-Key": "pay-1"}
    path = f"/v1/invoices/{world.invoices['acme']}/payments"
    body = {"amount": "250.00", "currency": "USD", "reference": "wire-7"}
    responses = [client.post(path, json=body, headers=headers) for _ in range(3)]
    assert {r.status_code for r in responses} == {201}
    assert responses[0].json()["balance_due"] == {"amount": "750.00", "currency": "USD"}
    assert responses[2].json() == responses[0].json()
    assert _count(sessions, Payment) == 1


def test_same_key_for_another_request_is_refused(client: TestClient, world: World) -> None:
    headers = {**world.auth("admin"), "Idempotency-Key": "k"}
    assert client.post("/v1/accounts", json=ACCOUNT, headers=headers).status_code == 201
    other = {**ACCOUNT, "code": "newco2"}
    response = client.post("/v1/accounts", json=other, headers=headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "Idempotency-Key"


def test_keys_are_per_caller_and_errors_are_not_stored(
    client: TestClient, world: World, sessions: sessionmaker[Session]
) -> None:
    viewer = {**world.auth("viewer"), "Idempotency-Key": "same"}
    assert client.post("/v1/accounts", json=ACCOUNT, headers=viewer).status_code == 403
    admin = {**world.auth("admin"), "Idempotency-Key": "same"}
    assert client.post("/v1/accounts", json=ACCOUNT, headers=admin).status_code == 201
    # The viewer's refused request was not stored: its retry is refused again, not replayed.
    assert client.post("/v1/accounts", json=ACCOUNT, headers=viewer).status_code == 403
    assert _count(sessions, Account) == 3


def test_lead_event_batch_retry_is_replayed(client: TestClient, world: World) -> None:
    headers = {**world.auth("ingest"), "Idempotency-Key": "batch-1"}
    event = {
        "idempotency_key": "e1",
        "account": "acme",
        "lead_id": "L1",
        "event_type": "received",
        "occurred_at": "2026-01-05T10:00:00Z",
    }
    first = client.post("/v1/lead-events", json={"events": [event]}, headers=headers)
    again = client.post("/v1/lead-events", json={"events": [event]}, headers=headers)
    assert first.json()["totals"]["accepted"] == 1
    assert again.json() == first.json()  # accepted again, as the first time, not "duplicate"
