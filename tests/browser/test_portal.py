"""A customer and a reviewer use the portal in Chromium: figures, isolation, CSRF, reviews."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from pypdf import PdfReader
from sqlalchemy.orm import Session, sessionmaker

from leadbill.accounts.service import get_account
from leadbill.billing.invoices import list_invoices
from leadbill.billing.service import run_billing
from leadbill.portal.web import money
from leadbill.reports.service import billing_summary
from tests.browser.conftest import Shots
from tests.conftest import utc
from tests.portal.world import (
    AS_OF,
    CALLED_LEADS,
    PASSWORD,
    PortalWorld,
    add_february_lead,
    build_pay_per_lead,
)


def _sign_in(page: Any, server: str, email: str) -> None:
    """Sign in with the keyboard only: type, Tab to the password, Enter to submit."""
    page.goto(f"{server}/portal/")
    assert page.url.endswith("/portal/sign-in")
    page.get_by_label("E-mail").fill(email)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: not url.endswith("/sign-in"), timeout=10_000)


def _figure(page: Any, name: str) -> str:
    return str(page.locator(f'[data-figure="{name}"]').inner_text()).strip()


def test_r4_customer_reads_the_dashboard_figures_of_the_billing_summary(
    context: Any,
    server: str,
    world: PortalWorld,
    sessions: sessionmaker[Session],
    shots: Shots,
) -> None:
    page = context.new_page()
    page.goto(f"{server}/portal/sign-in")
    shots.take(page, "sign-in")
    _sign_in(page, server, "ana@acme.test")
    assert page.url.endswith("/portal/dashboard")
    with sessions() as session, session.begin():
        summary = billing_summary(session, get_account(session, "acme"), AS_OF)
    assert summary.counted_leads == CALLED_LEADS
    assert _figure(page, "counted_leads") == str(summary.counted_leads)
    assert _figure(page, "included_leads") == str(summary.included_leads)
    assert _figure(page, "remaining_leads") == str(summary.remaining_leads)
    assert _figure(page, "overage_leads") == str(summary.overage_leads)
    assert _figure(page, "overage_so_far") == money(summary.overage_so_far) == "20.00 USD"
    assert _figure(page, "projected_cost") == money(summary.projected_cost)
    assert page.locator("svg.chart rect.bar").count() >= 1
    shots.take(page, "dashboard")
    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    shots.take(page, "dashboard-phone")
    page.set_viewport_size({"width": 1280, "height": 900})

    page.get_by_role("link", name="Invoices").click()
    page.wait_for_url("**/portal/invoices")
    for number in world.invoices["acme"]:
        assert page.get_by_role("link", name=number).count() == 1
    shots.take(page, "invoices")
    page.get_by_role("link", name=world.invoices["acme"][0]).click()
    page.wait_for_url(f"**/portal/invoices/{world.invoices['acme'][0]}")
    assert "500.00 USD" in page.locator("table.lines").inner_text()
    shots.take(page, "invoice")

    page.get_by_role("link", name="Call report").click()
    page.wait_for_url("**/portal/calls")
    page.locator("#lead-ACME-001 summary").click()
    assert page.locator("#lead-ACME-001").get_by_text("Call history").is_visible()
    shots.take(page, "call-report")


def test_a_customer_cannot_open_another_accounts_invoice_by_editing_the_url(
    context: Any, server: str, world: PortalWorld, shots: Shots
) -> None:
    page = context.new_page()
    _sign_in(page, server, "ana@acme.test")
    for number in world.invoices["other"]:
        response = page.goto(f"{server}/portal/invoices/{number}")
        assert response.status == 404
        assert page.get_by_role("heading", name="Not found").is_visible()
        assert "Other Realty" not in page.content()
    shots.take(page, "other-accounts-invoice")
    response = page.goto(f"{server}/portal/invoices/{world.invoices['acme'][0]}")
    assert response.status == 200


def test_a_form_posted_without_its_csrf_token_is_refused(
    context: Any, server: str, world: PortalWorld, shots: Shots
) -> None:
    page = context.new_page()
    _sign_in(page, server, "ana@acme.test")
    page.goto(f"{server}/portal/calls")
    page.locator("#lead-ACME-002 summary").click()
    form = page.locator("#lead-ACME-002 form.review-form")
    form.locator('input[name="csrf_token"]').evaluate("input => input.remove()")
    form.get_by_label("Explanation").fill("A caller selling van leases, not a buyer.")
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        form.get_by_role("button", name="Submit for review").click()
    assert posted.value.status == 403
    assert "This form has expired" in page.content()
    shots.take(page, "csrf-refused")
    # A post from outside the page (no token at all) is refused as well, and nothing changed.
    outside = page.request.post(f"{server}/portal/sign-out", form={})
    assert outside.status == 403
    page.goto(f"{server}/portal/reviews")
    assert "No reviews yet" in page.content()


def test_r13_r14_customer_submits_a_review_and_a_reviewer_approves_it_in_place(
    browser: Any, server: str, world: PortalWorld, shots: Shots
) -> None:
    customer = browser.new_context(viewport={"width": 1280, "height": 900})
    page = customer.new_page()
    _sign_in(page, server, "ana@acme.test")
    page.goto(f"{server}/portal/calls")
    lead = page.locator("#lead-ACME-003")
    lead.locator("summary").click()
    lead.get_by_label("Why should this lead not be billed?").select_option("solicitor")
    lead.get_by_label("Explanation").fill("A caller selling van leases, not a buyer.")
    shots.take(page, "review-form")
    lead.get_by_role("button", name="Submit for review").click()
    page.wait_for_url("**/portal/reviews")
    assert "Lead ACME-003 was submitted for review" in page.get_by_role("status").inner_text()
    row = page.locator("li.review", has_text="ACME-003")
    assert "Under review" in row.inner_text()
    shots.take(page, "reviews-submitted")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/portal/sign-in")
    customer.close()

    staff = browser.new_context(viewport={"width": 1280, "height": 900})
    page = staff.new_page()
    _sign_in(page, server, "rosa@operator.test")
    assert page.url.endswith("/portal/staff/reviews")
    card = page.locator("li.review", has_text="ACME-003")
    assert "The caller was soliciting" in card.inner_text()
    shots.take(page, "review-queue")
    card.get_by_role("button", name="Approve").click()
    page.wait_for_url("**/portal/staff/reviews")
    assert "approved" in page.get_by_role("status").inner_text()
    assert page.locator("li.review", has_text="ACME-003").count() == 0  # left the queue
    shots.take(page, "review-approved")
    staff.close()

    customer = browser.new_context(viewport={"width": 1280, "height": 900})
    page = customer.new_page()
    _sign_in(page, server, "ana@acme.test")
    page.goto(f"{server}/portal/reviews")
    assert "Approved" in page.locator("li.review", has_text="ACME-003").inner_text()
    customer.close()


def test_r15_the_customer_sees_the_credit_note_of_an_approved_review_on_the_next_invoice(
    browser: Any,
    server: str,
    sessions: sessionmaker[Session],
    clock: list[datetime],
    shots: Shots,
) -> None:
    build_pay_per_lead(sessions)  # January's leads are invoiced at 40.00 each
    clock[0] = utc(2026, 2, 2, 15)
    customer = browser.new_context(viewport={"width": 1280, "height": 900})
    page = customer.new_page()
    _sign_in(page, server, "dana@pipe.test")
    page.get_by_role("link", name="Call report").click()
    page.get_by_role("link", name="Previous period").click()
    lead = page.locator("#lead-PIPE-1")
    lead.locator("summary").click()
    lead.get_by_label("Why should this lead not be billed?").select_option("solicitor")
    lead.get_by_label("Explanation").fill("A caller selling van leases, not a plumbing job.")
    lead.get_by_role("button", name="Submit for review").click()
    page.wait_for_url("**/portal/reviews")
    customer.close()

    staff = browser.new_context(viewport={"width": 1280, "height": 900})
    page = staff.new_page()
    _sign_in(page, server, "qa@op.test")
    page.locator("li.review", has_text="PIPE-1").get_by_role("button", name="Approve").click()
    page.wait_for_url("**/portal/staff/reviews")
    assert "CN-000001" in page.get_by_role("status").inner_text()
    staff.close()

    add_february_lead(sessions)
    run_billing(sessions, utc(2026, 3, 1, 1))
    clock[0] = utc(2026, 3, 2)
    with sessions() as session:
        january, february = [i.number for i in list_invoices(session) if i.number][-2:]
    customer = browser.new_context(viewport={"width": 1280, "height": 900})
    page = customer.new_page()
    _sign_in(page, server, "dana@pipe.test")
    page.get_by_role("link", name="Invoices").click()
    page.get_by_role("link", name=february).click()
    credit = page.locator("tr.line-credit")
    assert credit.count() == 1 and "-40.00 USD" in credit.inner_text()
    shots.take(page, "next-invoice-with-credit")
    page.goto(f"{server}/portal/invoices/{january}")
    assert "CN-000001" in page.locator("main").inner_text()
    shots.take(page, "credited-invoice")
    # The customer keeps the invoice as a PDF: the figures of the page, the credit note too.
    with page.expect_download() as download:
        page.get_by_role("link", name="Download this invoice as PDF").click()
    assert download.value.suggested_filename == f"{january}.pdf"
    text = _pdf_text(download.value.path())
    assert f"Invoice {january}" in text and "Status open" in text
    assert "3 40.00 USD 120.00 USD" in text  # three leads at 40.00
    assert "Total to pay 120.00 USD" in text and "Balance due 120.00 USD" in text
    assert "CN-000001 Credit for lead PIPE-1" in text and "40.00 USD" in text
    page.goto(f"{server}/portal/invoices/{february}")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download this invoice as PDF").click()
    text = _pdf_text(download.value.path())
    assert f"Invoice {february}" in text and "-40.00 USD" in text and "Status paid" in text
    customer.close()


def _pdf_text(path: Path) -> str:
    reader = PdfReader(str(path))
    return " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)


def _lead_ids(page: Any) -> set[str]:
    ids = page.locator("li.lead").evaluate_all("items => items.map(item => item.id)")
    return {str(item).removeprefix("lead-") for item in ids}


def test_r9_customer_filters_the_call_report_in_place_with_htmx(
    context: Any, server: str, world: PortalWorld, shots: Shots
) -> None:
    from playwright.sync_api import expect  # Playwright is imported once Chromium is there

    page = context.new_page()
    errors: list[str] = []  # e.g. htmx refused by the Content-Security-Policy, a missing icon
    page.on(
        "console", lambda m: errors.append(f"{m.text} {m.location}") if m.type == "error" else None
    )
    _sign_in(page, server, "ana@acme.test")
    page.get_by_role("link", name="Call report").click()
    page.wait_for_url("**/portal/calls")
    assert page.evaluate("typeof htmx") == "object"
    assert len(_lead_ids(page)) == CALLED_LEADS + 1
    page.evaluate("window.notReloaded = true")  # gone if the page were loaded again
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if r.headers.get("hx-request") else None)

    with page.expect_response(lambda r: "counted=no" in r.url) as answered:
        page.get_by_label("Counted").select_option("no")
    assert answered.value.request.headers.get("hx-request") == "true"
    expect(page.locator("li.lead")).to_have_count(1)
    assert _lead_ids(page) == {"ACME-007"}  # the lead never called (R2)
    assert "counted=no" in page.url  # the address follows the filters
    assert page.evaluate("window.notReloaded") is True

    page.get_by_label("Counted").select_option("")
    expect(page.locator("li.lead")).to_have_count(CALLED_LEADS + 1)
    page.get_by_label("Phone or e-mail").fill("(303) 555-0003")
    with page.expect_response(lambda r: "q=" in r.url):
        page.get_by_label("Phone or e-mail").press("Enter")
    expect(page.locator("li.lead")).to_have_count(1)
    assert _lead_ids(page) == {"ACME-003"}
    page.locator("#lead-ACME-003 summary").click()
    assert page.locator("#lead-ACME-003").get_by_text("Call history").is_visible()
    assert page.evaluate("window.notReloaded") is True
    # One request per choice: a later answer must not close the row just opened.
    assert len(asked) == 3, asked
    page.wait_for_timeout(300)
    assert page.locator("#lead-ACME-003 details").get_attribute("open") is not None
    shots.take(page, "call-report-filtered")

    # The filtered address reloads as a whole page with the same leads.
    page.reload()
    assert _lead_ids(page) == {"ACME-003"}
    assert page.get_by_label("Phone or e-mail").input_value() == "(303) 555-0003"
    assert errors == []


def test_r9_the_call_report_filters_work_without_javascript(
    browser: Any, server: str, world: PortalWorld, shots: Shots
) -> None:
    plain = browser.new_context(viewport={"width": 1280, "height": 900}, java_script_enabled=False)
    page = plain.new_page()
    _sign_in(page, server, "ana@acme.test")
    page.goto(f"{server}/portal/calls")
    page.get_by_label("Counted").select_option("yes")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/portal/calls?*counted=yes*")
    assert _lead_ids(page) == {f"ACME-{n:03d}" for n in range(CALLED_LEADS)}
    shots.take(page, "call-report-filtered-no-js")
    plain.close()
