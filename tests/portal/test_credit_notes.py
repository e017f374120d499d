"""R15 in the portal: an approval after invoicing shows as a credit note on both invoices."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from leadbill.api import create_app
from leadbill.billing.invoices import list_invoices
from leadbill.billing.service import run_billing
from leadbill.settings import Settings
from tests.conftest import utc
from tests.portal.conftest import sign_in
from tests.portal.world import add_february_lead, build_pay_per_lead

START = utc(2026, 1, 1)


@pytest.fixture
def clock() -> list[datetime]:
    """The portal's clock, moved by the test."""
    return [utc(2026, 2, 2, 15)]


@pytest.fixture
def pay_per_lead(sessions: sessionmaker[Session]) -> None:
    """A contractor paying per lead, January invoiced."""
    build_pay_per_lead(sessions)


@pytest.fixture
def pipe_client(
    sessions: sessionmaker[Session], database_url: str, clock: list[datetime]
) -> Iterator[TestClient]:
    """A client whose portal clock is `clock[0]`."""
    app = create_app(sessions)
    app.state.portal_clock = lambda: clock[0]
    app.state.portal_settings = Settings(database_url=database_url)
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        yield client


def test_r15_an_approval_after_invoicing_is_a_credit_note_on_the_next_invoice(
    pipe_client: TestClient,
    pay_per_lead: None,
    sessions: sessionmaker[Session],
    clock: list[datetime],
) -> None:
    client = pipe_client
    token = sign_in(client, "dana@pipe.test")
    # January's call report, one period back, offers the lead for review.
    january_calls = client.get("/portal/calls?period=0").text
    assert "PIPE-1" in january_calls and "Submit for review" in january_calls
    submitted = client.post(
        "/portal/calls/PIPE-1/review",
        data={
            "reason": "solicitor",
            "explanation": "A van leasing sales call.",
            "csrf_token": token,
        },
    )
    assert submitted.status_code == 303, submitted.text
    client.cookies.clear()
    token = sign_in(client, "qa@op.test")
    queue = client.get("/portal/staff/reviews").text
    review_id = queue.split('id="review-', 1)[1].split('"', 1)[0]
    decided = client.post(
        f"/portal/staff/reviews/{review_id}/decide",
        data={"decision": "approve", "csrf_token": token},
    )
    assert decided.status_code == 303
    assert "CN-000001" in client.get("/portal/staff/reviews").text  # the flash message

    # February has a lead of its own: its invoice takes the credit as a negative line.
    add_february_lead(sessions)
    clock[0] = utc(2026, 3, 2)
    run_billing(sessions, utc(2026, 3, 1, 1))
    with sessions() as session:
        january, february = [i.number for i in list_invoices(session) if i.number][-2:]
    client.cookies.clear()
    sign_in(client, "dana@pipe.test")
    credited = client.get(f"/portal/invoices/{january}").text
    assert "Credit notes against this invoice" in credited and "CN-000001" in credited
    assert "40.00 USD" in credited
    following = client.get(f"/portal/invoices/{february}").text
    assert 'class="line-credit"' in following and "-40.00 USD" in following
