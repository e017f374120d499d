"""Sign-in, sessions, CSRF and lockout of the portal."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from leadbill.portal.models import PortalSession, User
from tests.portal.conftest import LOCKOUT_AFTER, sign_in
from tests.portal.world import AS_OF, PASSWORD, PortalWorld, csrf_of


def refusal(page: str) -> str:
    """The sign-in page's error message."""
    found = re.search(r'<p class="error" role="alert" id="sign-in-error">(.*?)</p>', page, re.S)
    assert found, "the page shows no sign-in error"
    return found.group(1)


def test_pages_need_a_session(client: TestClient, world: PortalWorld) -> None:
    for path in ("/portal/", "/portal/dashboard", "/portal/invoices", "/portal/staff/reviews"):
        response = client.get(path)
        assert response.status_code == 303
        assert response.headers["location"] == "/portal/sign-in"
    assert client.get("/").headers["location"] == "/portal/"


def test_sign_in_sets_a_secure_http_only_lax_cookie_and_stores_only_its_hash(
    client: TestClient, world: PortalWorld, sessions: sessionmaker[Session]
) -> None:
    form = client.get("/portal/sign-in")
    assert form.status_code == 200
    assert '<label for="email">' in form.text and '<label for="password">' in form.text
    response = client.post(
        "/portal/sign-in",
        data={"email": "ANA@acme.test", "password": PASSWORD, "csrf_token": csrf_of(form.text)},
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/portal/"
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith("leadbill_session=")
    )
    flags = {part.strip().lower() for part in cookie.split(";")}
    assert {"httponly", "secure", "samesite=lax", "path=/portal"} <= flags
    token = cookie.split(";")[0].split("=", 1)[1]
    with sessions() as session:
        stored = session.scalars(select(PortalSession.id_hash)).all()
    assert len(stored) == 1 and token not in stored[0] and len(stored[0]) == 64
    assert client.get("/portal/").headers["location"] == "/portal/dashboard"


def test_wrong_password_is_refused_without_saying_which_part(
    client: TestClient, world: PortalWorld
) -> None:
    form = client.get("/portal/sign-in")
    token = csrf_of(form.text)
    wrong = client.post(
        "/portal/sign-in",
        data={"email": "ana@acme.test", "password": "not it at all", "csrf_token": token},
    )
    unknown = client.post(
        "/portal/sign-in",
        data={"email": "nobody@acme.test", "password": "not it at all", "csrf_token": token},
    )
    assert wrong.status_code == unknown.status_code == 401
    assert "The e-mail or the password is not right." in wrong.text
    assert refusal(wrong.text) == refusal(unknown.text)
    assert client.get("/portal/dashboard").status_code == 303


def test_lockout_after_repeated_failures_even_with_the_right_password(
    client: TestClient, world: PortalWorld, sessions: sessionmaker[Session]
) -> None:
    token = csrf_of(client.get("/portal/sign-in").text)
    for _ in range(LOCKOUT_AFTER):
        client.post(
            "/portal/sign-in",
            data={"email": "ana@acme.test", "password": "guess guess guess", "csrf_token": token},
        )
    locked = client.post(
        "/portal/sign-in",
        data={"email": "ana@acme.test", "password": PASSWORD, "csrf_token": token},
    )
    assert locked.status_code == 401
    assert "signing in is locked for 15 minutes" in locked.text
    # The page says the same for an e-mail that is nobody's: a lockout tells nothing.
    for _ in range(LOCKOUT_AFTER + 1):
        unknown = client.post(
            "/portal/sign-in",
            data={"email": "nobody@acme.test", "password": PASSWORD, "csrf_token": token},
        )
    assert unknown.status_code == 401 and refusal(unknown.text) == refusal(locked.text)
    assert client.get("/portal/dashboard").status_code == 303
    with sessions() as session:
        user = session.scalars(select(User).where(User.email == "ana@acme.test")).one()
    assert user.locked_until == AS_OF + timedelta(minutes=15)
    # Another user is not affected.
    assert sign_in(client, "oli@other.test")


def test_lockout_ends_after_its_period(
    client: TestClient, world: PortalWorld, sessions: sessionmaker[Session]
) -> None:
    with sessions() as session, session.begin():
        user = session.scalars(select(User).where(User.email == "ana@acme.test")).one()
        user.locked_until = AS_OF - timedelta(seconds=1)
    assert sign_in(client, "ana@acme.test")


def test_a_post_without_the_csrf_token_is_refused(client: TestClient, world: PortalWorld) -> None:
    client.get("/portal/sign-in")
    refused = client.post("/portal/sign-in", data={"email": "ana@acme.test", "password": PASSWORD})
    assert refused.status_code == 403
    assert client.get("/portal/dashboard").status_code == 303  # not signed in
    token = sign_in(client, "ana@acme.test")
    assert token
    for path, data in (
        ("/portal/sign-out", {}),
        ("/portal/sign-out", {"csrf_token": "forged"}),
        ("/portal/calls/ACME-000/review", {"reason": "solicitor", "explanation": "A sales call."}),
    ):
        response = client.post(path, data=data)
        assert response.status_code == 403, path
    assert client.get("/portal/dashboard").status_code == 200  # still signed in


def test_sign_out_ends_the_session_on_the_server(
    client: TestClient, world: PortalWorld, sessions: sessionmaker[Session]
) -> None:
    token = sign_in(client, "ana@acme.test")
    cookie = client.cookies.get("leadbill_session")
    response = client.post("/portal/sign-out", data={"csrf_token": token})
    assert response.status_code == 303
    assert response.headers["location"] == "/portal/sign-in"
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(PortalSession)) == 0
    # The old cookie value no longer opens anything.
    client.cookies.set("leadbill_session", cookie or "", domain="testserver", path="/portal")
    assert client.get("/portal/dashboard").status_code == 303


def test_an_expired_session_no_longer_opens_pages_and_is_deleted(
    client: TestClient, world: PortalWorld, sessions: sessionmaker[Session]
) -> None:
    sign_in(client, "ana@acme.test")
    with sessions() as session, session.begin():
        row = session.scalars(select(PortalSession)).one()
        row.expires_at = AS_OF
    assert client.get("/portal/dashboard").headers["location"] == "/portal/sign-in"
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(PortalSession)) == 0


def test_the_portal_clock_can_be_pinned_by_a_setting(
    sessions: sessionmaker[Session], database_url: str, world: PortalWorld
) -> None:
    from leadbill.api import create_app
    from leadbill.settings import Settings

    app = create_app(sessions)
    app.state.portal_settings = Settings(
        database_url=database_url, portal_as_of="2026-01-20T15:00:00Z"
    )
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as pinned:
        sign_in(pinned, "ana@acme.test")
        assert "figures as of 2026-01-20 15:00" in pinned.get("/portal/dashboard").text


def test_pages_are_private_unframeable_and_load_nothing_from_elsewhere(
    client: TestClient, world: PortalWorld
) -> None:
    for response in (client.get("/portal/sign-in"), client.get("/portal/dashboard")):
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["cache-control"] == "no-store"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    stylesheet = client.get("/portal/static/portal.css")
    assert stylesheet.status_code == 200 and stylesheet.headers["content-type"].startswith(
        "text/css"
    )
    assert "max-age" in stylesheet.headers["cache-control"]
    icon = client.get("/portal/static/favicon.svg")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/svg+xml"
    assert 'rel="icon" href="/portal/static/favicon.svg"' in client.get("/portal/sign-in").text
