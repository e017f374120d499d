"""Customer and staff pages: figures from the services, one account's data only."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from leadbill.accounts.service import get_account
from leadbill.portal.web import money
from leadbill.reports.service import billing_summary
from tests.portal.conftest import sign_in
from tests.portal.world import AS_OF, CALLED_LEADS, PortalWorld


def _figure(html: str, name: str) -> str:
    found = re.search(rf'data-figure="{name}">([^<]+)<', html)
    assert found, name
    return found.group(1)


def test_r4_dashboard_shows_the_billing_summary(
    client: TestClient, world: PortalWorld, sessions: sessionmaker[Session]
) -> None:
    sign_in(client, "ana@acme.test")
    page = client.get("/portal/dashboard")
    assert page.status_code == 200
    with sessions() as session, session.begin():
        summary = billing_summary(session, get_account(session, "acme"), AS_OF)
    assert summary.counted_leads == CALLED_LEADS
    assert _figure(page.text, "counted_leads") == "7"
    assert _figure(page.text, "included_leads") == "5"
    assert _figure(page.text, "remaining_leads") == str(summary.remaining_leads) == "0"
    assert _figure(page.text, "overage_leads") == "2"
    assert _figure(page.text, "overage_so_far") == money(summary.overage_so_far) == "20.00 USD"
    assert _figure(page.text, "projected_cost") == money(summary.projected_cost)
    assert 'data-threshold="100"' in page.text and "reached" in page.text
    assert "<svg" in page.text and "allowance 5" in page.text
    assert "Other Realty" not in page.text


def test_invoices_are_the_accounts_own_and_another_accounts_is_404(
    client: TestClient, world: PortalWorld
) -> None:
    sign_in(client, "ana@acme.test")
    listing = client.get("/portal/invoices")
    assert listing.status_code == 200
    for number in world.invoices["acme"]:
        assert number in listing.text
    for number in world.invoices["other"]:
        assert number not in listing.text
    mine = client.get(f"/portal/invoices/{world.invoices['acme'][0]}")
    assert mine.status_code == 200
    assert "500.00 USD" in mine.text  # the plan fee line
    for number in world.invoices["other"]:
        theirs = client.get(f"/portal/invoices/{number}")
        assert theirs.status_code == 404
        assert "does not exist" in theirs.text
    assert client.get("/portal/invoices/INV-999999").status_code == 404


def test_staff_pages_are_refused_to_customers_and_customer_pages_to_staff(
    client: TestClient, world: PortalWorld
) -> None:
    sign_in(client, "ana@acme.test")
    assert client.get("/portal/staff/reviews").status_code == 403
    client.cookies.clear()
    sign_in(client, "vic@operator.test")
    assert client.get("/portal/dashboard").status_code == 403
    assert client.get("/portal/staff/reviews").status_code == 200
    # Staff see every account's invoices, on their own paged list.
    moved = client.get("/portal/invoices")
    assert moved.status_code == 303 and moved.headers["location"] == "/portal/staff/invoices"
    listing = client.get("/portal/staff/invoices").text
    assert world.invoices["acme"][0] in listing and world.invoices["other"][0] in listing


def test_r13_r15_customer_submits_a_review_and_a_reviewer_approves_it(
    client: TestClient, world: PortalWorld, sessions: sessionmaker[Session]
) -> None:
    token = sign_in(client, "ana@acme.test")
    calls = client.get("/portal/calls")
    assert calls.status_code == 200
    assert "ACME-000" in calls.text and "OTHER-000" not in calls.text
    # Every called lead may be disputed; the uncalled one is not eligible (R13).
    assert calls.text.count("Submit for review") == CALLED_LEADS
    # Another account's lead is not found.
    other = client.post(
        "/portal/calls/OTHER-000/review",
        data={
            "reason": "solicitor",
            "explanation": "A van leasing sales call.",
            "csrf_token": token,
        },
    )
    assert other.status_code == 404
    submitted = client.post(
        "/portal/calls/ACME-000/review",
        data={
            "reason": "solicitor",
            "explanation": "A van leasing sales call.",
            "csrf_token": token,
        },
    )
    assert submitted.status_code == 303
    reviews = client.get("/portal/reviews")
    assert "submitted for review" in reviews.text and "ACME-000" in reviews.text
    again = client.post(
        "/portal/calls/ACME-000/review",
        data={"reason": "solicitor", "explanation": "The same call again.", "csrf_token": token},
    )
    assert again.status_code == 409

    client.cookies.clear()
    sign_in(client, "vic@operator.test")  # a viewer reads the queue but may not decide
    viewer_page = client.get("/portal/staff/reviews").text
    assert "ACME-000" in viewer_page and 'value="approve"' not in viewer_page
    client.cookies.clear()
    token = sign_in(client, "rosa@operator.test")
    queue = client.get("/portal/staff/reviews").text
    review_id = re.search(r'id="review-(\d+)"', queue).group(1)  # type: ignore[union-attr]
    decided = client.post(
        f"/portal/staff/reviews/{review_id}/decide",
        data={"decision": "approve", "csrf_token": token},
    )
    assert decided.status_code == 303
    assert "approved" in client.get("/portal/staff/reviews?status=all").text

    client.cookies.clear()
    sign_in(client, "ana@acme.test")
    assert "approved" in client.get("/portal/reviews").text
    # Whatever the approval changed, the dashboard still says what the summary says.
    page = client.get("/portal/dashboard").text
    with sessions() as session, session.begin():
        summary = billing_summary(session, get_account(session, "acme"), AS_OF)
    assert _figure(page, "counted_leads") == str(summary.counted_leads)


def test_r9_call_report_csv_export_has_the_cli_columns_and_only_the_accounts_leads(
    client: TestClient, world: PortalWorld
) -> None:
    sign_in(client, "ana@acme.test")
    exported = client.get("/portal/calls.csv")
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    assert 'filename="call-report-acme-2026-01-01.csv"' in exported.headers["content-disposition"]
    lines = exported.text.strip().splitlines()
    assert lines[0].startswith("lead_id,seat,name,phone")
    assert len(lines) == 1 + CALLED_LEADS + 1  # the header, the called leads, the uncalled one
    assert all(line.startswith("ACME-") for line in lines[1:])
    assert sum(",yes," in line for line in lines[1:]) == CALLED_LEADS


def test_call_report_of_a_period_that_has_not_started_is_404(
    client: TestClient, world: PortalWorld
) -> None:
    sign_in(client, "ana@acme.test")
    assert client.get("/portal/calls?period=0").status_code == 200
    assert client.get("/portal/calls?period=1").status_code == 404
    assert client.get("/portal/calls.csv?period=1").status_code == 404


def test_a_query_field_of_the_wrong_shape_gets_an_html_page_naming_it(
    client: TestClient, world: PortalWorld
) -> None:
    sign_in(client, "ana@acme.test")
    page = client.get("/portal/calls", params={"period": "abc"})
    assert page.status_code == 422
    assert page.headers["content-type"].startswith("text/html")
    assert "period: Input should be a valid integer" in page.text
