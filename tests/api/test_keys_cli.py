"""`leadbill keys create|list|revoke`: shown once, stored as a hash, revocable, last use shown."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from leadbill import console
from leadbill.auth.models import ApiKey
from leadbill.cli import app
from tests.api.conftest import World

runner = CliRunner()


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The CLI pointed at the test database."""
    monkeypatch.setenv("LEADBILL_DATABASE_URL", database_url)
    monkeypatch.setattr(console.out, "width", 200)
    console.sessions.cache_clear()
    yield
    console.sessions().kw["bind"].dispose()
    console.sessions.cache_clear()


def test_key_is_shown_once_stored_as_sha256_and_revocable(
    cli: None, world: World, client: TestClient, sessions: sessionmaker[Session]
) -> None:
    created = runner.invoke(app, ["keys", "create", "--role", "customer", "--account", "acme"])
    assert created.exit_code == 0, created.output
    key = created.output.strip().splitlines()[-1]
    assert key.startswith("lb_") and len(key) >= 43
    with sessions() as session:
        row = session.scalars(select(ApiKey).order_by(ApiKey.id.desc())).first()
        assert row is not None
        assert row.key_hash == hashlib.sha256(key.encode()).hexdigest()
        assert key not in (row.prefix, row.name, row.key_hash)
        key_id = row.id

    headers = {"Authorization": f"Bearer {key}"}
    assert client.get("/v1/accounts/acme", headers=headers).status_code == 200
    listed = runner.invoke(app, ["keys", "list"])
    assert listed.exit_code == 0 and key[:11] in listed.output and key not in listed.output
    (line,) = [line for line in listed.output.splitlines() if key[:11] in line]
    assert "customer" in line and "acme" in line
    with sessions() as session:
        assert session.get_one(ApiKey, key_id).last_used_at is not None

    revoked = runner.invoke(app, ["keys", "revoke", str(key_id)])
    assert revoked.exit_code == 0, revoked.output
    after = client.get("/v1/accounts/acme", headers=headers)
    assert after.status_code == 401
    assert "revoked" in after.json()["detail"]
    assert runner.invoke(app, ["keys", "revoke", str(key_id)]).exit_code == 5


def test_customer_key_needs_an_account_and_staff_keys_refuse_one(cli: None, world: World) -> None:
    assert runner.invoke(app, ["keys", "create", "--role", "customer"]).exit_code == 2
    staff = runner.invoke(app, ["keys", "create", "--role", "admin", "--account", "acme"])
    assert staff.exit_code == 2
    assert runner.invoke(app, ["keys", "create", "--role", "root"]).exit_code == 2
    missing = runner.invoke(app, ["keys", "create", "--role", "customer", "--account", "ghost"])
    assert missing.exit_code == 4
