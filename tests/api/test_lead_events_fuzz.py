"""POST /v1/lead-events under generated bad input: the cases of strict JSON, bounded
values and reused keys, added to the fuzz set.

Each example sends a batch mixing good events with wrongly typed values (booleans,
numeric strings, floats, lists), unknown fields, instants from year 1 to 9999, call
durations past a day and keys re-sent with other content. Whatever the batch, the
answer is 200 with one result per event, every rejection names a field of that
event, nothing rejected or conflicting is stored, and what is stored is what was
accepted: exactly, with its integer duration and an instant inside the window.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from leadbill.leads.models import LeadEvent
from tests.api.conftest import World

_keys = itertools.count()

WRONG_TYPES = st.one_of(
    st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: f != int(f)),
    st.integers(min_value=0, max_value=10**6).map(str),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=1),
)
YEARS = st.integers(min_value=1, max_value=9999)


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    """One event: valid, or with one thing wrong (type, field, instant, duration)."""
    number = next(_keys)
    event: dict[str, Any] = {
        "idempotency_key": f"fuzz-{number}",
        "account": "acme",
        "lead_id": f"F{number % 7}",
        "event_type": "call_answered",
        "call_result": "answered",
        "occurred_at": "2026-01-05T10:00:00Z",
        "duration_seconds": draw(st.integers(min_value=0, max_value=86_400)),
        "seat": "acme-seat",
    }
    change = draw(st.sampled_from(["none", "type", "unknown", "year", "duration", "text"]))
    if change == "type":
        name = draw(st.sampled_from(["duration_seconds", "lead_id", "phone", "occurred_at"]))
        event[name] = draw(WRONG_TYPES)
    elif change == "unknown":
        event[draw(st.sampled_from(["colour", "durations", "Account", "extra"]))] = "x"
    elif change == "year":
        event["occurred_at"] = f"{draw(YEARS):04d}-06-01T12:00:00Z"
    elif change == "duration":
        event["duration_seconds"] = draw(
            st.one_of(st.integers(max_value=-1), st.integers(min_value=86_401, max_value=10**20))
        )
    elif change == "text":
        event["name"] = draw(st.text(min_size=201, max_size=260))
    return event


def _stored(sessions: sessionmaker[Session]) -> dict[str, tuple[int | None, datetime]]:
    with sessions() as session:
        rows = session.execute(
            select(LeadEvent.idempotency_key, LeadEvent.duration_seconds, LeadEvent.occurred_at)
        )
        return {key: (duration, at) for key, duration, at in rows}


@given(
    batch=st.lists(events(), min_size=1, max_size=8),
    resend=st.booleans(),
)
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_a_fuzzed_batch_is_answered_event_by_event_and_stores_only_what_it_accepts(
    client: TestClient,
    world: World,
    sessions: sessionmaker[Session],
    batch: list[dict[str, Any]],
    resend: bool,
) -> None:
    if resend:  # the first event again under its key, with other content: a conflict
        batch.append({**batch[0], "lead_id": "changed"})
    before = _stored(sessions)
    response = client.post("/v1/lead-events", json={"events": batch}, headers=world.auth("ingest"))
    assert response.status_code == 200, response.text
    body = response.json()
    results = body["results"]
    assert [r["index"] for r in results] == list(range(len(batch)))
    totals = body["totals"]
    assert totals["received"] == len(batch)
    assert sum(totals[s] for s in ("accepted", "duplicate", "conflict", "rejected")) == len(batch)
    stored = _stored(sessions)
    new = {key: value for key, value in stored.items() if key not in before}
    accepted = [batch[r["index"]] for r in results if r["status"] == "accepted"]
    assert sorted(new) == sorted(event["idempotency_key"] for event in accepted)
    now = datetime.now(UTC)
    for event in accepted:
        duration, at = new[event["idempotency_key"]]
        assert type(event["duration_seconds"]) is int and duration == event["duration_seconds"]
        assert 0 <= duration <= 86_400
        assert at <= now + timedelta(days=1)
        assert set(event) <= {
            "idempotency_key",
            "account",
            "lead_id",
            "event_type",
            "call_result",
            "occurred_at",
            "duration_seconds",
            "seat",
        }
    for result in results:
        event = batch[result["index"]]
        if result["status"] == "rejected":
            assert result["field"] in event, result  # the field named is the event's own
            assert result["reason"]
        if result["status"] == "conflict":
            assert result["fields"], result
    if resend and results[0]["status"] == "accepted":
        assert results[-1]["status"] == "conflict"
        assert results[-1]["fields"] == ["lead_id"]
