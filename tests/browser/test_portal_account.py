"""Seats, licences and plan pages in Chromium: figures to the cent, keyboard use, phone width."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from leadbill.accounts.service import get_account
from leadbill.billing.invoices import invoice_lines
from leadbill.billing.models import Invoice
from leadbill.plans.advice import advise_account
from leadbill.plans.service import get_plan
from leadbill.portal.web import money
from leadbill.seats.service import get_seat
from leadbill.subscriptions.service import (
    current_subscription,
    preview_licence_change,
    preview_plan_change,
)
from tests.browser.conftest import Shots
from tests.portal.account_world import (
    AGENT_AS_OF,
    AGENT_USER,
    TEAM_AS_OF,
    TEAM_USER,
    build_agent,
    build_team,
)
from tests.portal.world import PASSWORD

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def _sign_in(page: Any, server: str, email: str) -> None:
    page.goto(f"{server}/portal/sign-in")
    page.get_by_label("E-mail").fill(email)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: not url.endswith("/sign-in"), timeout=10_000)


def _figure(page: Any, name: str) -> str:
    return str(page.locator(f'[data-figure="{name}"]').inner_text()).strip()


def _fits_the_phone(page: Any) -> None:
    """Nothing but the tables' own scroll boxes is wider than the phone."""
    page.set_viewport_size(PHONE)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width}px wide on a {PHONE['width']}px phone"


def test_r20_a_customer_adds_licences_and_sees_the_prorated_invoice(
    context: Any,
    server: str,
    sessions: sessionmaker[Session],
    clock: list[datetime],
    shots: Shots,
) -> None:
    build_team(sessions)
    clock[0] = TEAM_AS_OF
    with sessions() as session:
        subscription = current_subscription(session, get_account(session, "team"))
        expected = preview_licence_change(session, subscription, 2, TEAM_AS_OF, actor="customer")
    page = context.new_page()
    _sign_in(page, server, TEAM_USER)
    page.get_by_role("link", name="Licences", exact=True).click()
    page.wait_for_url("**/portal/licences")
    assert _figure(page, "licences_now") == "3" and _figure(page, "licence_cap") == "5"
    shots.take(page, "licences")
    _fits_the_phone(page)
    shots.take(page, "licences-phone")
    page.set_viewport_size(DESKTOP)

    # Keyboard only: the number field, type 2, Enter submits the preview.
    count = page.get_by_label("Licences to add")
    count.focus()
    page.keyboard.press("Control+A")
    page.keyboard.type("2")
    page.keyboard.press("Enter")
    page.wait_for_url("**/portal/licences/preview")
    assert _figure(page, "total_due_today") == money(expected.total_due_today) == "1,203.29 USD"
    assert _figure(page, "next_renewal_amount") == money(expected.next_renewal_amount)
    assert money(expected.next_renewal_amount) == "6,000.00 USD"
    shots.take(page, "licences-preview")
    page.get_by_role("button", name="Confirm and pay 1,203.29 USD").click()
    page.wait_for_url("**/portal/invoices/INV-*")

    with sessions() as session:
        invoice = session.scalars(select(Invoice).where(Invoice.kind == "licences")).one()
        (line,) = invoice_lines(session, invoice.id)
        subscription = current_subscription(session, get_account(session, "team"))
        assert subscription.licences == 5
    assert page.url.endswith(f"/portal/invoices/{invoice.number}")
    assert _figure(page, "invoice_total") == money(invoice.total, invoice.currency)
    assert money(line.amount, invoice.currency) == money(expected.total_due_today)
    row = page.locator("table.lines tbody tr")
    assert row.count() == 1
    assert "1,203.29 USD" in row.inner_text() and "183/365" in row.inner_text()
    assert "2 licences added" in page.get_by_role("status").inner_text()
    shots.take(page, "licences-invoice")

    # A sixth licence is beyond the self-serve cap: refused, and the page says what to do.
    page.get_by_role("link", name="Licences", exact=True).click()
    page.get_by_label("Licences to add").fill("1")
    page.get_by_role("button", name="Preview the cost").click()
    assert "at most 5 licences" in page.get_by_role("alert").inner_text()
    assert "contact your account manager" in page.locator("#cap").inner_text()
    shots.take(page, "licences-beyond-cap")


def test_seats_and_plan_pages_with_an_upgrade_and_the_advice(
    context: Any,
    server: str,
    sessions: sessionmaker[Session],
    clock: list[datetime],
    shots: Shots,
) -> None:
    build_agent(sessions)
    clock[0] = AGENT_AS_OF
    page = context.new_page()
    _sign_in(page, server, AGENT_USER)
    assert page.get_by_role("link", name="Licences", exact=True).count() == 0  # a lead plan

    page.get_by_role("link", name="Seats", exact=True).click()
    page.wait_for_url("**/portal/seats")
    seat = page.locator('[data-seat="main"]')
    assert "Gus Agent" in seat.locator('[data-role="primary"]').inner_text()
    assert "Bea Backup" in seat.locator('[data-role="backup"]').inner_text()
    assert _figure(page, "seat_fee") == "57.00 USD"
    shots.take(page, "seats")
    seat.get_by_text("Replace the backup").focus()
    page.keyboard.press("Enter")  # opens the form with the keyboard
    seat.get_by_label("Backup name").fill("Cy Roe")
    seat.get_by_label("Backup e-mail").fill("cy@agent.test")
    seat.get_by_role("button", name="Replace backup").click()
    page.wait_for_url("**/portal/seats")
    assert "Cy Roe is now the backup" in page.get_by_role("status").inner_text()
    form = page.locator("#add-seat")
    form.get_by_label("Seat code").fill("north")
    form.get_by_label("Primary name").fill("Nora North")
    form.get_by_label("Primary e-mail").fill("nora@agent.test")
    form.get_by_role("button", name="Add seat and invoice 57.00 USD").click()
    page.wait_for_url("**/portal/seats")
    assert "one-time fee of 57.00 USD" in page.get_by_role("status").inner_text()
    with sessions() as session:
        account = get_account(session, "agent")
        assert get_seat(session, account, "main").backup_name == "Cy Roe"
        assert get_seat(session, account, "north").primary_email == "nora@agent.test"
    shots.take(page, "seats-added")
    _fits_the_phone(page)
    shots.take(page, "seats-phone")
    page.set_viewport_size(DESKTOP)

    with sessions() as session:
        account = get_account(session, "agent")
        advice = advise_account(session, account, as_of=AGENT_AS_OF).advice
        upgrade = preview_plan_change(
            session,
            current_subscription(session, account),
            get_plan(session, "pkg-200"),
            AGENT_AS_OF,
        )
    assert upgrade.fee_difference is not None
    page.get_by_role("link", name="Plan", exact=True).click()
    page.wait_for_url("**/portal/plan")
    for option in advice.options:
        row = page.locator(f'[data-advice="{option.plan.code}"]')
        assert row.locator('[data-figure="advice_total"]').inner_text() == money(option.total)
    assert "recommended" in page.locator('[data-advice="pkg-200"]').inner_text()
    shots.take(page, "plan")
    _fits_the_phone(page)
    shots.take(page, "plan-phone")
    page.set_viewport_size(DESKTOP)

    page.get_by_role("button", name="Upgrade to pkg-200").click()
    page.wait_for_url("**/portal/plan/preview")
    assert _figure(page, "due_now") == money(upgrade.fee_difference) == "533.33 USD"
    assert _figure(page, "allowance") == str(upgrade.allowance) == "133"
    shots.take(page, "plan-upgrade-preview")
    page.get_by_role("button", name="Confirm the change to pkg-200").click()
    page.wait_for_url("**/portal/plan")
    assert (
        "charges 533.33 USD for the rest of the period" in page.get_by_role("status").inner_text()
    )

    page.get_by_role("link", name="Cancel the subscription…").click()
    page.wait_for_url("**/portal/plan/cancel")
    assert _figure(page, "ends_at") == "2026-05-01 00:00"
    shots.take(page, "plan-cancel-confirm")
    page.get_by_role("button", name="Yes, cancel at the end of the period").click()
    page.wait_for_url("**/portal/plan")
    assert _figure(page, "ends_at") == "2026-05-01 00:00"
    assert "Cancelled" in page.locator('[data-figure="status"]').inner_text()
    shots.take(page, "plan-cancelled")
