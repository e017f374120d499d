"""Lead-event ingestion: validation, idempotency, and leads that match the core (R2).

Every test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import random
from datetime import datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from leadbill.accounts.service import create_account
from leadbill.core.billability import CALL_EVENTS, EventType, LeadEvent, decide
from leadbill.core.plans import CountingPolicy
from leadbill.errors import InvalidInput
from leadbill.leads.models import Lead
from leadbill.leads.models import LeadEvent as StoredEvent
from leadbill.leads.service import IngestResult, RowStatus, ingest_events
from leadbill.plans.service import create_plan
from leadbill.seats.service import create_seat
from leadbill.subscriptions.service import create_subscription
from tests.conftest import utc

START = utc(2026, 1, 1)
AS_OF = utc(2026, 1, 20)


def _setup(session: Session) -> None:
    plan = create_plan(
        session,
        code="pkg-100",
        name="Package 100",
        currency="USD",
        interval="month",
        fee="1000.00",
        included_leads=100,
        per_lead_rate="10.00",
        seat_fee="57.00",
        as_of=START,
    )
    for code in ("acme", "beta"):
        account = create_account(
            session,
            code=code,
            name=code.title(),
            currency="USD",
            time_zone="UTC",
            billing_email=f"billing@{code}.test",
            as_of=START,
        )
        create_subscription(session, account=account, plan=plan, start=START)
        create_seat(
            session,
            account=account,
            code="north",
            primary_name="Nora",
            primary_email=f"nora@{code}.test",
            as_of=START,
        )


def _row(key: str, lead: str, event_type: str, at: str, **extra: str) -> dict[str, str]:
    return {
        "idempotency_key": key,
        "account": extra.pop("account", "acme"),
        "lead_id": lead,
        "event_type": event_type,
        "occurred_at": at,
        **extra,
    }


def _lead(session: Session, external_id: str, account: str = "acme") -> Lead:
    from leadbill.accounts.models import Account

    return session.scalars(
        select(Lead)
        .join(Account, Account.id == Lead.account_id)
        .where(Lead.external_id == external_id, Account.code == account)
    ).one()


def _count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


FILE = [
    _row("k1", "L1", "received", "2026-01-05T10:00:00Z", name="Ann Lee", seat="north"),
    _row("k2", "L1", "call_attempted", "2026-01-05T10:30:00Z", call_result="no_answer"),
    _row("k3", "L1", "call_answered", "2026-01-05T12:00:00+02:00", duration_seconds="120"),
    _row("k4", "L2", "received", "2026-01-06T09:00:00Z", phone="+13035550100"),
    _row("k5", "L3", "received", "2026-01-07T09:00:00Z", account="beta"),
]


def test_r2_ingest_counts_and_first_called_at(session: Session) -> None:
    _setup(session)
    result = ingest_events(session, FILE, as_of=AS_OF)
    assert (result.accepted, result.duplicate, result.rejected) == (5, 0, 0)
    assert result.outcomes == []
    lead = _lead(session, "L1")
    assert lead.name == "Ann Lee"
    assert lead.seat_id is not None
    assert lead.received_at == utc(2026, 1, 5, 10)
    # +02:00 is 10:00 UTC, earlier than the 10:30 attempt.
    assert lead.first_called_at == utc(2026, 1, 5, 10)
    assert _lead(session, "L2").first_called_at is None
    assert _lead(session, "L3", "beta").received_at == utc(2026, 1, 7, 9)
    assert _count(session, StoredEvent) == 5
    assert _count(session, Lead) == 3


def test_resending_the_file_changes_nothing(session: Session) -> None:
    _setup(session)
    ingest_events(session, FILE, as_of=AS_OF)
    before = _lead(session, "L1").first_called_at
    again = ingest_events(session, FILE, as_of=utc(2026, 1, 21))
    assert (again.accepted, again.duplicate, again.rejected) == (0, 5, 0)
    assert [o.line for o in again.duplicates] == [2, 3, 4, 5, 6]
    assert {o.reason for o in again.duplicates} == {"already received"}
    assert _count(session, StoredEvent) == 5
    assert _count(session, Lead) == 3
    session.expire_all()
    assert _lead(session, "L1").first_called_at == before == utc(2026, 1, 5, 10)


def test_same_key_twice_in_a_batch_first_accepted_a_changed_repeat_is_a_conflict(
    session: Session,
) -> None:
    _setup(session)
    rows = [
        _row("k1", "L1", "call_attempted", "2026-01-05T10:00:00Z", name="Ann"),
        _row("k1", "L1", "call_attempted", "2026-01-04T10:00:00Z"),
        # The same instant in another offset, another lead detail: a plain retry.
        _row("k1", "L1", "call_attempted", "2026-01-05T11:00:00+01:00", name="Bob"),
        _row("k1", "L2", "call_answered", "2026-01-05T10:00:00Z", detail="booked"),
    ]
    result = ingest_events(session, rows, as_of=AS_OF)
    assert (result.accepted, result.duplicate, result.conflict) == (1, 1, 2)
    assert [(o.line, o.status, o.field, o.reason, o.differing) for o in result.outcomes] == [
        (
            3,
            RowStatus.CONFLICT,
            "idempotency_key",
            "repeats line 2 with a different occurred_at: this row is not stored",
            ("occurred_at",),
        ),
        (4, RowStatus.DUPLICATE, "idempotency_key", "repeats line 2", ()),
        (
            5,
            RowStatus.CONFLICT,
            "idempotency_key",
            "repeats line 2 with a different lead_id, event_type, detail: this row is not stored",
            ("lead_id", "event_type", "detail"),
        ),
    ]
    # The repeated key's other instant does not leak into the lead.
    assert _lead(session, "L1").first_called_at == utc(2026, 1, 5, 10)
    assert _count(session, StoredEvent) == 1
    assert _count(session, Lead) == 1


def test_a_stored_key_sent_with_other_content_is_a_conflict_and_the_event_stays(
    session: Session,
) -> None:
    _setup(session)
    first = [
        _row("k1", "L1", "call_answered", "2026-01-05T10:00:00Z", duration_seconds="60"),
        _row("k2", "L1", "outcome", "2026-01-05T11:00:00.250000Z", detail="booked"),
    ]
    ingest_events(session, first, as_of=AS_OF)
    again = [
        # A correction under the old key: another duration and call result.
        _row(
            "k1",
            "L1",
            "call_answered",
            "2026-01-05T10:00:00Z",
            duration_seconds="95",
            call_result="answered",
        ),
        # The same event, its instant in another offset and a lead detail added: a retry.
        _row("k2", "L1", "outcome", "2026-01-05T06:00:00.25-05:00", detail=" booked ", name="A"),
        _row("k3", "L1", "outcome", "2026-01-06T10:00:00Z"),
    ]
    result = ingest_events(session, again, as_of=utc(2026, 1, 21))
    assert (result.accepted, result.duplicate, result.conflict, result.rejected) == (1, 1, 1, 0)
    assert [(str(o), o.status, o.differing) for o in result.outcomes] == [
        (
            "line 2: idempotency_key: already received with a different call_result, "
            "duration_seconds: this row is not stored",
            RowStatus.CONFLICT,
            ("call_result", "duration_seconds"),
        ),
        ("line 3: idempotency_key: already received", RowStatus.DUPLICATE, ()),
    ]
    stored = session.scalars(select(StoredEvent).where(StoredEvent.idempotency_key == "k1")).one()
    assert (stored.duration_seconds, stored.call_result) == (60, None)
    assert _count(session, StoredEvent) == 3


def test_rejections_name_line_field_and_reason(session: Session) -> None:
    _setup(session)
    rows = [
        _row("k1", "L1", "received", "2026-01-05T10:00:00Z"),
        _row("k2", "L1", "received", "2026-13-01"),
        _row("k3", "L1", "received", "2026-01-05T10:00:00"),
        _row("k4", "L1", "called", "2026-01-05T10:00:00Z"),
        _row("", "L1", "received", "2026-01-05T10:00:00Z"),
        _row("k6", "L1", "call_attempted", "2026-01-05T10:00:00Z", duration_seconds="-3"),
        _row("k7", "L1", "outcome", "2026-01-05T10:00:00Z", detail="x" * 501),
        _row("k8", "L1", "received", "2026-01-05T10:00:00Z", account="nobody"),
        _row("k9", "L1", "received", "2026-01-05T10:00:00Z", seat="south"),
    ]
    result = ingest_events(session, rows, as_of=AS_OF, first_line=7)
    assert (result.accepted, result.duplicate, result.rejected) == (1, 0, 8)
    assert [str(o) for o in result.rejections] == [
        "line 8: occurred_at: '2026-13-01' is not an RFC 3339 instant",
        "line 9: occurred_at: '2026-01-05T10:00:00' has no UTC offset (add Z or +hh:mm)",
        "line 10: event_type: 'called' is not one of received, call_attempted, call_answered, "
        "call_missed, recording_available, contact_found, contact_enriched, contact_verified, "
        "contact_not_found, outcome",
        "line 11: idempotency_key: is required",
        "line 12: duration_seconds: '-3' is not a whole number of seconds >= 0",
        "line 13: detail: longer than 500 characters",
        "line 14: account: unknown account 'nobody'",
        "line 15: seat: unknown seat 'south' on account 'acme'",
    ]
    assert {o.status for o in result.outcomes} == {RowStatus.REJECTED}
    assert result.rejections[0].idempotency_key == "k2"
    assert _count(session, StoredEvent) == 1


def test_unstorable_characters_reject_their_row_and_keep_the_others(session: Session) -> None:
    _setup(session)
    rows = [
        _row("k1", "L1", "received", "2026-01-05T10:00:00Z"),
        _row("k2", "L2", "received", "2026-01-05T10:00:00Z", phone="+1303\x00"),
        _row("k3\x00", "L3", "received", "2026-01-05T10:00:00Z"),
        _row("k4", "L4", "received", "2026-01-05T10:00:00Z\x00"),
        _row("k5", "L5", "call_answered", "2026-01-05T10:00:00Z", duration_seconds="1\x00"),
        _row("k6", "L6", "received", "2026-01-05T10:00:00Z", company="a\x1fb"),
        _row("k7", "L7", "received", "2026-01-05T10:00:00Z", name="Ann"),
    ]
    result = ingest_events(session, rows, as_of=AS_OF)
    assert [str(o) for o in result.rejections] == [
        "line 3: phone: must not contain NUL characters",
        "line 4: idempotency_key: must not contain NUL characters",
        "line 5: occurred_at: must not contain NUL characters",
        "line 6: duration_seconds: must not contain NUL characters",
        "line 7: company: must not contain U+001F",
    ]
    assert (result.accepted, result.rejected) == (2, 5)
    assert {lead.external_id for lead in session.scalars(select(Lead))} == {"L1", "L7"}


def test_naive_timestamp_refused(session: Session) -> None:
    _setup(session)
    result = ingest_events(
        session, [_row("k1", "L1", "call_answered", "2026-01-05 10:00:00")], as_of=AS_OF
    )
    (rejection,) = result.rejections
    assert rejection.field == "occurred_at"
    assert "no UTC offset" in rejection.reason
    assert _count(session, Lead) == 0


def test_seat_of_another_account_is_unknown(session: Session) -> None:
    _setup(session)
    # Both accounts have a seat "north"; each row resolves to its own account's seat.
    rows = [
        _row("k1", "L1", "received", "2026-01-05T10:00:00Z", seat="north"),
        _row("k1", "L1", "received", "2026-01-05T10:00:00Z", seat="north", account="beta"),
    ]
    result = ingest_events(session, rows, as_of=AS_OF)
    assert (result.accepted, result.duplicate) == (2, 0)
    assert _lead(session, "L1").seat_id != _lead(session, "L1", "beta").seat_id


def test_all_or_nothing_stores_nothing(session: Session) -> None:
    _setup(session)
    rows = [*FILE, _row("k9", "L9", "received", "yesterday")]
    result = ingest_events(session, rows, as_of=AS_OF, all_or_nothing=True)
    assert not result.stored
    assert (result.accepted, result.duplicate, result.rejected, result.discarded) == (0, 0, 1, 5)
    assert (
        str(result.rejections[0]) == "line 7: occurred_at: 'yesterday' is not an RFC 3339 instant"
    )
    assert _count(session, StoredEvent) == 0
    assert _count(session, Lead) == 0
    ok = ingest_events(session, FILE, as_of=AS_OF, all_or_nothing=True)
    assert ok.stored
    assert ok.accepted == 5


def test_attributes_keep_the_first_non_empty_value(session: Session) -> None:
    _setup(session)
    ingest_events(
        session,
        [_row("k1", "L1", "call_attempted", "2026-01-05T10:00:00Z", name="", email="a@x.test")],
        as_of=AS_OF,
    )
    ingest_events(
        session,
        [
            _row("k2", "L1", "received", "2026-01-04T10:00:00Z", name="Ann", email="b@x.test"),
            _row("k3", "L1", "received", "2026-01-03T10:00:00Z", name="Bob", seat="north"),
        ],
        as_of=AS_OF,
    )
    lead = _lead(session, "L1")
    assert (lead.name, lead.email) == ("Ann", "a@x.test")
    assert lead.seat_id is not None
    assert lead.received_at == utc(2026, 1, 3, 10)
    assert lead.first_called_at == utc(2026, 1, 5, 10)


def test_naive_as_of_refused(session: Session) -> None:
    with pytest.raises(InvalidInput, match="as_of"):
        ingest_events(session, FILE, as_of=datetime(2026, 1, 1))


def _history(rng: random.Random) -> list[dict[str, str]]:
    """Random histories of 30 leads: received, calls and other events, with microseconds."""
    rows = []
    types = [t.value for t in EventType]
    for lead in range(30):
        for number in range(rng.randint(1, 6)):
            at = datetime(2026, 1, rng.randint(1, 28), rng.randint(0, 23), rng.randint(0, 59))
            at = at.replace(second=rng.randint(0, 59), microsecond=rng.choice([0, 1, 999999]))
            offset = rng.choice(["Z", "+05:30", "-08:00"])
            if offset != "Z":
                # The same instant written in another offset.
                from datetime import timedelta, timezone

                hours, minutes = int(offset[1:3]), int(offset[4:6])
                sign = 1 if offset[0] == "+" else -1
                zone = timezone(sign * timedelta(hours=hours, minutes=minutes))
                text = at.replace(tzinfo=utc(2026, 1, 1).tzinfo).astimezone(zone).isoformat()
            else:
                text = at.isoformat() + "Z"
            rows.append(_row(f"L{lead}-{number}", f"L{lead}", rng.choice(types), text))
    return rows


def test_r2_first_called_at_equals_core_decide_whatever_the_order(session: Session) -> None:
    """Permuted, duplicated and split batches give the leads the core's counted_at."""
    _setup(session)
    rng = random.Random(20260101)
    history = _history(rng)
    events: dict[str, list[LeadEvent]] = {}
    for row in history:
        at = datetime.fromisoformat(row["occurred_at"].replace("Z", "+00:00"))
        events.setdefault(row["lead_id"], []).append(LeadEvent(EventType(row["event_type"]), at))
    sent = history + rng.sample(history, len(history) // 2)  # every other event twice
    rng.shuffle(sent)
    for start in range(0, len(sent), 17):  # in uneven batches
        # Received once January's history is over (an event may not be ahead of receipt).
        ingest_events(session, sent[start : start + 17], as_of=utc(2026, 2, 1))
    assert _count(session, StoredEvent) == len(history)
    for lead_id, lead_events in events.items():
        lead = _lead(session, lead_id)
        verdict = decide(CountingPolicy.CALLED, lead_events)
        assert lead.first_called_at == verdict.counted_at, lead_id
        received = [e.occurred_at for e in lead_events if e.type is EventType.RECEIVED]
        assert lead.received_at == (min(received) if received else None)
    assert any(e.type in CALL_EVENTS for es in events.values() for e in es)
    assert any(_lead(session, lead).first_called_at is None for lead in events)


@pytest.mark.parametrize("sqlite", [True, False])
def test_fast_and_precise_parsers_agree(sqlite: bool) -> None:
    """The fast path of parse_rows gives what the precise parse_row gives, row by row."""
    from leadbill.leads.csv_format import parse_row, parse_rows

    rows = [
        _row("k1", "L1", "received", "2026-01-05T10:00:00Z", name="Ann", duration_seconds="7"),
        _row("k2", "L1", "received", "2026-01-05T10:00:00.250000Z", phone="+1303"),
        _row(" k3 ", "L1", "call_missed", "2026-01-05T12:00:00+02:00", source=" web "),
        _row("k4", "L1", "outcome", "2026-01-05t10:00:00.5z", detail="booked"),
        _row("k5", "L1", "received", "2026-01-05 10:00:00+00:00", call_result=""),
        _row("k6", "L1", "call_attempted", "2026-01-05T10:00:00Z", duration_seconds=" 12 "),
    ]
    parsed, rejections = parse_rows(rows, 2, sqlite)
    assert rejections == []
    assert parsed == [parse_row(row, line, sqlite) for line, row in enumerate(rows, start=2)]
    suffix = "" if sqlite else "+00:00"
    assert [p.occurred_at for p in parsed] == [
        f"2026-01-05 10:00:00.000000{suffix}",
        f"2026-01-05 10:00:00.250000{suffix}",
        f"2026-01-05 10:00:00.000000{suffix}",
        f"2026-01-05 10:00:00.500000{suffix}",
        f"2026-01-05 10:00:00.000000{suffix}",
        f"2026-01-05 10:00:00.000000{suffix}",
    ]
    assert parsed[2].idempotency_key == "k3" and parsed[2].source == "web"
    assert parsed[5].duration_seconds == 12
    kept, refused = parse_rows(
        [
            _row("k7", "L1", "call_answered", "2026-01-05T10:00:00Z", duration_seconds="9" * 10),
            _row("k8", "L1", "call_answered", "2026-01-05T10:00:00Z", duration_seconds="86401"),
            _row("k9", "L1", "call_answered", "2026-01-05T10:00:00Z", duration_seconds="86400"),
        ],
        2,
        sqlite,
    )
    assert [(r.field, r.reason) for r in refused] == [
        ("duration_seconds", "'9999999999' is more than 86,400 seconds (a day)"),
        ("duration_seconds", "'86401' is more than 86,400 seconds (a day)"),
    ]
    assert [p.duration_seconds for p in kept] == [86_400]


def test_concurrent_senders_store_each_event_once(sessions: sessionmaker[Session]) -> None:
    """Two transactions send overlapping events at once: each event is stored once.

    On PostgreSQL the second sender cannot see the first one's uncommitted keys;
    the unique constraint skips them, they are reported as duplicates, and the
    lead's instants are taken again from what is stored. On SQLite the second
    sender waits for the write lock.
    """
    import threading

    with sessions() as session, session.begin():
        _setup(session)
    first = [
        _row("a1", "L1", "received", "2026-01-05T10:00:00Z"),
        _row("a2", "L1", "call_attempted", "2026-01-05T11:00:00Z"),
    ]
    # The same key a2 reused with an earlier instant must not leak into the lead.
    second = [
        _row("a2", "L1", "call_attempted", "2026-01-05T10:30:00Z"),
        _row("b1", "L1", "call_answered", "2026-01-05T12:00:00Z"),
    ]
    holding = threading.Event()
    release = threading.Event()
    outcome: dict[str, object] = {}

    def send_first() -> None:
        with sessions() as session, session.begin():
            ingest_events(session, first, as_of=AS_OF)
            holding.set()
            release.wait(10)

    def send_second() -> None:
        with sessions() as session, session.begin():
            outcome["second"] = ingest_events(session, second, as_of=AS_OF)

    one = threading.Thread(target=send_first)
    one.start()
    assert holding.wait(10)
    two = threading.Thread(target=send_second)
    two.start()
    two.join(1)  # the second sender is blocked behind the first
    release.set()
    one.join(10)
    two.join(10)
    result = outcome["second"]
    assert isinstance(result, IngestResult)
    assert (result.accepted, result.duplicate, result.conflict) == (1, 0, 1)
    assert [(o.idempotency_key, o.reason) for o in result.conflicts] == [
        ("a2", "already received with a different occurred_at: this row is not stored")
    ]
    with sessions() as session:
        assert _count(session, StoredEvent) == 3
        assert _lead(session, "L1").first_called_at == utc(2026, 1, 5, 11)
