"""POST /v1/lead-events: per-event results, totals, the 10,000 limit, nothing stored on refusal."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from leadbill.leads.models import Lead, LeadEvent
from tests.api.conftest import World


def _event(index: int, **changes: Any) -> dict[str, Any]:
    event = {
        "idempotency_key": f"evt-{index}",
        "account": "acme",
        "lead_id": f"L{index}",
        "event_type": "received",
        "occurred_at": "2026-01-05T10:00:00Z",
        "seat": "acme-seat",
    }
    event.update(changes)
    return event


def _stored(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(LeadEvent)) or 0)


def test_per_event_results_accepted_duplicate_rejected(
    client: TestClient, world: World, sessions: sessionmaker[Session]
) -> None:
    headers = world.auth("ingest")
    first = client.post("/v1/lead-events", json={"events": [_event(1)]}, headers=headers)
    assert first.status_code == 200
    batch = [
        _event(1),  # sent before: duplicate
        _event(2),
        _event(3, occurred_at="2026-01-05 10:00"),  # no offset
        _event(4, account="ghost"),
        _event(5, event_type="teleported"),
        _event(6, duration_seconds=30, event_type="call_attempted", call_result="answered"),
    ]
    response = client.post("/v1/lead-events", json={"events": batch}, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    totals = {"received": 6, "accepted": 2, "duplicate": 1, "conflict": 0, "rejected": 3}
    assert body["totals"] == totals
    statuses = [(r["index"], r["status"], r["field"]) for r in body["results"]]
    assert statuses == [
        (0, "duplicate", statuses[0][2]),
        (1, "accepted", None),
        (2, "rejected", "occurred_at"),
        (3, "rejected", "account"),
        (4, "rejected", "event_type"),
        (5, "accepted", None),
    ]
    assert all(r["reason"] for r in body["results"] if r["status"] == "rejected")
    assert body["results"][0]["idempotency_key"] == "evt-1"
    assert _stored(sessions) == 3


def test_ten_thousand_events_are_taken_in_one_request(
    client: TestClient, world: World, sessions: sessionmaker[Session]
) -> None:
    events = [_event(i) for i in range(10_000)]
    response = client.post("/v1/lead-events", json={"events": events}, headers=world.auth("ingest"))
    assert response.status_code == 200, response.text
    assert response.json()["totals"]["accepted"] == 10_000
    assert _stored(sessions) == 10_000


def test_over_ten_thousand_is_413_and_nothing_is_stored(
    client: TestClient, world: World, sessions: sessionmaker[Session]
) -> None:
    events = [_event(i) for i in range(10_001)]
    response = client.post("/v1/lead-events", json={"events": events}, headers=world.auth("ingest"))
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "https://leadbill.dev/problems/batch-too-large"
    assert "10,000" in problem["detail"]
    assert _stored(sessions) == 0


def test_malformed_or_wrongly_typed_batch_stores_nothing(
    client: TestClient, world: World, sessions: sessionmaker[Session]
) -> None:
    headers = world.auth("ingest")
    text = json.dumps({"events": [_event(1)]})
    cut = client.post(
        "/v1/lead-events",
        content=text[:-2].encode(),
        headers={**headers, "Content-Type": "application/json"},
    )
    assert cut.status_code == 400
    csv = client.post(
        "/v1/lead-events", content=text.encode(), headers={**headers, "Content-Type": "text/csv"}
    )
    assert csv.status_code == 415
    listed = client.post("/v1/lead-events", json=[_event(1)], headers=headers)
    assert listed.status_code == 422
    assert _stored(sessions) == 0


def _results(response: Any) -> list[tuple[str, str | None, str | None]]:
    assert response.status_code == 200, response.text
    return [(r["status"], r["field"], r["reason"]) for r in response.json()["results"]]


def test_strict_types_reject_the_event_naming_the_field_and_keep_the_others(
    client: TestClient, world: World, sessions: sessionmaker[Session]
) -> None:
    call = {"event_type": "call_answered", "call_result": "answered"}
    number = "must be a whole number given as a JSON number (not a string or a boolean)"
    batch = [
        _event(1, duration_seconds=True, **call),
        _event(2, duration_seconds="60", **call),
        _event(3, duration_seconds=60.5, **call),
        _event(4, phone=["x"]),
        _event(5, lead_id=1005),
        _event(6, duration_seconds=60, **call),
    ]
    response = client.post("/v1/lead-events", json={"events": batch}, headers=world.auth("ingest"))
    assert _results(response) == [
        ("rejected", "duration_seconds", number),
        ("rejected", "duration_seconds", number),
        ("rejected", "duration_seconds", number),
        ("rejected", "phone", "must be a JSON string"),
        ("rejected", "lead_id", "must be a JSON string"),
        ("accepted", None, None),
    ]
    body = response.json()
    assert body["totals"] == {
        "received": 6,
        "accepted": 1,
        "duplicate": 0,
        "conflict": 0,
        "rejected": 5,
    }
    assert [r["idempotency_key"] for r in body["results"]][:2] == ["evt-1", "evt-2"]
    with sessions() as session:
        stored = session.scalars(select(LeadEvent.duration_seconds)).all()
    assert stored == [60]


def test_an_unknown_field_rejects_its_event_naming_the_field(
    client: TestClient, world: World, sessions: sessionmaker[Session]
) -> None:
    batch = [_event(1, durationSeconds=30), _event(2), "not an object"]
    response = client.post("/v1/lead-events", json={"events": batch}, headers=world.auth("ingest"))
    assert _results(response) == [
        (
            "rejected",
            "durationSeconds",
            "is not a field of a lead event (docs/csv-format.md lists them)",
        ),
        ("accepted", None, None),
        ("rejected", "event", "must be a JSON object"),
    ]
    assert response.json()["results"][2]["idempotency_key"] is None
    assert _stored(sessions) == 1


def test_out_of_range_durations_and_long_texts_reject_the_event(
    client: TestClient, world: World, sessions: sessionmaker[Session]
) -> None:
    call = {"event_type": "call_answered", "call_result": "answered"}
    batch = [
        _event(1, duration_seconds=-1, **call),
        _event(2, duration_seconds=86_401, **call),
        _event(3, duration_seconds=10**20, **call),
        _event(4, name="x" * 201),
        _event(5, duration_seconds=86_400, name="x" * 200, **call),
    ]
    response = client.post("/v1/lead-events", json={"events": batch}, headers=world.auth("ingest"))
    assert _results(response) == [
        ("rejected", "duration_seconds", "must be at least 0"),
        ("rejected", "duration_seconds", "must be at most 86,400"),
        ("rejected", "duration_seconds", "must be at most 86,400"),
        ("rejected", "name", "longer than 200 characters"),
        ("accepted", None, None),
    ]
    assert _stored(sessions) == 1


def test_nul_in_an_event_is_422_naming_the_field_and_nothing_is_stored(
    client: TestClient, world: World, sessions: sessionmaker[Session]
) -> None:
    batch = {"events": [_event(1), _event(2, name="Ann\u0000Lee")]}
    response = client.post("/v1/lead-events", json=batch, headers=world.auth("ingest"))
    assert response.status_code == 422, response.text
    (error,) = response.json()["errors"]
    assert error["field"] == "events.1" and error["reason"].startswith("name must not contain NUL")
    assert _stored(sessions) == 0


def test_a_reused_key_with_other_content_is_a_conflict_naming_the_fields(
    client: TestClient, world: World, sessions: sessionmaker[Session]
) -> None:
    headers = world.auth("ingest")
    first = client.post("/v1/lead-events", json={"events": [_event(1)]}, headers=headers)
    assert first.status_code == 200
    batch = [
        _event(1, occurred_at="2026-01-05T11:00:00+01:00"),  # the same instant: duplicate
        _event(1, occurred_at="2026-01-05T10:30:00Z", detail="late"),  # a correction
        _event(2, event_type="call_attempted", duration_seconds=5),
        _event(2, event_type="call_attempted", duration_seconds=7),  # repeats index 2
    ]
    response = client.post("/v1/lead-events", json={"events": batch}, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["totals"] == {
        "received": 4,
        "accepted": 1,
        "duplicate": 1,
        "conflict": 2,
        "rejected": 0,
    }
    assert [(r["status"], r["fields"], r["reason"]) for r in body["results"]] == [
        ("duplicate", None, "already received"),
        (
            "conflict",
            ["occurred_at", "detail"],
            # Compared with the batch's first event of the key (index 0, as stored).
            "repeats line 0 with a different occurred_at, detail: this row is not stored",
        ),
        ("accepted", None, None),
        (
            "conflict",
            ["duration_seconds"],
            "repeats line 2 with a different duration_seconds: this row is not stored",
        ),
    ]
    assert _stored(sessions) == 2


class _Deadlock(Exception):
    sqlstate = "40P01"


def test_a_batch_that_lost_a_race_is_run_again_then_503(
    client: TestClient, world: World, sessions: sessionmaker[Session], monkeypatch: Any
) -> None:
    from sqlalchemy.exc import OperationalError

    from leadbill.leads import endpoints

    real = endpoints.ingest_events
    calls: list[int] = []

    def deadlocks(times: int) -> Any:
        def ingest(*args: Any, **kwargs: Any) -> Any:
            calls.append(1)
            if len(calls) <= times:
                raise OperationalError("INSERT ...", {}, _Deadlock("deadlock detected"))
            return real(*args, **kwargs)

        return ingest

    headers = world.auth("ingest")
    monkeypatch.setattr(endpoints, "ingest_events", deadlocks(2))
    response = client.post("/v1/lead-events", json={"events": [_event(1)]}, headers=headers)
    assert response.status_code == 200 and len(calls) == 3
    assert response.json()["totals"]["accepted"] == 1

    calls.clear()
    monkeypatch.setattr(endpoints, "ingest_events", deadlocks(3))
    busy = client.post("/v1/lead-events", json={"events": [_event(2)]}, headers=headers)
    assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
    assert busy.json()["type"] == "https://leadbill.dev/problems/busy"
    assert _stored(sessions) == 1


def test_an_event_takes_every_column_of_the_csv_format(
    client: TestClient, world: World, sessions: sessionmaker[Session]
) -> None:
    from leadbill.leads.csv_format import COLUMNS

    event = _event(
        1,
        category="plumbing",
        campaign="spring",
        company="Acme Plumbing",
        company_domain="acme-plumbing.com",
    )
    assert set(COLUMNS) - set(event) <= {
        "name",
        "phone",
        "email",
        "postal_code",
        "source",
        "call_result",
        "duration_seconds",
        "detail",
    }
    response = client.post(
        "/v1/lead-events", json={"events": [event]}, headers=world.auth("ingest")
    )
    assert _results(response) == [("accepted", None, None)]
    with sessions() as session:
        lead = session.scalars(select(Lead).where(Lead.external_id == "L1")).one()
    assert (lead.category, lead.campaign, lead.company) == ("plumbing", "spring", "Acme Plumbing")
    properties = client.get("/openapi.json").json()["components"]["schemas"]["LeadEventIn"]
    assert set(properties["properties"]) == set(COLUMNS)
