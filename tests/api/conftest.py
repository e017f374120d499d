"""The API against the real app and database (SQLite and PostgreSQL).

`world` holds two subscribed accounts (acme, whose customer key is used, and
other), a plan, a seat on each, a few lead events, and one API key per role.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from leadbill.accounts.service import create_account
from leadbill.api import create_app
from leadbill.auth.service import Role, create_key
from leadbill.billing.invoices import list_invoices
from leadbill.plans.service import create_plan
from leadbill.seats.service import create_seat
from leadbill.subscriptions.service import create_subscription
from tests.conftest import utc

START = utc(2026, 1, 1)


@dataclass
class World:
    """Ids and keys of the test data."""

    keys: dict[str, str]
    subscriptions: dict[str, int]
    invoices: dict[str, str]
    webhooks: dict[str, int] = field(default_factory=dict)  # ids the role matrix names
    extra: dict[str, int] = field(default_factory=dict)

    def auth(self, role: str) -> dict[str, str]:
        """The Authorization header of the key with this role."""
        return {"Authorization": f"Bearer {self.keys[role]}"}


@pytest.fixture
def client(sessions: sessionmaker[Session]) -> Iterator[TestClient]:
    """A client of the app on the test database; unexpected errors become 500 responses."""
    with TestClient(create_app(sessions), raise_server_exceptions=False) as client:
        yield client


def _subscribed_account(session: Session, code: str, plan: object) -> tuple[int, str]:
    account = create_account(
        session,
        code=code,
        name=code.title(),
        currency="USD",
        time_zone="UTC",
        billing_email=f"billing@{code}.test",
        as_of=START,
    )
    subscription = create_subscription(session, account=account, plan=plan, start=START)  # type: ignore[arg-type]
    create_seat(
        session,
        account=account,
        code=f"{code}-seat",
        primary_name="Pat Primary",
        primary_email=f"pat@{code}.test",
        backup_name="Bo Backup",
        backup_email=f"bo@{code}.test",
        as_of=utc(2026, 1, 2),
    )
    (first, *_rest) = list_invoices(session, account_id=account.id)
    assert first.number is not None
    return subscription.id, first.number


@pytest.fixture
def world(sessions: sessionmaker[Session]) -> World:
    """Two subscribed accounts with a seat each, and a key per role (customer: acme)."""
    with sessions() as session, session.begin():
        plan = create_plan(
            session,
            code="pkg-100",
            name="Package 100",
            currency="USD",
            interval="month",
            fee="1000.00",
            included_leads=100,
            per_lead_rate="10.00",
            seat_fee="57.00",
            ladder="pkg",
            as_of=START,
        )
        subscriptions, invoices = {}, {}
        for code in ("acme", "other"):
            subscriptions[code], invoices[code] = _subscribed_account(session, code, plan)
        keys = {}
        for role in Role:
            account = "acme" if role is Role.CUSTOMER else None
            _row, keys[role.value] = create_key(
                session, role=role.value, account_code=account, as_of=START
            )
    return World(keys=keys, subscriptions=subscriptions, invoices=invoices)
