"""The review workflow announces itself: review.submitted, review.decided, credit_note.issued.

Each event is written to the outbox by the transaction that submits, decides or
credits, so a refused or rolled-back change announces nothing.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from leadbill.billing.service import run_billing
from leadbill.errors import Conflict
from leadbill.reviews.flows import decide_review
from leadbill.reviews.service import reply_to_review, submit_review
from leadbill.webhooks import events
from leadbill.webhooks.models import WebhookEvent
from leadbill.webhooks.service import create_endpoint
from tests.conftest import utc
from tests.integration.review_fixtures import (
    APRIL,
    CONFIG,
    EXPLANATION,
    account_on,
    add_lead,
    ppl_plan,
)

REVIEW_EVENTS = [events.REVIEW_SUBMITTED, events.REVIEW_DECIDED, events.CREDIT_NOTE_ISSUED]


def _subscribe(session: Session) -> None:
    create_endpoint(
        session,
        url="https://receiver.test/hooks",
        event_types=REVIEW_EVENTS,
        account_code=None,
        as_of=datetime(2026, 3, 1, tzinfo=UTC),
    )


def _bodies(session: Session) -> list[dict[str, Any]]:
    query = select(WebhookEvent.body).order_by(WebhookEvent.id)
    return [json.loads(body) for body in session.scalars(query)]


def _submit(session: Session, lead: str, at: datetime) -> int:
    return submit_review(
        session,
        "pipes",
        lead,
        reason="job_seeker",
        explanation=EXPLANATION,
        submitted_by="pat@pipes.test",
        as_of=at,
        config=CONFIG,
    ).id


def test_submission_information_request_and_rejection_are_announced(session: Session) -> None:
    account_on(session, ppl_plan(session))
    add_lead(session, "pipes", "L1", utc(2026, 3, 2))
    _subscribe(session)
    review_id = _submit(session, "L1", utc(2026, 3, 3, 12))
    decide_review(
        session,
        review_id,
        "request-info",
        decided_by="qa-ann",
        note="Did the caller ask for a job?",
        as_of=utc(2026, 3, 4),
    )
    reply_to_review(
        session,
        review_id,
        message="He asked for a quote.",
        replied_by="pat",
        as_of=utc(2026, 3, 4, 15),
        config=CONFIG,
    )
    decide_review(
        session,
        review_id,
        "reject",
        decided_by="qa-ann",
        note="The recording shows a quote request.",
        as_of=utc(2026, 3, 5),
    )
    submitted, asked, rejected = _bodies(session)
    assert submitted["type"] == "review.submitted"
    assert submitted["timestamp"] == "2026-03-03T12:00:00Z"
    assert {k: submitted["data"][k] for k in ("account", "review_id", "lead_id", "status")} == {
        "account": "pipes",
        "review_id": review_id,
        "lead_id": "L1",
        "status": "open",
    }
    assert submitted["data"]["reason"] == "job_seeker"
    assert submitted["data"]["decision"] is None
    assert (asked["type"], asked["data"]["decision"], asked["data"]["note"]) == (
        "review.decided",
        "more_information",
        "Did the caller ask for a job?",
    )
    assert (rejected["data"]["decision"], rejected["data"]["status"]) == ("rejected", "rejected")
    assert rejected["data"]["decided_at"] == "2026-03-05T00:00:00Z"
    assert rejected["data"]["note"] == "The recording shows a quote request."


def test_an_approval_after_invoicing_announces_the_decision_and_the_credit_note(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        account_on(session, ppl_plan(session))
        add_lead(session, "pipes", "L1", utc(2026, 3, 28), category="roofing")
        _subscribe(session)
    run_billing(sessions, APRIL)
    with sessions.begin() as session:
        review_id = _submit(session, "L1", utc(2026, 4, 2))
        decide_review(session, review_id, "approve", decided_by="qa-ann", as_of=utc(2026, 4, 3))
    with sessions.begin() as session, pytest.raises(Conflict):
        decide_review(session, review_id, "approve", decided_by="qa-ann", as_of=utc(2026, 4, 4))
    with sessions.begin() as session:
        bodies = _bodies(session)
    assert [body["type"] for body in bodies] == [
        "review.submitted",
        "credit_note.issued",
        "review.decided",
    ]
    credit = bodies[1]["data"]
    assert (credit["number"], credit["total"], credit["review_id"]) == (
        "CN-000001",
        {"amount": "55.00", "currency": "USD"},
        review_id,
    )
    assert credit["invoice_number"].startswith("INV-")
    assert (bodies[2]["data"]["decision"], bodies[2]["data"]["status"]) == ("approved", "approved")


def test_a_refused_submission_announces_nothing(session: Session) -> None:
    account_on(session, ppl_plan(session))
    add_lead(session, "pipes", "L1", utc(2026, 3, 2))
    _subscribe(session)
    _submit(session, "L1", utc(2026, 3, 3))
    with pytest.raises(Conflict):
        _submit(session, "L1", utc(2026, 3, 4))
    assert [body["type"] for body in _bodies(session)] == ["review.submitted"]
