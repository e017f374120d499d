"""Invitations and password resets, end to end on both databases.

Each message goes through a real SMTP server on 127.0.0.1 (aiosmtpd); the test
reads the link in what arrived and follows it with the portal's HTTP client.
The portal's clock and the worker's are passed in, so expiry is tested
without waiting.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from leadbill.api import create_app
from leadbill.mail.delivery import deliver_due
from leadbill.mail.models import MailMessage
from leadbill.mail.service import resend
from leadbill.mail.smtp import SmtpServer
from leadbill.password_links.models import PasswordLink
from leadbill.password_links.service import invite, invite_customer
from leadbill.portal.models import PortalSession, User
from leadbill.settings import Settings
from leadbill.webhooks.delivery import DeliveryPolicy
from tests.mail_server import Arrived, Handler, smtp_server
from tests.portal.conftest import sign_in
from tests.portal.world import AS_OF, PASSWORD, PortalWorld, csrf_of

POLICY = DeliveryPolicy(timeout=2, max_attempts=3, backoff_base=30, backoff_cap=600)
SETTINGS = Settings(
    database_url="",
    mail_from="billing@operator.test",
    portal_url="https://bill.example",
    operator_name="Lead Ops",
)
NEW_PASSWORD = "a brand new passphrase"
LINK = re.compile(r"https://bill\.example/portal/password/([A-Za-z0-9_-]{43})")


class Clock:
    """The portal's clock, moved by the test."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[Handler, int]]:
    """One SMTP server for the module."""
    with smtp_server() as running:
        yield running


@pytest.fixture
def smtp(server: tuple[Handler, int]) -> Iterator[tuple[Handler, SmtpServer]]:
    """The module's server, emptied, and how the worker reaches it."""
    handler, port = server
    handler.reset()
    yield handler, SmtpServer("127.0.0.1", port, security="none", timeout=2)
    handler.reset()


@pytest.fixture
def clock() -> Clock:
    """The portal's clock, at the world's instant."""
    return Clock(AS_OF)


@pytest.fixture
def portal(
    sessions: sessionmaker[Session], database_url: str, clock: Clock, world: PortalWorld
) -> Iterator[TestClient]:
    """A browser-like client of the portal on the test database, on the test's clock."""
    app = create_app(sessions)
    app.state.portal_clock = clock
    app.state.portal_settings = Settings(
        database_url=database_url, password_resets_per_hour=3, invitation_days=7
    )
    with TestClient(
        app, base_url="https://testserver", raise_server_exceptions=False, follow_redirects=False
    ) as client:
        yield client


def _invite(sessions: sessionmaker[Session], email: str = "nia@acme.test") -> int:
    with sessions() as session, session.begin():
        _user, message = invite_customer(session, email=email, account_code="acme", as_of=AS_OF)
        return message.id


def _arrived_to(handler: Handler, recipient: str) -> list[Arrived]:
    return [a for a in handler.arrived if a.recipients == [recipient]]


def _parts(arrived: Arrived) -> tuple[str, str]:
    text = arrived.message.get_body(("plain",))
    html = arrived.message.get_body(("html",))
    assert text is not None and html is not None
    return str(text.get_content()), str(html.get_content())


def _token(arrived: Arrived) -> str:
    text, html = _parts(arrived)
    found = LINK.search(text)
    assert found, text
    assert f'href="{found.group(0)}"' in html
    return found.group(1)


def _send(sessions: sessionmaker[Session], server: SmtpServer, at: datetime = AS_OF) -> None:
    deliver_due(sessions, POLICY, server, SETTINGS, as_of=at)


def _set_password(
    client: TestClient, token: str, password: str = NEW_PASSWORD, confirmation: str | None = None
) -> object:
    form = client.get(f"/portal/password/{token}")
    assert form.status_code == 200, form.text
    return client.post(
        f"/portal/password/{token}",
        data={
            "password": password,
            "confirmation": password if confirmation is None else confirmation,
            "csrf_token": csrf_of(form.text),
        },
    )


def test_an_invitation_arrives_with_a_link_that_sets_the_password_and_signs_in(
    sessions: sessionmaker[Session],
    smtp: tuple[Handler, SmtpServer],
    portal: TestClient,
) -> None:
    handler, server = smtp
    message_id = _invite(sessions)
    _send(sessions, server)
    (arrived,) = _arrived_to(handler, "nia@acme.test")
    assert arrived.sender == "billing@operator.test"
    assert (
        arrived.message["Subject"]
        == "Lead Ops: your invitation to the billing portal of Acme Realty"
    )
    text, html = _parts(arrived)
    assert "Lead Ops invites you to the secure billing portal of Acme Realty" in text
    assert "You sign in as nia@acme.test." in text
    # The world's accounts are in UTC: sent at AS_OF, the link works for 7 days.
    assert "it works once, until 2026-01-27 15:00" in text
    assert "Times are in UTC." in text
    assert "<strong>Acme Realty</strong>" in html
    token = _token(arrived)
    with sessions() as session:
        link = session.scalars(select(PasswordLink)).one()
        message = session.get_one(MailMessage, message_id)
    # Only the token's hash is stored; what the outbox keeps hides the link.
    assert link.token_hash is not None and token not in link.token_hash
    assert link.expires_at == AS_OF + timedelta(days=7)
    assert message.status == "sent"
    assert message.text_body is not None and token not in message.text_body
    assert "[one-time link, made when the message is sent and not kept]" in message.text_body
    assert message.html_body is not None and token not in message.html_body

    done = _set_password(portal, token)
    assert done.status_code == 303  # type: ignore[attr-defined]
    assert done.headers["location"] == "/portal/"  # type: ignore[attr-defined]
    dashboard = portal.get("/portal/dashboard")
    assert dashboard.status_code == 200
    assert "Your password is set; you are signed in." in dashboard.text
    assert "nia@acme.test" in dashboard.text
    # The new password signs in from another browser too.
    with TestClient(portal.app, base_url="https://testserver", follow_redirects=False) as other:
        sign_in(other, "nia@acme.test", NEW_PASSWORD)


def test_a_link_works_once_then_answers_a_clear_page(
    sessions: sessionmaker[Session], smtp: tuple[Handler, SmtpServer], portal: TestClient
) -> None:
    handler, server = smtp
    _invite(sessions)
    _send(sessions, server)
    token = _token(_arrived_to(handler, "nia@acme.test")[0])
    assert _set_password(portal, token).status_code == 303  # type: ignore[attr-defined]
    again = portal.get(f"/portal/password/{token}")
    assert again.status_code == 410
    assert "This link has already been used." in again.text
    posted = portal.post(
        f"/portal/password/{token}",
        data={
            "password": "another passphrase",
            "confirmation": "another passphrase",
            "csrf_token": portal.cookies.get("leadbill_signin_csrf"),
        },
    )
    assert posted.status_code == 410
    with TestClient(portal.app, base_url="https://testserver", follow_redirects=False) as other:
        sign_in(other, "nia@acme.test", NEW_PASSWORD)  # the second post changed nothing


def test_an_expired_link_answers_a_clear_page_and_sets_nothing(
    sessions: sessionmaker[Session],
    smtp: tuple[Handler, SmtpServer],
    portal: TestClient,
    clock: Clock,
) -> None:
    handler, server = smtp
    _invite(sessions)
    _send(sessions, server)
    token = _token(_arrived_to(handler, "nia@acme.test")[0])
    clock.at = AS_OF + timedelta(days=7, seconds=-1)
    assert portal.get(f"/portal/password/{token}").status_code == 200
    clock.at = AS_OF + timedelta(days=7)
    expired = portal.get(f"/portal/password/{token}")
    assert expired.status_code == 410
    assert "This link has expired." in expired.text
    with sessions() as session:
        user = session.scalars(select(User).where(User.email == "nia@acme.test")).one()
    assert user.password_hash == "!"


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # one character changed
        lambda t: t[:-1],  # cut short
        lambda t: t + "x",  # one too many
        lambda t: "%00" + t[3:],  # not of the token alphabet
    ],
)
def test_a_tampered_link_is_not_valid(
    sessions: sessionmaker[Session],
    smtp: tuple[Handler, SmtpServer],
    portal: TestClient,
    tamper: object,
) -> None:
    handler, server = smtp
    _invite(sessions)
    _send(sessions, server)
    token = _token(_arrived_to(handler, "nia@acme.test")[0])
    wrong = tamper(token)  # type: ignore[operator]
    page = portal.get(f"/portal/password/{wrong}")
    assert page.status_code == 404
    assert "This link is not valid" in page.text
    assert portal.get(f"/portal/password/{token}").status_code == 200


def test_sending_an_invitation_again_makes_a_new_token_and_the_old_link_stops_working(
    sessions: sessionmaker[Session], smtp: tuple[Handler, SmtpServer], portal: TestClient
) -> None:
    handler, server = smtp
    message_id = _invite(sessions)
    _send(sessions, server)
    first = _token(_arrived_to(handler, "nia@acme.test")[0])
    with sessions() as session, session.begin():
        resend(session, message_id, as_of=AS_OF + timedelta(hours=1))
    _send(sessions, server, AS_OF + timedelta(hours=1))
    arrived = _arrived_to(handler, "nia@acme.test")
    assert len(arrived) == 2
    second = _token(arrived[1])
    assert second != first
    assert portal.get(f"/portal/password/{first}").status_code == 404
    assert portal.get(f"/portal/password/{second}").status_code == 200
    # A new invitation (a second message) ends the links sent before it.
    with sessions() as session, session.begin():
        user = session.scalars(select(User).where(User.email == "nia@acme.test")).one()

        invite(session, user, as_of=AS_OF + timedelta(hours=2))
    _send(sessions, server, AS_OF + timedelta(hours=2))
    third = _token(_arrived_to(handler, "nia@acme.test")[2])
    ended = portal.get(f"/portal/password/{second}")
    assert ended.status_code == 410
    assert "A newer link was sent since this one" in ended.text
    assert portal.get(f"/portal/password/{third}").status_code == 200


def test_a_password_that_breaks_the_rules_is_refused_and_the_link_still_works(
    sessions: sessionmaker[Session], smtp: tuple[Handler, SmtpServer], portal: TestClient
) -> None:
    handler, server = smtp
    _invite(sessions)
    _send(sessions, server)
    token = _token(_arrived_to(handler, "nia@acme.test")[0])
    short = _set_password(portal, token, "too short")
    assert short.status_code == 422  # type: ignore[attr-defined]
    assert "password: must be at least 10 characters" in short.text  # type: ignore[attr-defined]
    mismatch = _set_password(portal, token, NEW_PASSWORD, "a different passphrase")
    assert mismatch.status_code == 422  # type: ignore[attr-defined]
    assert "confirmation: does not match the password" in mismatch.text  # type: ignore[attr-defined]
    assert _set_password(portal, token).status_code == 303  # type: ignore[attr-defined]


def test_a_form_without_its_csrf_token_is_refused(
    sessions: sessionmaker[Session], smtp: tuple[Handler, SmtpServer], portal: TestClient
) -> None:
    handler, server = smtp
    _invite(sessions)
    _send(sessions, server)
    token = _token(_arrived_to(handler, "nia@acme.test")[0])
    portal.get(f"/portal/password/{token}")
    refused = portal.post(
        f"/portal/password/{token}",
        data={"password": NEW_PASSWORD, "confirmation": NEW_PASSWORD, "csrf_token": "forged"},
    )
    assert refused.status_code == 403
    assert portal.get(f"/portal/password/{token}").status_code == 200
    forgot = portal.post("/portal/forgot-password", data={"email": "ana@acme.test"})
    assert forgot.status_code == 403


def _forgot(client: TestClient, email: str) -> tuple[int, str]:
    form = client.get("/portal/forgot-password")
    csrf = csrf_of(form.text)
    answer = client.post("/portal/forgot-password", data={"email": email, "csrf_token": csrf})
    return answer.status_code, answer.text.replace(csrf, "CSRF")


def _resets(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return int(
            session.scalar(
                select(func.count(MailMessage.id)).where(
                    MailMessage.kind == "portal.password_reset"
                )
            )
            or 0
        )


def test_forgot_password_answers_the_same_for_a_known_and_an_unknown_address(
    sessions: sessionmaker[Session], portal: TestClient
) -> None:
    known = _forgot(portal, "ana@acme.test")
    unknown = _forgot(portal, "nobody@acme.test")
    staff = _forgot(portal, "rosa@operator.test")
    not_an_address = _forgot(portal, "not an address" * 40)
    assert known[0] == 200
    assert known == unknown == staff == not_an_address
    assert "If a portal user has this address, we sent it a link" in known[1]
    assert _resets(sessions) == 2  # the customer user's and the staff user's


def test_a_staff_user_who_forgot_the_password_is_sent_a_reset_that_works(
    sessions: sessionmaker[Session], smtp: tuple[Handler, SmtpServer], portal: TestClient
) -> None:
    handler, server = smtp
    _forgot(portal, "rosa@operator.test")
    with sessions() as session:
        (message,) = session.scalars(
            select(MailMessage).where(MailMessage.recipient == "rosa@operator.test")
        ).all()
    assert message.account_id is None  # a staff user belongs to no account
    _send(sessions, server)
    (arrived,) = _arrived_to(handler, "rosa@operator.test")
    text, html = _parts(arrived)
    assert "reset the password of rosa@operator.test" in text
    assert "billing portal of\r\nLead Ops (staff)" in text
    assert "Times are in UTC." in text and "Lead Ops (staff)" in html
    assert _set_password(portal, _token(arrived)).status_code == 303  # type: ignore[attr-defined]
    with sessions() as session:
        sent = session.get_one(MailMessage, message.id)
    assert sent.status == "sent"
    assert portal.get("/portal/staff/accounts").status_code == 200  # signed in by the link
    with TestClient(portal.app, base_url="https://testserver", follow_redirects=False) as other:
        sign_in(other, "rosa@operator.test", NEW_PASSWORD)


def test_a_reset_link_arrives_sets_the_password_and_ends_the_other_sessions(
    sessions: sessionmaker[Session],
    smtp: tuple[Handler, SmtpServer],
    portal: TestClient,
    clock: Clock,
) -> None:
    handler, server = smtp
    with TestClient(portal.app, base_url="https://testserver", follow_redirects=False) as other:
        sign_in(other, "ana@acme.test", PASSWORD)
        assert other.get("/portal/dashboard").status_code == 200
        _forgot(portal, "ANA@acme.test")
        _send(sessions, server)
        (arrived,) = _arrived_to(handler, "ana@acme.test")
        assert arrived.message["Subject"] == "Lead Ops: reset your billing portal password"
        text, _html = _parts(arrived)
        assert "reset the password of ana@acme.test" in text
        assert "until 2026-01-20 16:00" in text  # an hour from when it was sent
        token = _token(arrived)
        assert _set_password(portal, token).status_code == 303  # type: ignore[attr-defined]
        # The browser signed in with the old password is signed out.
        assert other.get("/portal/dashboard").headers["location"] == "/portal/sign-in"
    with sessions() as session:
        user = session.scalars(select(User).where(User.email == "ana@acme.test")).one()
        live = session.scalar(
            select(func.count()).select_from(PortalSession).where(PortalSession.user_id == user.id)
        )
    assert live == 1  # only the browser that set the password
    assert portal.get("/portal/dashboard").status_code == 200


def test_a_reset_link_expires_after_an_hour(
    sessions: sessionmaker[Session],
    smtp: tuple[Handler, SmtpServer],
    portal: TestClient,
    clock: Clock,
) -> None:
    handler, server = smtp
    _forgot(portal, "ana@acme.test")
    _send(sessions, server)
    token = _token(_arrived_to(handler, "ana@acme.test")[0])
    clock.at = AS_OF + timedelta(hours=1)
    assert portal.get(f"/portal/password/{token}").status_code == 410
    with TestClient(portal.app, base_url="https://testserver", follow_redirects=False) as other:
        sign_in(other, "ana@acme.test", PASSWORD)  # the old password still works


def test_resets_are_limited_per_address_per_hour(
    sessions: sessionmaker[Session], portal: TestClient, clock: Clock
) -> None:
    answers = {_forgot(portal, "ana@acme.test") for _ in range(5)}
    assert len(answers) == 1  # the fourth and fifth answer the same
    assert _resets(sessions) == 3
    assert _forgot(portal, "oli@other.test")[0] == 200
    assert _resets(sessions) == 4  # another address has its own allowance
    clock.at = AS_OF + timedelta(hours=1, seconds=1)
    _forgot(portal, "ana@acme.test")
    assert _resets(sessions) == 5


def test_the_sign_in_page_links_to_forgot_password(portal: TestClient) -> None:
    page = portal.get("/portal/sign-in")
    assert '<a href="/portal/forgot-password">Forgot your password?</a>' in page.text


def test_an_invited_user_cannot_sign_in_before_choosing_a_password(
    sessions: sessionmaker[Session], portal: TestClient
) -> None:
    _invite(sessions)
    form = portal.get("/portal/sign-in")
    refused = portal.post(
        "/portal/sign-in",
        data={"email": "nia@acme.test", "password": "!", "csrf_token": csrf_of(form.text)},
    )
    assert refused.status_code == 401
