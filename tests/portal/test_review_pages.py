"""The dispute loop's pages over HTTP (SQLite and PostgreSQL): refused forms shown again
with what was typed, eligibility in words (R13), the question and the reply (R14)."""

from __future__ import annotations

import html
import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from leadbill.leads.service import ingest_events
from leadbill.reviews.flows import decide_review
from leadbill.reviews.models import Review
from tests.portal.conftest import sign_in
from tests.portal.world import AS_OF, PortalWorld

SHORT = "Not a buyer."  # 12 characters: the explanation needs 20


def _lead_body(page: str, lead_id: str) -> str:
    """The HTML of one lead of the call report, up to the next lead."""
    start = page.index(f'id="lead-{lead_id}"')
    end = page.find('<li class="lead"', start)
    return page[start : end if end != -1 else len(page)]


def _add_leads(sessions: sessionmaker[Session]) -> None:
    """acme's leads whose calls end differently: voicemail, a wrong number, none, old."""
    leads = {
        # lead id: (received days before AS_OF, [(event type, call result)])
        "ACME-VM": (2, [("call_attempted", "voicemail"), ("recording_available", None)]),
        "ACME-WRONG": (2, [("call_attempted", "wrong_number"), ("recording_available", None)]),
        "ACME-NOREC": (2, [("call_answered", "answered")]),
        "ACME-OLD": (9, [("call_answered", "answered"), ("recording_available", None)]),
        "ACME-NEVER": (2, []),
    }
    rows = []
    for lead_id, (days, events) in leads.items():
        received = AS_OF - timedelta(days=days)
        rows.append(
            {
                "idempotency_key": f"{lead_id}-received",
                "account": "acme",
                "lead_id": lead_id,
                "event_type": "received",
                "occurred_at": received.isoformat(),
                "seat": "acme-seat",
                "phone": "+13035550999",
            }
        )
        for n, (kind, result) in enumerate(events, start=1):
            row = {
                "idempotency_key": f"{lead_id}-{n}",
                "account": "acme",
                "lead_id": lead_id,
                "event_type": kind,
                "occurred_at": (received + timedelta(minutes=5 * n)).isoformat(),
                "seat": "acme-seat",
            }
            if result:
                row["call_result"] = result
            rows.append(row)
    with sessions() as session, session.begin():
        assert ingest_events(session, rows, as_of=AS_OF).rejected == 0


def _reviews(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count(Review.id))) or 0)


def test_r13_the_call_report_says_which_condition_each_ineligible_lead_fails(
    client: TestClient, world: PortalWorld, sessions: sessionmaker[Session]
) -> None:
    _add_leads(sessions)
    sign_in(client, "ana@acme.test")
    page = html.unescape(client.get("/portal/calls").text)
    assert "Not eligible for review: the call was not answered: no call reached a person " in (
        _lead_body(page, "ACME-VM")
    )
    assert "(the last call: it went to voicemail)." in _lead_body(page, "ACME-VM")
    # A wrong number is known because someone answered: it may be disputed (R10, R13).
    wrong = _lead_body(page, "ACME-WRONG")
    assert "Not eligible" not in wrong and "Submit for review" in wrong
    assert (
        "Not eligible for review: call recording was not enabled when the lead was received."
        in _lead_body(page, "ACME-NOREC")
    )
    assert (
        "Not eligible for review: the call was not answered: the lead was never called."
        in _lead_body(page, "ACME-NEVER")
    )
    # Received January 11 at 15:00 UTC: the window closed seven days later.
    assert (
        "Not eligible for review: the lead was received 7 days or more before submission: "
        "the time to submit it ended on Jan 18, 2026 at 15:00 (UTC)."
    ) in _lead_body(page, "ACME-OLD")
    # The lead's own review page says the same.
    own = client.get("/portal/calls/ACME-OLD/review")
    assert own.status_code == 200
    assert 'data-condition="window"' in own.text and "Submit for review" not in own.text


def test_r13_no_reason_is_chosen_for_the_customer(
    client: TestClient, world: PortalWorld, sessions: sessionmaker[Session]
) -> None:
    sign_in(client, "ana@acme.test")
    form = _lead_body(client.get("/portal/calls").text, "ACME-000")
    assert '<option value="" selected>Choose a reason</option>' in form
    assert len(re.findall(r"<option [^>]*selected", form)) == 1


def test_r13_a_too_short_explanation_shows_the_form_again_with_the_typed_text(
    client: TestClient, world: PortalWorld, sessions: sessionmaker[Session]
) -> None:
    token = sign_in(client, "ana@acme.test")
    refused = client.post(
        "/portal/calls/ACME-001/review",
        data={"reason": "solicitor", "explanation": SHORT, "csrf_token": token},
    )
    assert refused.status_code == 422
    page = refused.text
    assert "<h1>Submit lead ACME-001 for review</h1>" in page
    assert f">{SHORT}</textarea>" in page  # the typed text is kept
    assert '<option value="solicitor" selected>' in page  # and the chosen reason
    assert re.search(
        r'<p class="field-error" id="explanation-lead-error">must be at least 20 characters</p>',
        page,
    )
    assert 'aria-invalid="true"' in page
    assert _reviews(sessions) == 0
    # No reason chosen: said beside the reason, the explanation kept.
    unchosen = client.post(
        "/portal/calls/ACME-001/review",
        data={
            "reason": "",
            "explanation": "A caller selling van leases, not a buyer.",
            "csrf_token": token,
        },
    )
    assert unchosen.status_code == 422
    assert "choose why this lead should not be billed" in unchosen.text
    assert ">A caller selling van leases, not a buyer.</textarea>" in unchosen.text
    assert _reviews(sessions) == 0
    # Corrected on the same form, it is accepted.
    accepted = client.post(
        "/portal/calls/ACME-001/review",
        data={
            "reason": "solicitor",
            "explanation": "A caller selling van leases, not a buyer.",
            "csrf_token": token,
        },
    )
    assert accepted.status_code == 303 and _reviews(sessions) == 1


def test_r14_a_reject_without_a_note_shows_the_queue_again_with_the_reason_beside_the_note(
    client: TestClient, world: PortalWorld, sessions: sessionmaker[Session]
) -> None:
    token = sign_in(client, "ana@acme.test")
    client.post(
        "/portal/calls/ACME-002/review",
        data={
            "reason": "job_seeker",
            "explanation": "The caller asked for a job as an assistant.",
            "csrf_token": token,
        },
    )
    client.cookies.clear()
    token = sign_in(client, "rosa@operator.test")
    queue = client.get("/portal/staff/reviews").text
    review_id = re.search(r'id="review-(\d+)"', queue).group(1)  # type: ignore[union-attr]
    assert "The caller was seeking employment" in queue and "Under review" in queue
    refused = client.post(
        f"/portal/staff/reviews/{review_id}/decide",
        data={"decision": "reject", "note": "   ", "csrf_token": token},
    )
    assert refused.status_code == 422
    assert "<h1>Review queue</h1>" in refused.text
    assert (
        f'<p class="field-error" id="note-{review_id}-error">is required to reject: '
        "tell the customer why the lead stays billable</p>"
    ) in html.unescape(refused.text)
    with sessions() as session:
        assert session.get_one(Review, int(review_id)).status == "open"
    # A question without text is refused the same way; a note typed is kept on a refusal.
    asked = client.post(
        f"/portal/staff/reviews/{review_id}/decide",
        data={"decision": "request-info", "note": "", "csrf_token": token},
    )
    assert asked.status_code == 422 and "write the question" in asked.text
    rejected = client.post(
        f"/portal/staff/reviews/{review_id}/decide",
        data={"decision": "reject", "note": "He asked about the listing.", "csrf_token": token},
    )
    assert rejected.status_code == 303


def test_r14_the_customer_reads_the_question_and_replies_the_review_returns_to_the_queue(
    client: TestClient, world: PortalWorld, sessions: sessionmaker[Session]
) -> None:
    token = sign_in(client, "ana@acme.test")
    client.post(
        "/portal/calls/ACME-003/review",
        data={
            "reason": "solicitor",
            "explanation": "A caller selling van leases, not a buyer.",
            "csrf_token": token,
        },
    )
    with sessions() as session, session.begin():
        review = session.scalars(select(Review)).one()
        decide_review(
            session,
            review.id,
            "request-info",
            decided_by="rosa@operator.test",
            as_of=AS_OF,
            note="Did the caller mention a house at all?",
        )
        review_id = review.id
    page = client.get("/portal/reviews").text
    shown = re.sub(r"<[^>]+>", " ", page)  # what a reader sees: words, not codes
    assert "More information requested" in shown and "info_requested" not in shown
    assert "The caller was soliciting" in page
    assert "The reviewer asked" in page and "Did the caller mention a house at all?" in page
    assert f'action="/portal/reviews/{review_id}/reply"' in page
    assert 'maxlength="2000"' in page
    empty = client.post(
        f"/portal/reviews/{review_id}/reply", data={"message": " ", "csrf_token": token}
    )
    assert empty.status_code == 422
    assert f'id="reply-{review_id}-error">must be at least 1 characters' in empty.text
    too_long = "x" * 2001
    long = client.post(
        f"/portal/reviews/{review_id}/reply", data={"message": too_long, "csrf_token": token}
    )
    assert long.status_code == 422 and f">{too_long}</textarea>" in long.text
    replied = client.post(
        f"/portal/reviews/{review_id}/reply",
        data={"message": "No, only van leases.", "csrf_token": token},
    )
    assert replied.status_code == 303
    with sessions() as session:
        assert session.get_one(Review, review_id).status == "open"
    page = client.get("/portal/reviews").text
    assert "You replied" in page and "No, only van leases." in page
    assert f'action="/portal/reviews/{review_id}/reply"' not in page  # answered
    # The reviewer sees the reply beside the question.
    client.cookies.clear()
    sign_in(client, "rosa@operator.test")
    queue = client.get("/portal/staff/reviews").text
    assert "Reply from ana@acme.test" in queue and "No, only van leases." in queue
