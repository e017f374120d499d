"""The portal over HTTP against the real app and database (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from leadbill.api import create_app
from leadbill.settings import Settings
from tests.portal.world import AS_OF, PASSWORD, PortalWorld, build_world, csrf_of

LOCKOUT_AFTER = 3


@pytest.fixture
def world(sessions: sessionmaker[Session]) -> PortalWorld:
    """Two accounts with leads and one user per role."""
    return build_world(sessions)


@contextmanager
def portal_client(sessions: sessionmaker[Session], database_url: str) -> Iterator[TestClient]:
    """A browser-like client over https (the cookies are Secure) with the clock at AS_OF."""
    app = create_app(sessions)
    app.state.portal_clock = lambda: AS_OF
    app.state.portal_settings = Settings(
        database_url=database_url, portal_max_failed_sign_ins=LOCKOUT_AFTER
    )
    with TestClient(
        app, base_url="https://testserver", raise_server_exceptions=False, follow_redirects=False
    ) as client:
        yield client


@pytest.fixture
def client(sessions: sessionmaker[Session], database_url: str) -> Iterator[TestClient]:
    """A browser-like client over https (the cookies are Secure) with the clock at AS_OF."""
    with portal_client(sessions, database_url) as client:
        yield client


def sign_in(client: TestClient, email: str, password: str = PASSWORD) -> str:
    """Sign in through the form; returns the page's CSRF token for later forms."""
    form = client.get("/portal/sign-in")
    response = client.post(
        "/portal/sign-in",
        data={"email": email, "password": password, "csrf_token": csrf_of(form.text)},
    )
    assert response.status_code == 303, response.text
    home = client.get("/portal/").headers["location"]  # the dashboard or the review queue
    return csrf_of(client.get(home).text)
