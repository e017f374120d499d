"""The whole dispute loop in Chromium (R13-R15): a customer submits a lead, the reviewer
asks a question, the customer reads it and replies, the reviewer approves, and the
customer finds the credit note. Refused forms keep what was typed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from tests.browser.conftest import Shots
from tests.browser.test_portal import _sign_in
from tests.conftest import utc
from tests.portal.world import build_pay_per_lead

EXPLANATION = "A caller selling van leases, not a plumbing job."
QUESTION = "Did the caller mention any plumbing job at all?"
REPLY = "No, only van leasing offers for our fleet."


def test_r13_r15_the_dispute_loop_closes_from_submission_to_credit_note(
    browser: Any,
    server: str,
    sessions: sessionmaker[Session],
    clock: list[datetime],
    shots: Shots,
) -> None:
    build_pay_per_lead(sessions)  # January's three leads are invoiced at 40.00 each
    clock[0] = utc(2026, 2, 2, 15)

    # The customer submits PIPE-1: no reason is chosen for them; a short explanation is
    # refused on the same form, with what was typed still there.
    customer = browser.new_context(viewport={"width": 1280, "height": 900})
    page = customer.new_page()
    _sign_in(page, server, "dana@pipe.test")
    page.get_by_role("link", name="Call report").click()
    page.get_by_role("link", name="Previous period").click()
    lead = page.locator("#lead-PIPE-1")
    lead.locator("summary").click()
    reason = lead.get_by_label("Why should this lead not be billed?")
    assert reason.input_value() == ""
    reason.select_option("solicitor")
    lead.get_by_label("Explanation").fill("Van leases.")
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        lead.get_by_role("button", name="Submit for review").click()
    assert posted.value.status == 422
    assert page.get_by_role("heading", name="Submit lead PIPE-1 for review").is_visible()
    assert page.get_by_label("Explanation").input_value() == "Van leases."
    assert page.get_by_label("Why should this lead not be billed?").input_value() == "solicitor"
    assert page.locator("#explanation-lead-error").inner_text() == "must be at least 20 characters"
    shots.take(page, "explanation-too-short")
    page.get_by_label("Explanation").fill(EXPLANATION)
    page.get_by_role("button", name="Submit for review").click()
    page.wait_for_url("**/portal/reviews")
    card = page.locator("li.review", has_text="PIPE-1")
    assert "Under review" in card.inner_text() and "The caller was soliciting" in card.inner_text()
    customer.close()

    # The reviewer first rejects without a note (refused beside the note), then asks.
    staff = browser.new_context(viewport={"width": 1280, "height": 900})
    page = staff.new_page()
    _sign_in(page, server, "qa@op.test")
    card = page.locator("li.review", has_text="PIPE-1")
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        card.get_by_role("button", name="Reject").click()
    assert posted.value.status == 422
    card = page.locator("li.review", has_text="PIPE-1")
    assert "is required to reject" in card.locator(".field-error").inner_text()
    shots.take(page, "reject-without-note")
    card.get_by_label("Note to the customer").fill(QUESTION)
    card.get_by_role("button", name="Ask for more information").click()
    page.wait_for_url("**/portal/staff/reviews")
    assert "asked for more information" in page.get_by_role("status").inner_text()
    staff.close()

    # The customer sees the question and replies; the review goes back to the reviewer.
    clock[0] = utc(2026, 2, 3, 10)
    customer = browser.new_context(viewport={"width": 1280, "height": 900})
    page = customer.new_page()
    _sign_in(page, server, "dana@pipe.test")
    page.get_by_role("link", name="Reviews").click()
    card = page.locator("li.review", has_text="PIPE-1")
    assert "More information requested" in card.inner_text()
    assert QUESTION in card.locator("li.question").inner_text()
    shots.take(page, "question-to-answer")
    card.get_by_label("Your reply to the reviewer").fill(REPLY)
    card.get_by_role("button", name="Send reply").click()
    page.wait_for_url("**/portal/reviews")
    assert "back with the reviewer" in page.get_by_role("status").inner_text()
    card = page.locator("li.review", has_text="PIPE-1")
    assert "Under review" in card.inner_text() and REPLY in card.inner_text()
    assert card.get_by_role("button", name="Send reply").count() == 0
    customer.close()

    # The reviewer reads the reply and approves: January was invoiced, so a credit note.
    staff = browser.new_context(viewport={"width": 1280, "height": 900})
    page = staff.new_page()
    _sign_in(page, server, "qa@op.test")
    card = page.locator("li.review", has_text="PIPE-1")
    assert REPLY in card.locator(".reply").inner_text()
    card.get_by_role("button", name="Approve").click()
    page.wait_for_url("**/portal/staff/reviews")
    assert "Credit note CN-000001 was issued" in page.get_by_role("status").inner_text()
    staff.close()

    # The customer finds the approval and the credit note of 40.00 on the Reviews page.
    customer = browser.new_context(viewport={"width": 1280, "height": 900})
    page = customer.new_page()
    _sign_in(page, server, "dana@pipe.test")
    page.get_by_role("link", name="Reviews").click()
    card = page.locator("li.review", has_text="PIPE-1")
    assert "Approved: not billed" in card.inner_text()
    credit = card.locator(".credit-note").inner_text()
    assert "CN-000001 of 40.00 USD" in credit
    shots.take(page, "credit-note")
    invoice = card.locator(".credit-note").get_by_role("link").nth(1)
    number = invoice.inner_text()
    invoice.click()
    page.wait_for_url(f"**/portal/invoices/{number}")
    assert "CN-000001" in page.locator("main").inner_text()
    customer.close()
