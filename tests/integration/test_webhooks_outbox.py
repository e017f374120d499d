"""The webhook outbox: events written by the transaction that makes the change, fanned out once.

Every feature that emits is checked here: the billing run (invoice.finalized,
subscription.renewed, subscription.cancelled, set-based), single-invoice
finalization, payments (invoice.paid), usage thresholds
(usage.threshold_reached), and emit() directly for the review and credit-note
events that the review workflow sends.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from leadbill.accounts.models import Account
from leadbill.billing.invoices import list_invoices
from leadbill.billing.payments import record_payment
from leadbill.billing.service import run_billing
from leadbill.errors import InvalidInput, NotFound
from leadbill.subscriptions.service import cancel_subscription, current_subscription
from leadbill.webhooks import events
from leadbill.webhooks.models import WebhookDelivery, WebhookEvent
from leadbill.webhooks.service import (
    Event,
    create_endpoint,
    emit,
    emit_many,
    remove_endpoint,
)
from tests.conftest import utc
from tests.integration.usage_fixtures import START, account, ingest, lead_rows, plan, subscribed

NOW = datetime(2026, 11, 29, tzinfo=UTC)


def _bodies(session: Session, event_type: str | None = None) -> list[dict[str, Any]]:
    query = select(WebhookEvent.body).order_by(WebhookEvent.id)
    if event_type:
        query = query.where(WebhookEvent.event_type == event_type)
    return [json.loads(body) for body in session.scalars(query)]


def _deliveries(session: Session) -> list[tuple[str, int, str]]:
    rows = session.execute(
        select(WebhookEvent.event_type, WebhookDelivery.endpoint_id, WebhookDelivery.status)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .order_by(WebhookDelivery.id)
    )
    return [tuple(row) for row in rows]  # type: ignore[misc]


def _endpoint(session: Session, *types: str, account: str | None = None) -> int:
    return create_endpoint(
        session,
        url="https://receiver.test/hooks",
        event_types=list(types),
        account_code=account,
        as_of=NOW,
    ).id


def test_nothing_is_written_when_no_endpoint_wants_the_event(session: Session) -> None:
    customer = account(session, "acme")
    _endpoint(session, events.INVOICE_PAID)
    assert emit(session, customer.id, events.INVOICE_FINALIZED, {}, occurred_at=NOW) == 0
    assert session.scalar(select(func.count()).select_from(WebhookEvent)) == 0


def test_one_delivery_per_endpoint_that_wants_the_event_and_its_account(session: Session) -> None:
    acme, other = account(session, "acme"), account(session, "other")
    everyone = _endpoint(session, events.INVOICE_FINALIZED, events.INVOICE_PAID)
    acme_only = _endpoint(session, events.INVOICE_FINALIZED, account="acme")
    _endpoint(session, events.REVIEW_SUBMITTED)
    removed = _endpoint(session, events.INVOICE_FINALIZED)
    remove_endpoint(session, removed, as_of=NOW)

    queued = emit_many(
        session,
        [
            Event(acme.id, events.INVOICE_FINALIZED, {"id": 1}, NOW),
            Event(other.id, events.INVOICE_FINALIZED, {"id": 2}, NOW),
            Event(other.id, events.SUBSCRIPTION_RENEWED, {}, NOW),  # nobody wants it
        ],
    )
    assert queued == 3
    assert _deliveries(session) == [
        ("invoice.finalized", everyone, "pending"),
        ("invoice.finalized", acme_only, "pending"),
        ("invoice.finalized", everyone, "pending"),
    ]
    assert _bodies(session) == [
        {
            "type": "invoice.finalized",
            "timestamp": "2026-11-29T00:00:00Z",
            "data": {"account": "acme", "id": 1},
        },
        {
            "type": "invoice.finalized",
            "timestamp": "2026-11-29T00:00:00Z",
            "data": {"account": "other", "id": 2},
        },
    ]
    # Each event has its own message id (the webhook-id header).
    assert len(set(session.scalars(select(WebhookEvent.message_id)))) == 2


def test_an_event_and_an_endpoint_pair_is_queued_once_by_the_database(session: Session) -> None:
    customer = account(session, "acme")
    endpoint = _endpoint(session, events.INVOICE_PAID)
    emit(session, customer.id, events.INVOICE_PAID, {}, occurred_at=NOW)
    first = session.scalars(select(WebhookDelivery)).one()
    with pytest.raises(IntegrityError), session.begin_nested():
        session.add(
            WebhookDelivery(
                account_id=customer.id,
                event_id=first.event_id,
                endpoint_id=endpoint,
                status="pending",
                attempts=0,
                next_attempt_at=NOW,
                created_at=NOW,
            )
        )


def test_outbox_rows_roll_back_with_the_change_that_caused_them(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session, session.begin():
        customer = subscribed(session, "acme", plan(session, "pkg-10", "500.00", 10, "9.50"))
        _endpoint(session, events.INVOICE_PAID)
        invoice = list_invoices(session, account_id=customer.id)[0]
    with pytest.raises(RuntimeError), sessions() as session, session.begin():
        invoice = session.merge(invoice)
        record_payment(
            session,
            invoice=invoice,
            amount="500.00",
            currency="USD",
            reference="wire-1",
            received_at=utc(2026, 1, 3),
        )
        assert len(_deliveries(session)) == 1  # written, in this transaction
        raise RuntimeError("the request fails after the payment")
    with sessions() as session:
        assert _deliveries(session) == []
        assert list_invoices(session, account_id=customer.id)[0].status == "open"


def test_unknown_event_types_are_refused(session: Session) -> None:
    customer = account(session, "acme")
    with pytest.raises(InvalidInput):
        emit(session, customer.id, "invoice.created", {}, occurred_at=NOW)
    with pytest.raises(InvalidInput):
        create_endpoint(session, url="https://x.test/", event_types=["invoice.created"], as_of=NOW)
    for url in ("ftp://x.test/", "https://", "https://user:pw@x.test/", "http://x .test/"):
        with pytest.raises(InvalidInput):
            create_endpoint(session, url=url, event_types=["invoice.paid"], as_of=NOW)


def test_a_new_subscriptions_first_invoice_and_a_seat_fee_send_invoice_finalized(
    session: Session,
) -> None:
    _endpoint(session, events.INVOICE_FINALIZED)
    customer = subscribed(session, "acme", plan(session, "pkg-10", "500.00", 10, "9.50"))
    (body,) = _bodies(session)
    invoice = list_invoices(session, account_id=customer.id)[0]
    assert body == {
        "type": "invoice.finalized",
        "timestamp": "2026-01-01T00:00:00Z",
        "data": {
            "account": "acme",
            "id": invoice.id,
            "number": invoice.number,
            "kind": "period",
            "status": "open",
            "total": {"amount": "500.00", "currency": "USD"},
            "subscription_id": current_subscription(session, customer).id,
            "issued_at": "2026-01-01T00:00:00Z",
            "finalized_at": "2026-01-01T00:00:00Z",
            "paid_at": None,
        },
    }


def test_a_payment_that_covers_the_invoice_sends_invoice_paid_once(session: Session) -> None:
    customer = subscribed(session, "acme", plan(session, "pkg-10", "500.00", 10, "9.50"))
    _endpoint(session, events.INVOICE_PAID)
    invoice = list_invoices(session, account_id=customer.id)[0]
    for reference, amount in (("wire-1", "200.00"), ("wire-2", "300.00"), ("wire-2", "300.00")):
        record_payment(
            session,
            invoice=invoice,
            amount=amount,
            currency="USD",
            reference=reference,
            received_at=utc(2026, 1, 5),
        )
    (body,) = _bodies(session)
    assert body["type"] == "invoice.paid"
    assert body["timestamp"] == "2026-01-05T00:00:00Z"
    assert body["data"]["status"] == "paid" and body["data"]["number"] == invoice.number
    assert body["data"]["paid_at"] == "2026-01-05T00:00:00Z"


def _count_inserts(engine: Engine) -> tuple[list[str], Any]:
    seen: list[str] = []

    def listener(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO WEBHOOK_"):
            seen.append(statement.split("(")[0].strip())

    event.listen(engine, "before_cursor_execute", listener)
    return seen, listener


def test_billing_run_sends_finalized_renewed_and_cancelled_in_bulk(
    sessions: sessionmaker[Session], engine: Engine
) -> None:
    with sessions() as session, session.begin():
        package = plan(session, "pkg-10", "500.00", 10, "9.50")
        customers = [subscribed(session, f"acct-{n:02d}", package) for n in range(12)]
        cancel_subscription(session, current_subscription(session, customers[0]), utc(2026, 1, 10))
        _endpoint(
            session,
            events.INVOICE_FINALIZED,
            events.SUBSCRIPTION_RENEWED,
            events.SUBSCRIPTION_CANCELLED,
        )
        _endpoint(session, events.SUBSCRIPTION_CANCELLED, account="acct-00")
    seen, listener = _count_inserts(engine)
    try:
        result = run_billing(sessions, utc(2026, 2, 1))
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert result.invoices_issued == 12 and result.batches == 1
    # One insert of events and one of deliveries for the whole batch: no per-invoice trips.
    assert seen == ["INSERT INTO webhook_events", "INSERT INTO webhook_deliveries"]
    with sessions() as session:
        finalized = _bodies(session, events.INVOICE_FINALIZED)
        renewed = _bodies(session, events.SUBSCRIPTION_RENEWED)
        cancelled = _bodies(session, events.SUBSCRIPTION_CANCELLED)
        assert sorted(b["data"]["number"] for b in finalized) == sorted(result.invoice_numbers)
        assert {b["timestamp"] for b in finalized} == {"2026-02-01T00:00:00Z"}
        assert len(renewed) == 11
        assert renewed[0]["data"] == {
            "account": "acct-01",
            "subscription_id": renewed[0]["data"]["subscription_id"],
            "plan": "pkg-10",
            "period_index": 1,
            "period_start": "2026-02-01T00:00:00Z",
            "period_end": "2026-03-01T00:00:00Z",
            "licences": 0,
        }
        (ended,) = cancelled
        assert ended["data"]["account"] == "acct-00"
        assert ended["data"]["cancel_requested_at"] == "2026-01-10T00:00:00Z"
        assert ended["data"]["ended_at"] == "2026-02-01T00:00:00Z"
        # 12 finalized + 11 renewed + 1 cancelled to the first endpoint, 1 to the second.
        assert len(_deliveries(session)) == 25
    # Running again issues nothing and sends nothing.
    assert run_billing(sessions, utc(2026, 2, 1)).invoices_issued == 0
    with sessions() as session:
        assert len(_deliveries(session)) == 25


def test_a_threshold_crossing_sends_usage_threshold_reached_once(session: Session) -> None:
    customer = subscribed(session, "agent", plan(session, "pkg-10", "500.00", 10, "9.50"))
    _endpoint(session, events.USAGE_THRESHOLD_REACHED)
    rows = [
        row
        for n in range(1, 9)
        for row in lead_rows(
            customer, f"L-{n:02d}", utc(2026, 1, 2 + n, 8), [utc(2026, 1, 2 + n, 9)]
        )
    ]
    ingest(session, rows, utc(2026, 2, 1))
    ingest(session, rows, utc(2026, 2, 1))  # re-sent: nothing new crosses
    (body,) = _bodies(session)
    assert body == {
        "type": "usage.threshold_reached",
        "timestamp": "2026-01-10T09:00:00Z",
        "data": {
            "account": "agent",
            "subscription_id": current_subscription(session, customer).id,
            "period_index": 0,
            "threshold": 80,
            "leads": 8,
            "included_leads": 10,
            "lead_id": "L-08",
            "crossed_at": "2026-01-10T09:00:00Z",
        },
    }


def test_review_and_credit_note_events_have_their_documented_shapes(session: Session) -> None:
    customer = account(session, "pro")
    _endpoint(session, events.REVIEW_SUBMITTED, events.REVIEW_DECIDED, events.CREDIT_NOTE_ISSUED)
    submitted = utc(2026, 3, 2, 15)
    review = {
        "review_id": 7,
        "lead_id": "L-77",
        "status": "submitted",
        "reason": "wrong_number",
        "explanation": "The caller wanted a pizza place.",
        "submitted_at": submitted,
        "due_at": submitted + timedelta(days=3),
    }
    emit(
        session,
        customer.id,
        events.REVIEW_SUBMITTED,
        events.review_data(**review),
        occurred_at=submitted,
    )
    decided = utc(2026, 3, 3, 10)
    emit(
        session,
        customer.id,
        events.REVIEW_DECIDED,
        events.review_data(
            **{**review, "status": "approved"},
            decision="approved",
            decided_at=decided,
            note="Recording confirms it.",
        ),
        occurred_at=decided,
    )
    emit(
        session,
        customer.id,
        events.CREDIT_NOTE_ISSUED,
        events.credit_note_data(
            credit_note_id=3,
            number="CN-000003",
            invoice_number="INV-000042",
            currency="USD",
            total=Decimal("45"),
            issued_at=decided,
            reason="review 7 approved",
            review_id=7,
        ),
        occurred_at=decided,
    )
    first, second, third = _bodies(session)
    assert first == {
        "type": "review.submitted",
        "timestamp": "2026-03-02T15:00:00Z",
        "data": {
            "account": "pro",
            "review_id": 7,
            "lead_id": "L-77",
            "status": "submitted",
            "reason": "wrong_number",
            "explanation": "The caller wanted a pizza place.",
            "submitted_at": "2026-03-02T15:00:00Z",
            "due_at": "2026-03-05T15:00:00Z",
            "decision": None,
            "decided_at": None,
            "note": None,
        },
    }
    assert second["type"] == "review.decided"
    assert second["data"]["decision"] == "approved"
    assert second["data"]["decided_at"] == "2026-03-03T10:00:00Z"
    assert third == {
        "type": "credit_note.issued",
        "timestamp": "2026-03-03T10:00:00Z",
        "data": {
            "account": "pro",
            "credit_note_id": 3,
            "number": "CN-000003",
            "invoice_number": "INV-000042",
            "total": {"amount": "45.00", "currency": "USD"},
            "issued_at": "2026-03-03T10:00:00Z",
            "reason": "review 7 approved",
            "review_id": 7,
            "subscription_change_id": None,
        },
    }
    assert len(_deliveries(session)) == 3


def test_an_event_of_an_unknown_account_is_refused(session: Session) -> None:
    _endpoint(session, events.INVOICE_PAID)
    missing = (session.scalar(select(func.max(Account.id))) or 0) + 1
    with pytest.raises(NotFound):
        emit(session, missing, events.INVOICE_PAID, {}, occurred_at=START)
    assert _deliveries(session) == []
