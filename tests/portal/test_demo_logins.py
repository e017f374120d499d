"""The logins `make demo` prints open the portal on the demo data, at the demo's clock."""

from __future__ import annotations

import html
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from leadbill.api import create_app
from leadbill.demo import MONTH_TO_DATE, run_demo
from leadbill.portal.demo import DEMO_USERS
from leadbill.settings import Settings
from tests.portal.conftest import sign_in


@pytest.fixture
def demo_client(
    sessions: sessionmaker[Session], database_url: str, tmp_path: Path
) -> Iterator[TestClient]:
    run_demo(sessions, tmp_path)
    app = create_app(sessions)
    app.state.portal_clock = lambda: MONTH_TO_DATE
    app.state.portal_settings = Settings(database_url=database_url)
    with TestClient(
        app, base_url="https://testserver", raise_server_exceptions=False, follow_redirects=False
    ) as client:
        yield client


def test_every_demo_login_opens_its_pages(demo_client: TestClient) -> None:
    pages = {
        "summit-realty": ["/portal/dashboard", "/portal/calls", "/portal/plan", "/portal/seats"],
        "acme-sales": ["/portal/dashboard", "/portal/licences", "/portal/invoices"],
        "pipe-pros": ["/portal/dashboard", "/portal/calls", "/portal/reviews"],
        "reviewer": ["/portal/staff/reviews", "/portal/staff/accounts"],
        "admin": ["/portal/staff/billing-runs", "/portal/staff/payments", "/portal/staff/webhooks"],
    }
    for email, password, role, account in DEMO_USERS:
        demo_client.cookies.clear()
        sign_in(demo_client, email, password)
        for path in pages[account or role]:
            page = demo_client.get(path)
            assert page.status_code == 200, (email, path, page.text[:500])
    # The customer's dashboard shows November so far, and a plan change can be previewed.
    demo_client.cookies.clear()
    token = sign_in(demo_client, "broker@summit-realty.example", "summit-demo-2026")
    dashboard = demo_client.get("/portal/dashboard").text
    assert 'data-figure="counted_leads">172<' in dashboard
    assert "isa-400" in demo_client.get("/portal/plan").text
    preview = demo_client.post(
        "/portal/plan/preview", data={"plan": "isa-400", "csrf_token": token}
    )
    # (4400.00 - 2400.00) x 198/721 of November (see tests/integration/test_demo.py).
    assert preview.status_code == 200 and "549.24" in preview.text
    # R13: the contractor may dispute one November lead on the demo's evening; the
    # others say which condition they fail (as the README says).
    demo_client.cookies.clear()
    token = sign_in(demo_client, "dana@pipe-pros.example", "pipes-demo-2026")
    calls = html.unescape(demo_client.get("/portal/calls").text)
    assert _lead(calls, "pp-202611-leak").count("Submit for review") == 1
    assert (
        "the call was not answered: no call reached a person (the last call: nobody picked up)"
        in (_lead(calls, "pp-202611-missed"))
    )
    assert "the time to submit it ended on Nov 17, 2026 at 11:00 (America/Chicago)" in (
        _lead(calls, "pp-202611-heater")
    )
    assert "call recording was not enabled" in _lead(calls, "pp-202611-drain")
    submitted = demo_client.post(
        "/portal/calls/pp-202611-leak/review",
        data={
            "reason": "solicitor",
            "explanation": "A sales call from a van leasing company, not a leak.",
            "csrf_token": token,
        },
    )
    assert submitted.status_code == 303


def _lead(page: str, lead_id: str) -> str:
    start = page.index(f'id="lead-{lead_id}"')
    end = page.find('<li class="lead"', start)
    return page[start : end if end != -1 else len(page)]
