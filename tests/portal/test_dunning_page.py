"""The staff Dunning page: the invoices in dunning with their next step, for billing staff."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from leadbill.api import create_app
from leadbill.dunning.service import run_dunning
from leadbill.settings import Settings
from tests.integration.receivables_world import (
    AS_OF,
    USERS,
    ReceivablesWorld,
    build_receivables_world,
)
from tests.portal.conftest import sign_in


@pytest.fixture
def world(sessions: sessionmaker[Session]) -> ReceivablesWorld:
    """The invoices of receivables_world, with portal users, dunned once at AS_OF."""
    built = build_receivables_world(sessions, users=True)
    run_dunning(sessions, AS_OF)
    return built


@pytest.fixture
def client(sessions: sessionmaker[Session], database_url: str) -> Iterator[TestClient]:
    """A browser-like client with the portal's clock at the world's AS_OF."""
    app = create_app(sessions)
    app.state.portal_clock = lambda: AS_OF
    app.state.portal_settings = Settings(database_url=database_url)
    with TestClient(
        app, base_url="https://testserver", raise_server_exceptions=False, follow_redirects=False
    ) as client:
        yield client


def _row(html: str, row_id: str) -> str:
    found = re.search(rf'<tr id="{row_id}">(.*?)</tr>', html, re.S)
    assert found is not None, row_id
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(1))).strip()


def test_billing_staff_see_each_invoice_with_its_last_and_next_step(
    client: TestClient, world: ReceivablesWorld
) -> None:
    sign_in(client, USERS["billing"])
    page = client.get("/portal/staff/dunning")
    assert page.status_code == 200, page.text
    assert 'href="/portal/staff/dunning" aria-current="page"' in page.text
    n = world.numbers
    assert _row(page.text, f"dunning-{n['A3']}") == (
        f"{n['A3']} acme 50.00 USD 2026-06-29 1 day 0, on 2026-06-30 day 3, on 2026-07-02"
    )
    assert _row(page.text, f"dunning-{n['A2']}") == (
        f"{n['A2']} acme 300.00 USD 2026-06-16 14 day 14, on 2026-06-30 no more steps"
    )
    assert f"dunning-{n['B3']}" not in page.text  # uncollectible


def test_viewers_get_no_dunning_page(client: TestClient, world: ReceivablesWorld) -> None:
    sign_in(client, USERS["viewer"])
    assert client.get("/portal/staff/dunning").status_code == 403
    assert "/portal/staff/dunning" not in client.get("/portal/staff/receivables").text
