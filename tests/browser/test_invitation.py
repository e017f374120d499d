"""An invited customer follows the e-mail's link in Chromium, chooses a password and signs in.

The invitation goes through a real SMTP server on 127.0.0.1 (aiosmtpd); the
link is read from what arrived and opened in the browser.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from leadbill.mail.delivery import deliver_due
from leadbill.mail.smtp import SmtpServer
from leadbill.password_links.service import invite_customer
from leadbill.settings import Settings
from leadbill.webhooks.delivery import DeliveryPolicy
from tests.browser.conftest import Shots
from tests.mail_server import smtp_server
from tests.portal.world import AS_OF, PortalWorld

NEW_PASSWORD = "my own long passphrase"


def test_an_invited_customer_sets_a_password_from_the_link_and_signs_in(
    context: Any,
    server: str,
    world: PortalWorld,
    sessions: sessionmaker[Session],
    shots: Shots,
) -> None:
    with sessions() as session, session.begin():
        invite_customer(session, email="nia@acme.test", account_code="acme", as_of=AS_OF)
    settings = Settings(database_url="", mail_from="billing@operator.test", portal_url=server)
    policy = DeliveryPolicy(timeout=2, max_attempts=3, backoff_base=30, backoff_cap=600)
    with smtp_server() as (handler, port):
        smtp = SmtpServer("127.0.0.1", port, security="none", timeout=2)
        deliver_due(sessions, policy, smtp, settings, as_of=AS_OF)
        (arrived,) = [a for a in handler.arrived if a.recipients == ["nia@acme.test"]]
    body = arrived.message.get_body(("plain",))
    assert body is not None
    found = re.search(re.escape(server) + r"/portal/password/[A-Za-z0-9_-]{43}", body.get_content())
    assert found, body.get_content()

    page = context.new_page()
    page.goto(found.group(0))
    assert page.get_by_role("heading", name="Choose your password").is_visible()
    shots.take(page, "choose-password")
    page.get_by_label("New password").fill(NEW_PASSWORD)
    page.get_by_label("The same password again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set password and sign in").click()
    page.wait_for_url(f"{server}/portal/dashboard", timeout=10_000)
    assert page.get_by_text("Your password is set; you are signed in.").is_visible()
    shots.take(page, "signed-in")

    # Signed out, the link no longer works, and the new password signs in.
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{server}/portal/sign-in", timeout=10_000)
    page.goto(found.group(0))
    assert page.get_by_text("This link has already been used.").is_visible()
    shots.take(page, "link-used")
    page.get_by_role("link", name="sign in").click()
    page.get_by_label("E-mail").fill("nia@acme.test")
    page.get_by_label("Password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{server}/portal/dashboard", timeout=10_000)
