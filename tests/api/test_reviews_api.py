"""Reviews and credit notes over HTTP: every endpoint with every role, other accounts' ids.

Customers submit and reply for their own account only and get 404 for another
account's reviews and credit notes; reviewers and admins decide.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from leadbill.accounts.models import Account
from leadbill.auth.service import Role
from leadbill.billing.models import Invoice
from leadbill.core.money import Money
from leadbill.core.rating import Line, LineKind
from leadbill.credit_notes.service import issue_credit_note
from leadbill.leads.service import ingest_events
from leadbill.reviews.flows import decide_review
from leadbill.reviews.service import submit_review
from tests.api.conftest import World

STAFF = ("admin", "billing", "reviewer", "viewer")
READERS = (*STAFF, "customer")
ROLES = [role.value for role in Role]
SPAN = "from=2020-01-01T00:00:00Z&to=2100-01-01T00:00:00Z"
EXPLANATION = "The caller was selling advertising, not looking for a plumber."


@dataclass
class Reviews:
    """The ids of the review test data, per account."""

    open: dict[str, int]
    waiting: dict[str, int]
    fresh_lead: dict[str, str]
    credit_notes: dict[str, str]


def _leads(session: Session, code: str, received: datetime) -> None:
    rows = []
    for lead in ("R1", "R2", "R3"):
        for n, kind in enumerate(("received", "call_answered", "recording_available")):
            rows.append(
                {
                    "idempotency_key": f"{code}-{lead}-{kind}",
                    "account": code,
                    "lead_id": f"{code}-{lead}",
                    "event_type": kind,
                    "occurred_at": (received + timedelta(minutes=n)).isoformat(),
                }
            )
    assert ingest_events(session, rows, as_of=received).rejected == 0


@pytest.fixture
def reviews(sessions: sessionmaker[Session], world: World) -> Reviews:
    """Per account: an open review, one waiting for a reply, a lead to submit, a credit note."""
    received = datetime.now(UTC) - timedelta(days=1)
    data = Reviews({}, {}, {}, {})
    with sessions.begin() as session:
        for code in ("acme", "other"):
            _leads(session, code, received)
            common = {"reason": "solicitor", "explanation": EXPLANATION, "submitted_by": "pat"}
            first = submit_review(session, code, f"{code}-R1", as_of=received, **common)
            second = submit_review(session, code, f"{code}-R2", as_of=received, **common)
            decide_review(
                session,
                second.id,
                "request-info",
                decided_by="qa",
                note="Which company?",
                as_of=received,
            )
            account = session.scalars(select(Account).where(Account.code == code)).one()
            invoice = session.scalars(
                select(Invoice).where(Invoice.account_id == account.id).order_by(Invoice.id)
            ).first()
            assert invoice is not None
            ten = Money(Decimal("10.00"), "USD")
            note = issue_credit_note(
                session,
                account_id=account.id,
                review_id=first.id,
                invoice=invoice,
                lead_id=first.lead_id,
                reason="solicitor",
                issued_at=received,
                lines=[Line(LineKind.LEADS, "credit", 1, ten, ten)],
            )
            data.open[code], data.waiting[code] = first.id, second.id
            data.fresh_lead[code] = f"{code}-R3"
            data.credit_notes[code] = note.number
    return data


@dataclass(frozen=True)
class Case:
    """One endpoint: how to call it and who may."""

    name: str
    method: str
    path: str
    allowed: tuple[str, ...]
    body: dict[str, Any] | None = None
    success: int = 200
    customer_refusal: int = 403


CASES = [
    Case(
        "submit",
        "POST",
        "/v1/reviews",
        ("admin", "customer"),
        {
            "account": "acme",
            "lead_id": "{acme_lead}",
            "reason": "solicitor",
            "explanation": EXPLANATION,
        },
        201,
    ),
    Case("queue", "GET", "/v1/reviews", READERS),
    Case("read", "GET", "/v1/reviews/{acme_open}", READERS),
    Case(
        "decide",
        "POST",
        "/v1/reviews/{acme_open}/decision",
        ("admin", "reviewer"),
        {"decision": "reject", "note": "A new customer on the recording."},
    ),
    Case(
        "reply",
        "POST",
        "/v1/reviews/{acme_waiting}/reply",
        ("admin", "customer"),
        {"message": "An advertising agency."},
    ),
    Case("credit notes", "GET", "/v1/credit-notes", READERS),
    Case("credit note", "GET", "/v1/credit-notes/{acme_note}", READERS),
    Case("statistics", "GET", f"/v1/accounts/acme/review-statistics?{SPAN}", READERS),
]


def _fill(value: Any, data: Reviews) -> Any:
    if not isinstance(value, str):
        return value
    return value.format(
        acme_lead=data.fresh_lead["acme"],
        other_lead=data.fresh_lead["other"],
        acme_open=data.open["acme"],
        other_open=data.open["other"],
        acme_waiting=data.waiting["acme"],
        other_waiting=data.waiting["other"],
        acme_note=data.credit_notes["acme"],
        other_note=data.credit_notes["other"],
    )


def _call(client: TestClient, world: World, data: Reviews, role: str, case: Case) -> Any:
    body = {k: _fill(v, data) for k, v in case.body.items()} if case.body else None
    return client.request(case.method, _fill(case.path, data), json=body, headers=world.auth(role))


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name.replace(" ", "-"))
def test_every_review_endpoint_with_every_role(
    client: TestClient, world: World, reviews: Reviews, case: Case, role: str
) -> None:
    response = _call(client, world, reviews, role, case)
    if role in case.allowed:
        expected = case.success
    elif role == "customer":
        expected = case.customer_refusal
    else:
        expected = 403
    assert response.status_code == expected, response.text


OTHER_ACCOUNT = [
    Case(
        "submit",
        "POST",
        "/v1/reviews",
        READERS,
        {
            "account": "other",
            "lead_id": "{other_lead}",
            "reason": "solicitor",
            "explanation": EXPLANATION,
        },
    ),
    Case(
        "submit another account's lead on its own account",
        "POST",
        "/v1/reviews",
        READERS,
        {
            "account": "acme",
            "lead_id": "{other_lead}",
            "reason": "solicitor",
            "explanation": EXPLANATION,
        },
    ),
    Case("queue", "GET", "/v1/reviews?account=other", READERS),
    Case("read", "GET", "/v1/reviews/{other_open}", READERS),
    Case("decide", "POST", "/v1/reviews/{other_open}/decision", READERS, {"decision": "approve"}),
    Case("reply", "POST", "/v1/reviews/{other_waiting}/reply", READERS, {"message": "x"}),
    Case("credit notes", "GET", "/v1/credit-notes?account=other", READERS),
    Case("credit note", "GET", "/v1/credit-notes/{other_note}", READERS),
    Case("statistics", "GET", f"/v1/accounts/other/review-statistics?{SPAN}", READERS),
]


@pytest.mark.parametrize("case", OTHER_ACCOUNT, ids=lambda case: case.name.replace(" ", "-"))
def test_customer_gets_404_for_another_accounts_reviews(
    client: TestClient, world: World, reviews: Reviews, case: Case
) -> None:
    response = _call(client, world, reviews, "customer", case)
    assert response.status_code == 404, response.text
    assert response.headers["content-type"] == "application/problem+json"


def test_customer_lists_only_its_own_reviews_and_credit_notes(
    client: TestClient, world: World, reviews: Reviews
) -> None:
    headers = world.auth("customer")
    queue = client.get("/v1/reviews?status=all", headers=headers).json()
    assert {r["account"] for r in queue["data"]} == {"acme"}
    notes = client.get("/v1/credit-notes", headers=headers).json()["data"]
    assert [n["account"] for n in notes] == ["acme"]
    staff = client.get("/v1/reviews?status=all", headers=world.auth("reviewer")).json()
    assert {r["account"] for r in staff["data"]} == {"acme", "other"}


def test_ineligible_submission_names_the_condition(
    client: TestClient, world: World, reviews: Reviews, sessions: sessionmaker[Session]
) -> None:
    old = datetime.now(UTC) - timedelta(days=8)
    with sessions.begin() as session:
        rows = [
            {
                "idempotency_key": "old-received",
                "account": "acme",
                "lead_id": "OLD",
                "event_type": "received",
                "occurred_at": old.isoformat(),
            }
        ]
        ingest_events(session, rows, as_of=old)
    response = client.post(
        "/v1/reviews",
        json={
            "account": "acme",
            "lead_id": "OLD",
            "reason": "referral",
            "explanation": EXPLANATION,
        },
        headers=world.auth("customer"),
    )
    assert response.status_code == 409
    assert "(condition: answered)" in response.json()["detail"]


def test_review_statistics_over_http(client: TestClient, world: World, reviews: Reviews) -> None:
    response = client.get(
        f"/v1/accounts/acme/review-statistics?{SPAN}", headers=world.auth("customer")
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["submitted"], body["approved"], body["rejected"]) == (2, 0, 0)
    assert body["approval_rate"] is None
