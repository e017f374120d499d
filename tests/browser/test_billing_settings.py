"""Billing settings in Chromium: a customer corrects a refused VAT id and saves its billing
details; an admin adds a tax rate and ends the one it replaces. Screenshots at a laptop's
and a phone's width go to test-output/screenshots/."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from leadbill.accounts.billing_details import details_of
from leadbill.accounts.service import get_account
from leadbill.taxes.service import list_rates
from tests.browser.conftest import Shots
from tests.browser.test_portal import _sign_in
from tests.portal.settings_world import add_billing_settings
from tests.portal.staff_world import STAFF_USERS, StaffWorld, build_staff_world

LAPTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def staff_world(sessions: sessionmaker[Session]) -> StaffWorld:
    """The portal's world with an admin and a billing user."""
    return build_staff_world(sessions)


@pytest.fixture
def settings(staff_world: StaffWorld, sessions: sessionmaker[Session]) -> int:
    """Two billing entities (us the default) and Sweden's 25 %; the rate's id."""
    return add_billing_settings(sessions)


def _both_widths(page: Any, shots: Shots, label: str) -> None:
    """A screenshot at each width; nothing but the tables' scroll boxes wider than a phone."""
    page.set_viewport_size(LAPTOP)
    shots.take(page, label)
    page.set_viewport_size(PHONE)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{label} is {width}px wide on a {PHONE['width']}px phone"
    shots.take(page, f"{label}-phone")
    page.set_viewport_size(LAPTOP)


def test_customer_corrects_a_refused_vat_id_and_saves_its_billing_details(
    context: Any,
    server: str,
    staff_world: StaffWorld,
    settings: int,
    sessions: sessionmaker[Session],
    shots: Shots,
) -> None:
    page = context.new_page()
    page.set_viewport_size(LAPTOP)
    _sign_in(page, server, "ana@acme.test")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Billing details").click()
    page.wait_for_url("**/portal/billing-details")
    assert "Leadbill Demo Inc., US" in page.locator('[data-figure="issuer"]').inner_text()
    _both_widths(page, shots, "billing-details")

    form = page.locator("#billing-details")
    form.get_by_label("Legal name").fill("Acme Realty GmbH")
    form.get_by_label("Address line 1").fill("Hauptstraße 1")
    form.get_by_label("Postal code").fill("10115")
    form.get_by_label("City").fill("Berlin")
    form.get_by_label("Country").select_option("DE")
    form.get_by_label("Tax number").fill("DE136695977")  # a wrong check digit
    form.get_by_label("Purchase order").fill("PO-2026-118")
    form.get_by_role("button", name="Save billing details").click()
    page.wait_for_selector("#f-tax_id-error")
    assert "check digit" in page.locator("#f-tax_id-error").inner_text()
    # The form again, with everything typed, and the reason beside the tax number.
    form = page.locator("#billing-details")
    assert form.get_by_label("Legal name").input_value() == "Acme Realty GmbH"
    assert form.get_by_label("Country").input_value() == "DE"
    tax_id = form.get_by_label("Tax number")
    assert tax_id.input_value() == "DE136695977"
    assert tax_id.get_attribute("aria-invalid") == "true"
    with sessions() as session:
        assert details_of(session, get_account(session, "acme").id) is None
    _both_widths(page, shots, "billing-details-refused")

    page.locator("#form-error").get_by_role("link", name="tax number").click()
    page.keyboard.press("Control+A")
    page.keyboard.type("DE 136 695 976")
    page.keyboard.press("Enter")
    page.wait_for_selector(".flash")
    assert "Billing details saved." in page.locator(".flash").inner_text()
    assert page.locator('[data-figure="tax_id"]').inner_text().strip() == "DE136695976"
    block = page.locator('[data-figure="customer_block"]').inner_text()
    assert "Acme Realty GmbH" in block and "10115 Berlin" in block
    with sessions() as session:
        stored = details_of(session, get_account(session, "acme").id)
        assert stored is not None
        assert (stored.tax_id, stored.country, stored.purchase_order) == (
            "DE136695976",
            "DE",
            "PO-2026-118",
        )
    _both_widths(page, shots, "billing-details-saved")


def test_admin_adds_a_tax_rate_after_ending_the_one_it_replaces(
    context: Any,
    server: str,
    staff_world: StaffWorld,
    settings: int,
    sessions: sessionmaker[Session],
    shots: Shots,
) -> None:
    page = context.new_page()
    page.set_viewport_size(LAPTOP)
    _sign_in(page, server, STAFF_USERS["admin"])
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Tax rates").click()
    page.wait_for_url("**/portal/staff/tax-rates")
    _both_widths(page, shots, "tax-rates")

    add = page.locator("#add-rate")
    add.get_by_label("Name").fill("Moms 12%")
    add.get_by_label("Rate (percent)").fill("12")
    add.get_by_label("Country").select_option("SE")
    add.get_by_label("First day").fill("2026-07-01")
    add.get_by_role("button", name="Add tax rate").click()
    page.wait_for_selector("#form-error")
    assert "end it first" in page.locator("#form-error").inner_text()  # 25 % is still open
    assert page.locator("#add-rate").get_by_label("Name").input_value() == "Moms 12%"
    _both_widths(page, shots, "tax-rates-overlap")

    page.get_by_label(f"Last day of rate {settings} (Moms 25%)").fill("2026-06-30")
    page.get_by_role("button", name=f"End rate {settings} (Moms 25%)").click()
    page.wait_for_selector(".flash")
    assert "to 2026-06-30" in page.locator(".flash").inner_text()
    add = page.locator("#add-rate")
    add.get_by_label("Name").fill("Moms 12%")
    add.get_by_label("Rate (percent)").fill("12")
    add.get_by_label("Country").select_option("SE")
    add.get_by_label("First day").fill("2026-07-01")
    add.get_by_role("button", name="Add tax rate").click()
    page.wait_for_selector(".flash")
    assert "Moms 12%: 12 % in SE from 2026-07-01 to open" in page.locator(".flash").inner_text()
    with sessions() as session:
        rates = [(r.name, Decimal(r.rate), r.valid_from, r.valid_to) for r in list_rates(session)]
    assert rates == [
        ("Moms 25%", Decimal(25), date(2020, 1, 1), date(2026, 6, 30)),
        ("Moms 12%", Decimal(12), date(2026, 7, 1), None),
    ]
    _both_widths(page, shots, "tax-rates-added")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Billing entities").click()
    page.wait_for_url("**/portal/staff/billing-entities")
    _both_widths(page, shots, "billing-entities")
    page.get_by_role("link", name="nordic", exact=True).click()
    page.wait_for_url("**/portal/staff/billing-entities/nordic")
    _both_widths(page, shots, "billing-entity")
    page.goto(f"{server}/portal/staff/accounts/acme")
    page.get_by_role("link", name="Edit billing details, entity and terms").click()
    page.wait_for_url("**/portal/staff/accounts/acme/billing-details")
    _both_widths(page, shots, "staff-billing-details")
    page.get_by_label("Billing entity").select_option("nordic")
    page.get_by_label("Payment terms (days)").fill("30")
    page.get_by_role("button", name="Save billing details").click()
    page.wait_for_selector(".flash")
    page.get_by_role("link", name="Back to the account").click()
    page.wait_for_url("**/portal/staff/accounts/acme")
    section = page.locator("#billing-details")
    assert "Lead Data Nordic AB, SE" in section.locator('[data-figure="issuer"]').inner_text()
    assert section.locator('[data-figure="terms_days"]').inner_text().startswith("30 days")
    _both_widths(page, shots, "staff-account")
