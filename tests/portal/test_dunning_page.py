"""The staff Dunning page: the invoices in dunning with their next step, for billing staff."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from leadbill.api import create_app
from leadbill.dunning.service import run_dunning
from leadbill.entities.models import BillingEntity
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


def test_admin_sets_an_entity_dunning_schedule_on_its_page(
    client: TestClient, world: ReceivablesWorld, sessions: sessionmaker[Session]
) -> None:
    token = sign_in(client, USERS["admin"])
    page = client.get("/portal/staff/billing-entities/us")
    assert page.status_code == 200
    assert 'name="dunning_steps"' in page.text and 'value="0,3,7,14"' in page.text
    form = {
        "legal_name": "Leadbill Demo Inc.",
        "address_line1": "1 Main St",
        "address_line2": "",
        "city": "Denver",
        "postal_code": "",
        "region": "",
        "country": "US",
        "tax_id": "",
        "email": "",
        "invoice_prefix": "INV-",
        "credit_note_prefix": "CN-",
        "payment_terms_days": "15",
        "default_currency": "USD",
        "csrf_token": token,
    }
    repeated = client.post(
        "/portal/staff/billing-entities/us",
        data={**form, "dunning_steps": "0,3,3", "dunning_action": "none"},
    )
    assert repeated.status_code == 422
    assert "repeats 3; steps are distinct" in repeated.text
    assert 'value="0,3,3"' in repeated.text  # what was typed
    saved = client.post(
        "/portal/staff/billing-entities/us",
        data={**form, "dunning_steps": "1, 10,5", "dunning_action": "pause_service"},
    )
    assert saved.status_code == 303, saved.text
    with sessions() as session:
        entity = session.scalars(select(BillingEntity).where(BillingEntity.code == "us")).one()
        assert (entity.dunning_steps, entity.dunning_action) == ("1,5,10", "pause_service")
