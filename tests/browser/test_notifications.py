"""A customer turns usage alerts off and on again in Chromium, from the billing details page."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from leadbill.notifications.service import settings_of
from leadbill.portal.models import User
from tests.browser.conftest import Shots
from tests.browser.test_portal import _sign_in
from tests.portal.world import PortalWorld


def _alerts_on(sessions: sessionmaker[Session], email: str) -> bool:
    with sessions() as session:
        user_id = session.scalars(select(User.id).where(User.email == email)).one()
        return settings_of(session, user_id)["usage.threshold_reached"]


def test_a_customer_turns_usage_alerts_off_and_on_again(
    context: Any,
    server: str,
    world: PortalWorld,
    sessions: sessionmaker[Session],
    shots: Shots,
) -> None:
    page = context.new_page()
    _sign_in(page, server, "ana@acme.test")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Billing details").click()
    page.wait_for_url("**/portal/billing-details")
    form = page.locator("#notifications-form")
    alerts = form.get_by_label("Usage alerts")
    receipts = form.get_by_label("Payment receipts")
    assert alerts.is_checked() and receipts.is_checked()
    shots.take(page, "notifications")

    alerts.uncheck()
    form.get_by_role("button", name="Save notifications").click()
    page.wait_for_selector("text=Notifications saved.")
    assert not page.locator("#notifications-form").get_by_label("Usage alerts").is_checked()
    assert page.locator("#notifications-form").get_by_label("Payment receipts").is_checked()
    assert _alerts_on(sessions, "ana@acme.test") is False
    shots.take(page, "alerts-off")

    # With the keyboard: focus the box, Space checks it, Enter on the button saves.
    page.locator("#notifications-form").get_by_label("Usage alerts").focus()
    page.keyboard.press("Space")
    page.locator("#notifications-form").get_by_role("button", name="Save notifications").focus()
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Notifications saved.")
    assert page.locator("#notifications-form").get_by_label("Usage alerts").is_checked()
    assert _alerts_on(sessions, "ana@acme.test") is True
