"""Dunning over HTTP: the invoices in dunning (staff, and a customer's own only), the
schedule as an entity setting, and resuming a paused service."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from leadbill.dunning.service import run_dunning
from tests.integration.receivables_world import AS_OF, ReceivablesWorld, build_receivables_world

WHEN = "2026-07-01T03:00:00Z"


@pytest.fixture
def world(sessions: sessionmaker[Session]) -> ReceivablesWorld:
    """The invoices of receivables_world, dunned once at its AS_OF."""
    built = build_receivables_world(sessions)
    run_dunning(sessions, AS_OF)
    return built


def test_a_customer_sees_only_its_own_invoices_in_dunning(
    client: TestClient, world: ReceivablesWorld
) -> None:
    response = client.get(f"/v1/dunning?as_of={WHEN}", headers=world.auth("customer"))
    assert response.status_code == 200, response.text
    rows = {row["invoice"]: row for row in response.json()["data"]}
    n = world.numbers
    # acme is in New York, where it is still June 30: A2 is 14 days past June 16.
    assert set(rows) == {n["A2"], n["A3"], n["A4"]}
    a2 = rows[n["A2"]]
    assert a2["amount_due"] == {"amount": "300.00", "currency": "USD"}
    assert (a2["due_on"], a2["days_overdue"]) == ("2026-06-16", 14)
    # Long overdue when dunning started: only the latest step, then nothing more.
    assert (a2["reminders_sent"], a2["last_step"], a2["last_step_on"]) == (1, 14, "2026-06-30")
    assert (a2["next_step"], a2["next_on"], a2["next_action"]) == (None, None, None)
    a3 = rows[n["A3"]]
    assert (a3["last_step"], a3["next_step"], a3["next_on"]) == (0, 3, "2026-07-02")
    other = client.get("/v1/dunning?account=bolt", headers=world.auth("customer"))
    assert other.status_code == 404


def test_staff_page_through_every_account_in_dunning(
    client: TestClient, world: ReceivablesWorld
) -> None:
    seen: list[str] = []
    cursor = ""
    while True:
        response = client.get(
            f"/v1/dunning?as_of={WHEN}&limit=3{cursor}", headers=world.auth("billing")
        )
        assert response.status_code == 200, response.text
        body = response.json()
        seen += [row["invoice"] for row in body["data"]]
        if body["page"]["next_cursor"] is None:
            break
        cursor = f"&cursor={body['page']['next_cursor']}"
    n = world.numbers
    # Uncollectible (B3), void (F3), paid (A5), not yet due (A1, L3) are not in dunning.
    assert sorted(seen) == sorted(
        n[name] for name in ("A2", "A3", "A4", "B1", "B2", "B4", "F1", "F2", "L1", "L2")
    )
    viewer = client.get("/v1/dunning", headers=world.auth("viewer"))
    assert viewer.status_code == 403


def test_the_schedule_is_an_entity_setting_checked_at_the_edge(
    client: TestClient, world: ReceivablesWorld
) -> None:
    admin = world.auth("admin")
    shown = client.get("/v1/billing-entities/us", headers=admin).json()
    assert (shown["dunning_steps"], shown["dunning_action"]) == ([0, 3, 7, 14], "none")
    changed = client.patch(
        "/v1/billing-entities/us",
        json={"dunning_steps": [10, 1, 5], "dunning_action": "uncollectible"},
        headers=admin,
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["dunning_steps"], changed.json()["dunning_action"]) == (
        [1, 5, 10],
        "uncollectible",
    )
    repeated = client.patch(
        "/v1/billing-entities/us", json={"dunning_steps": [1, 1]}, headers=admin
    )
    assert repeated.status_code == 422
    assert repeated.headers["content-type"] == "application/problem+json"
    assert "dunning_steps" in repeated.text and "distinct" in repeated.text
    too_far = client.patch("/v1/billing-entities/us", json={"dunning_steps": [366]}, headers=admin)
    assert too_far.status_code == 422 and "dunning_steps" in too_far.text
    cleared = client.patch("/v1/billing-entities/us", json={"dunning_action": None}, headers=admin)
    assert cleared.status_code == 422 and "dunning_action" in cleared.text
    billing = client.patch(
        "/v1/billing-entities/us", json={"dunning_steps": [0]}, headers=world.auth("billing")
    )
    assert billing.status_code == 403
