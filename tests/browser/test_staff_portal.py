"""Operator staff in Chromium: a billing user runs billing for an as_of and sees the
invoices, records a payment; a reviewer marks a lead non-billable (R16). A screenshot
of each staff page goes to test-output/screenshots/."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from leadbill.billing.invoices import list_invoices
from tests.browser.conftest import Shots
from tests.browser.test_portal import _figure, _sign_in
from tests.conftest import utc
from tests.portal.staff_world import STAFF_USERS, StaffWorld, build_staff_world


@pytest.fixture
def staff_world(sessions: sessionmaker[Session]) -> StaffWorld:
    """The portal's world with an admin, a billing user and a failed webhook delivery."""
    return build_staff_world(sessions, reviews=True)


def test_billing_user_runs_billing_for_an_as_of_and_sees_the_invoices(
    context: Any,
    server: str,
    staff_world: StaffWorld,
    sessions: sessionmaker[Session],
    clock: list[Any],
    shots: Shots,
) -> None:
    clock[0] = utc(2026, 2, 1, 9)
    page = context.new_page()
    _sign_in(page, server, STAFF_USERS["billing"])
    assert page.url.endswith("/portal/staff/reviews")
    shots.take(page, "review-queue")
    nav = page.get_by_role("navigation", name="Main")

    nav.get_by_role("link", name="Accounts").click()
    page.wait_for_url("**/staff/accounts")
    shots.take(page, "accounts")
    page.get_by_role("link", name="acme", exact=True).click()
    page.wait_for_url("**/staff/accounts/acme")
    # February has begun: no lead counts in it yet; January waits for the billing run.
    assert _figure(page, "counted_leads") == "0"
    assert page.get_by_text("2026-02-01 – 2026-02-28 on pkg-5").count() == 1
    shots.take(page, "account")
    page.get_by_role("link", name="Call report").click()
    page.wait_for_url("**/staff/accounts/acme/calls")
    assert page.get_by_role("button", name="Mark non-billable").count() == 0  # billing: no R16
    shots.take(page, "account-call-report")

    nav.get_by_role("link", name="Plans").click()
    page.wait_for_url("**/staff/plans")
    shots.take(page, "plans")

    nav.get_by_role("link", name="Billing runs").click()
    page.wait_for_url("**/staff/billing-runs")
    shots.take(page, "billing-runs")
    # The field is read in the operator's time zone, as the pages show instants.
    page.get_by_label("As of (America/New_York)").fill("2026-02-01T00:30")
    page.get_by_role("button", name="Run billing").click()
    page.wait_for_selector("#run-result")
    assert _figure(page, "run_as_of") == "2026-02-01 00:30"
    with sessions() as session:
        issued = [
            i for i in list_invoices(session) if i.kind == "period" and (i.boundary_index or 0)
        ]
    assert len(issued) == 2
    # January's overage (2 leads at 10.00) and February's fee (500.00), per account.
    assert _figure(page, "invoices_issued") == "2"
    for invoice in issued:
        cell = page.locator(f'[data-invoice-total="{invoice.number}"]')
        assert cell.inner_text().strip() == "520.00 USD"
    assert _figure(page, "run_total_USD") == "1,040.00 USD"
    shots.take(page, "billing-run-result")
    page.get_by_role("button", name="Run billing").click()  # the same as_of again
    page.wait_for_selector('[data-result="nothing"]')
    assert "This run changed nothing." in page.locator("#run-result").inner_text()
    shots.take(page, "billing-run-again")
    with sessions() as session:
        assert len(list_invoices(session)) == 6

    nav.get_by_role("link", name="Invoices").click()
    page.wait_for_url("**/staff/invoices")
    page.get_by_label("Account").select_option("acme")
    page.get_by_label("Status").select_option("open")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/staff/invoices?account=acme&status=open")
    shots.take(page, "invoices")
    acme_run = next(i for i in issued if i.account_id == issued[0].account_id)
    page.locator(f"#invoice-{acme_run.number}").get_by_role("link", name="Record a payment").click()
    page.wait_for_url("**/staff/payments?invoice=*")
    assert page.get_by_label("Account code").input_value() == "acme"
    page.get_by_label("Amount").fill("520.00")
    page.get_by_label("Reference").fill("wire-feb")
    page.get_by_label("Received at (America/New_York; empty means now)").fill("2026-02-01T03:00")
    page.get_by_role("button", name="Record payment").click()
    page.wait_for_selector(".flash")
    assert "the invoice is paid" in page.locator(".flash").inner_text()
    with sessions() as session:
        paid = next(i for i in list_invoices(session) if i.number == acme_run.number)
        assert paid.paid_at == utc(2026, 2, 1, 8)  # 03:00 in New York
    assert page.locator("tbody tr").first.inner_text().startswith("2026-02-01 03:00")
    shots.take(page, "payments")
    # Another account's open invoices: the account first, then only its invoices.
    page.get_by_label("Account code").fill("other")
    page.get_by_role("button", name="Show its open invoices").click()
    page.wait_for_url("**/staff/payments?account=other*")
    listed = page.get_by_label("Open invoice of other").locator("option").all_inner_texts()
    with sessions() as session:
        other_open = [
            i.number
            for i in list_invoices(session)
            if i.status == "open" and i.account_id != acme_run.account_id
        ]
    assert [text.split(" · ")[0] for text in listed] == other_open
    shots.take(page, "payments-choose-account")

    nav.get_by_role("link", name="Credit notes").click()
    page.wait_for_url("**/staff/credit-notes")
    shots.take(page, "credit-notes")
    nav.get_by_role("link", name="Webhooks").click()
    page.wait_for_url("**/staff/webhooks")
    assert page.locator(f"#delivery-{staff_world.delivery_id}").get_by_text("failed").count()
    shots.take(page, "webhooks")
    page.get_by_role("link", name=str(staff_world.delivery_id), exact=True).click()
    page.wait_for_url(f"**/staff/webhooks/deliveries/{staff_world.delivery_id}")
    page.get_by_role("button", name="Redeliver now").click()
    page.wait_for_selector(".flash")
    shots.take(page, "webhook-delivery")


def test_r16_reviewer_marks_a_lead_non_billable_in_the_browser(
    context: Any, server: str, staff_world: StaffWorld, shots: Shots
) -> None:
    page = context.new_page()
    _sign_in(page, server, STAFF_USERS["reviewer"])
    nav = page.get_by_role("navigation", name="Main")
    assert nav.get_by_role("link", name="Webhooks").count() == 0  # the API refuses reviewers
    page.goto(f"{server}/portal/staff/accounts/acme/calls")
    # The customer's filters: the leads not counted, then all again.
    page.get_by_label("Counted", exact=True).select_option("no")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/staff/accounts/acme/calls?*counted=no*")
    assert page.locator("li.lead").evaluate_all("els => els.map(e => e.id)") == ["lead-ACME-007"]
    assert page.get_by_role("link", name="Download these leads as CSV").count() == 1
    shots.take(page, "staff-call-report-filtered")
    page.get_by_role("link", name="Clear", exact=True).click()
    page.wait_for_url("**/staff/accounts/acme/calls?period=0")
    lead = page.locator("#lead-ACME-002")
    lead.locator("summary").click()
    lead.get_by_label("Mark non-billable before invoicing, because").select_option("job_seeker")
    shots.take(page, "staff-call-report-decision")
    lead.get_by_role("button", name="Mark non-billable").click()
    page.wait_for_selector(".flash")
    assert "Lead ACME-002 is now not billable" in page.locator(".flash").inner_text()
    page.goto(f"{server}/portal/staff/accounts/acme")
    assert _figure(page, "counted_leads") == "6"
    assert _figure(page, "overage_so_far") == "10.00 USD"
    shots.take(page, "account-after-decision")
