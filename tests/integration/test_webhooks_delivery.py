"""Delivering the outbox to real HTTP receivers on 127.0.0.1, on both databases.

Three receivers: one acknowledges, one fails twice and then recovers, one never
answers. Nothing is lost (every delivery ends delivered, or failed after its
last attempt and logged) and nothing is delivered twice to a receiver that
acknowledged it, with one worker or several at once.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from leadbill.accounts.models import Account
from leadbill.errors import Conflict
from leadbill.webhooks import events
from leadbill.webhooks.delivery import DeliveryPolicy, Result, claim_due, deliver_due, record
from leadbill.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEvent
from leadbill.webhooks.service import (
    Event,
    attempts_of,
    create_endpoint,
    emit_many,
    prune,
    redeliver,
    remove_endpoint,
)
from tests.integration.usage_fixtures import account
from tests.webhook_receiver import Receiver, running

# Backoff of 30 s, doubling: attempts at t0, t0+30 s, t0+90 s, … (the tests move the clock).
POLICY = DeliveryPolicy(timeout=0.5, max_attempts=3, backoff_base=30, backoff_cap=600)


@pytest.fixture
def t0() -> datetime:
    """Now: the receivers see real timestamps."""
    return datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def receivers() -> Iterator[tuple[Receiver, Receiver, Receiver]]:
    """An acknowledging, a failing-then-recovering and a never-answering receiver."""
    with (
        running(Receiver()) as ok,
        running(Receiver(fail_first=2)) as flaky,
        running(Receiver(hang=True)) as silent,
    ):
        yield ok, flaky, silent


def _register(session: Session, receiver: Receiver, *types: str) -> int:
    endpoint = create_endpoint(
        session, url=receiver.url, event_types=list(types), as_of=datetime.now(UTC)
    )
    receiver.secret = endpoint.secret
    return endpoint.id


def _emit(
    session: Session, count: int, at: datetime, event_type: str = "invoice.finalized"
) -> None:
    customer = session.scalars(select(Account)).first() or account(session, "acme")
    emit_many(
        session,
        [Event(customer.id, event_type, {"id": n}, at) for n in range(count)],
        created_at=at,
    )


def _statuses(sessions: sessionmaker[Session]) -> Counter[tuple[int, str]]:
    with sessions() as session:
        rows = session.execute(select(WebhookDelivery.endpoint_id, WebhookDelivery.status))
        return Counter((endpoint, status) for endpoint, status in rows)


def test_acknowledged_messages_arrive_once_signed_and_are_logged(
    sessions: sessionmaker[Session], receivers: tuple[Receiver, Receiver, Receiver], t0: datetime
) -> None:
    ok, _flaky, _silent = receivers
    with sessions() as session, session.begin():
        endpoint = _register(session, ok, events.INVOICE_FINALIZED)
        _emit(session, 5, t0)
    report = deliver_due(sessions, POLICY, as_of=t0)
    assert (report.attempted, report.delivered) == (5, 5)
    assert len(ok.received) == 5 and all(r.signature_valid for r in ok.received)
    assert len({r.message_id for r in ok.received}) == 5
    assert {r.json["data"]["id"] for r in ok.received} == set(range(5))
    assert {r.headers["webhook-timestamp"] for r in ok.received} == {str(int(t0.timestamp()))}
    assert ok.received[0].headers["content-type"] == "application/json"
    # Nothing is due any more: running again, even much later, sends nothing.
    assert deliver_due(sessions, POLICY, as_of=t0 + timedelta(days=1)).attempted == 0
    assert len(ok.received) == 5
    assert _statuses(sessions) == {(endpoint, "delivered"): 5}
    with sessions() as session:
        delivery = session.scalars(select(WebhookDelivery)).first()
        assert delivery is not None and delivery.delivered_at == t0
        (attempt,) = attempts_of(session, delivery.id)
        assert (attempt.number, attempt.status_code, attempt.outcome) == (1, 200, "delivered")
        assert attempt.error is None and attempt.duration_ms >= 0


def test_a_failing_receiver_is_retried_with_backoff_until_it_recovers(
    sessions: sessionmaker[Session], receivers: tuple[Receiver, Receiver, Receiver], t0: datetime
) -> None:
    _ok, flaky, _silent = receivers
    with sessions() as session, session.begin():
        _register(session, flaky, events.INVOICE_PAID)
        _emit(session, 1, t0, events.INVOICE_PAID)
    assert deliver_due(sessions, POLICY, as_of=t0).retrying == 1  # 500
    assert deliver_due(sessions, POLICY, as_of=t0 + timedelta(seconds=29)).attempted == 0
    assert deliver_due(sessions, POLICY, as_of=t0 + timedelta(seconds=30)).retrying == 1  # 500
    # The second wait doubles: 60 s after the second attempt.
    assert deliver_due(sessions, POLICY, as_of=t0 + timedelta(seconds=89)).attempted == 0
    assert deliver_due(sessions, POLICY, as_of=t0 + timedelta(seconds=90)).delivered == 1
    assert [r.answered for r in flaky.received] == [500, 500, 200]
    assert len({r.message_id for r in flaky.received}) == 1  # the same webhook-id each time
    assert len(flaky.acknowledged()) == 1
    stamps = [int(r.headers["webhook-timestamp"]) - int(t0.timestamp()) for r in flaky.received]
    assert stamps == [0, 30, 90]  # each attempt signed afresh
    with sessions() as session:
        log = session.scalars(select(WebhookAttempt).order_by(WebhookAttempt.number)).all()
        assert [(a.status_code, a.error, a.outcome) for a in log] == [
            (500, "HTTP 500", "retry"),
            (500, "HTTP 500", "retry"),
            (200, None, "delivered"),
        ]


def test_a_receiver_that_never_answers_times_out_and_fails_after_the_last_attempt(
    sessions: sessionmaker[Session], receivers: tuple[Receiver, Receiver, Receiver], t0: datetime
) -> None:
    ok, _flaky, silent = receivers
    with sessions() as session, session.begin():
        hung = _register(session, silent, events.INVOICE_FINALIZED)
        fine = _register(session, ok, events.INVOICE_FINALIZED)
        _emit(session, 2, t0)
    first = deliver_due(sessions, POLICY, as_of=t0)
    # The silent receiver holds nothing up: the other one got both messages meanwhile.
    assert (first.delivered, first.retrying) == (2, 2)
    for offset in (30, 90):
        deliver_due(sessions, POLICY, as_of=t0 + timedelta(seconds=offset))
    assert deliver_due(sessions, POLICY, as_of=t0 + timedelta(days=1)).attempted == 0
    assert _statuses(sessions) == {(hung, "failed"): 2, (fine, "delivered"): 2}
    assert len(silent.received) == 6  # 2 messages x 3 attempts, each one timed out
    assert len(ok.received) == 2
    with sessions() as session:
        failed = session.scalars(
            select(WebhookDelivery).where(WebhookDelivery.endpoint_id == hung)
        ).first()
        assert failed is not None and failed.attempts == 3
        log = attempts_of(session, failed.id)
        assert [a.outcome for a in log] == ["retry", "retry", "failed"]
        assert all(a.status_code is None and "timeout" in (a.error or "") for a in log)
        assert all(a.duration_ms >= 400 for a in log)


def test_redelivery_on_demand_sends_a_failed_delivery_again(
    sessions: sessionmaker[Session], receivers: tuple[Receiver, Receiver, Receiver], t0: datetime
) -> None:
    _ok, flaky, _silent = receivers
    flaky.fail_first = 3
    with sessions() as session, session.begin():
        _register(session, flaky, events.INVOICE_PAID)
        _emit(session, 1, t0, events.INVOICE_PAID)
    for offset in (0, 30, 90):
        deliver_due(sessions, POLICY, as_of=t0 + timedelta(seconds=offset))
    with sessions() as session, session.begin():
        delivery = session.scalars(select(WebhookDelivery)).one()
        assert delivery.status == "failed"
        redeliver(session, delivery.id, as_of=t0 + timedelta(hours=1))
    assert deliver_due(sessions, POLICY, as_of=t0 + timedelta(hours=1)).delivered == 1
    assert [r.answered for r in flaky.received] == [500, 500, 500, 200]
    with sessions() as session:
        delivery = session.scalars(select(WebhookDelivery)).one()
        assert (delivery.status, delivery.attempts) == ("delivered", 1)
        assert [a.number for a in attempts_of(session, delivery.id)] == [1, 2, 3, 4]


def test_nothing_is_lost_and_nothing_acknowledged_is_sent_twice_with_three_receivers(
    sessions: sessionmaker[Session], receivers: tuple[Receiver, Receiver, Receiver], t0: datetime
) -> None:
    ok, flaky, silent = receivers
    with sessions() as session, session.begin():
        ids = {
            _register(session, receiver, events.INVOICE_FINALIZED): receiver
            for receiver in receivers
        }
        _emit(session, 8, t0)
    # Two workers at once, each draining what is due, at every step of the clock.
    for offset in (0, 30, 90, 300):
        at = t0 + timedelta(seconds=offset)
        threads = [
            threading.Thread(target=deliver_due, args=(sessions, POLICY), kwargs={"as_of": at})
            for _ in range(2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    statuses = _statuses(sessions)
    by_receiver = {id(ids[endpoint]): count for (endpoint, _s), count in statuses.items()}
    assert sum(statuses.values()) == 24 and len(by_receiver) == 3  # 8 events x 3 endpoints
    for endpoint, receiver in ids.items():
        expected = "failed" if receiver is silent else "delivered"
        assert statuses[(endpoint, expected)] == 8
    for receiver in (ok, flaky):
        acknowledged = Counter(r.message_id for r in receiver.acknowledged())
        assert len(acknowledged) == 8 and set(acknowledged.values()) == {1}
    assert all(r.signature_valid for receiver in receivers for r in receiver.received)


def test_several_workers_at_once_claim_disjoint_deliveries(
    sessions: sessionmaker[Session], receivers: tuple[Receiver, Receiver, Receiver], t0: datetime
) -> None:
    ok, _flaky, _silent = receivers
    with sessions() as session, session.begin():
        _register(session, ok, events.INVOICE_FINALIZED)
        _emit(session, 60, t0)
    small = DeliveryPolicy(timeout=2, batch_size=5, concurrency=2)
    reports = []
    threads = [
        threading.Thread(target=lambda: reports.append(deliver_due(sessions, small, as_of=t0)))
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert sum(r.delivered for r in reports) == 60
    assert sorted(Counter(r.message_id for r in ok.received).values()) == [1] * 60


def test_a_worker_that_stops_mid_delivery_is_taken_over_when_its_lease_ends(
    sessions: sessionmaker[Session], receivers: tuple[Receiver, Receiver, Receiver], t0: datetime
) -> None:
    ok, _flaky, _silent = receivers
    with sessions() as session, session.begin():
        _register(session, ok, events.INVOICE_FINALIZED)
        _emit(session, 1, t0)
    (stalled,) = claim_due(sessions, POLICY, t0)  # a worker claims, then stops
    assert deliver_due(sessions, POLICY, as_of=t0 + POLICY.lease / 2).attempted == 0
    with sessions() as session, pytest.raises(Conflict):
        redeliver(session, stalled.delivery_id, as_of=t0)  # it is being sent
    taken = deliver_due(sessions, POLICY, as_of=t0 + POLICY.lease)
    assert taken.delivered == 1
    assert len(ok.received) == 1 and ok.received[0].message_id == stalled.message_id
    # The stalled worker comes back with a late answer: it no longer holds the lease, so
    # its attempt is logged as superseded and the delivery stays as the other worker left it.
    late = record(sessions, stalled, Result(200, None, 5), POLICY, t0 + POLICY.lease)
    assert late == "superseded"
    with sessions() as session:
        delivery = session.get_one(WebhookDelivery, stalled.delivery_id)
        assert (delivery.status, delivery.attempts) == ("delivered", 2)
        outcomes = [a.outcome for a in attempts_of(session, delivery.id)]
        assert outcomes == ["delivered", "superseded"]


def test_a_removed_endpoint_gets_nothing_more(
    sessions: sessionmaker[Session], receivers: tuple[Receiver, Receiver, Receiver], t0: datetime
) -> None:
    ok, _flaky, _silent = receivers
    with sessions() as session, session.begin():
        endpoint = _register(session, ok, events.INVOICE_FINALIZED)
        _emit(session, 3, t0)
        remove_endpoint(session, endpoint, as_of=t0)
        _emit(session, 2, t0)  # after removal: not even queued
    assert deliver_due(sessions, POLICY, as_of=t0).attempted == 0
    assert ok.received == []
    assert _statuses(sessions) == {(endpoint, "cancelled"): 3}
    with sessions() as session, pytest.raises(Conflict):
        delivery = session.scalars(select(WebhookDelivery)).first()
        assert delivery is not None
        redeliver(session, delivery.id, as_of=t0)


def test_prune_deletes_only_old_messages_whose_deliveries_all_ended(
    sessions: sessionmaker[Session], receivers: tuple[Receiver, Receiver, Receiver], t0: datetime
) -> None:
    ok, flaky, _silent = receivers
    flaky.fail_first = 100
    with sessions() as session, session.begin():
        _register(session, ok, events.INVOICE_PAID, events.INVOICE_FINALIZED)
        _register(session, flaky, events.INVOICE_FINALIZED)
        _emit(session, 1, t0, events.INVOICE_PAID)  # to ok only: delivered
        _emit(session, 1, t0, events.INVOICE_FINALIZED)  # to both: one still retrying
    deliver_due(sessions, POLICY, as_of=t0)
    with sessions() as session, session.begin():
        assert prune(session, before=t0) == 0  # nothing written before t0
        assert prune(session, before=t0 + timedelta(seconds=1)) == 1
    with sessions() as session:
        left = session.scalars(select(WebhookEvent.event_type)).all()
        assert left == ["invoice.finalized"]
        assert len(session.scalars(select(WebhookAttempt)).all()) == 2
    assert _statuses(sessions).total() == 2
