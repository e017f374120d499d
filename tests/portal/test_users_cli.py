"""`leadbill users create|list`: argon2 hashes, one account per customer, roles of the API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from leadbill import console
from leadbill.cli import app
from leadbill.mail.models import MailMessage
from leadbill.portal.models import User
from tests.portal.conftest import sign_in
from tests.portal.world import PortalWorld

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


def test_users_create_stores_an_argon2_hash_and_the_user_can_sign_in(
    cli: None, world: PortalWorld, client: TestClient, sessions: sessionmaker[Session]
) -> None:
    created = runner.invoke(
        app,
        [
            "users",
            "create",
            "--email",
            "Bo@Acme.test",
            "--role",
            "customer",
            "--account",
            "acme",
            "--password",
            "a long passphrase",
        ],
    )
    assert created.exit_code == 0, created.output
    assert "bo@acme.test (customer of account acme) created" in created.output
    with sessions() as session:
        user = session.scalars(select(User).where(User.email == "bo@acme.test")).one()
    assert user.password_hash.startswith("$argon2id$")
    assert "a long passphrase" not in user.password_hash
    assert sign_in(client, "bo@acme.test", "a long passphrase")
    listed = runner.invoke(app, ["users", "list"])
    assert "bo@acme.test" in listed.output and "acme" in listed.output


@pytest.mark.parametrize(
    ("arguments", "exit_code", "message"),
    [
        (["--role", "customer"], 2, "a customer user belongs to one account"),
        (["--role", "reviewer", "--account", "acme"], 2, "only a customer user"),
        (["--role", "ingest"], 2, "is not one of"),
        (["--role", "customer", "--account", "nope"], 4, "does not exist"),
        (["--role", "viewer", "--password", "short"], 2, "at least 10 characters"),
        (["--role", "viewer", "--email", "ana@acme.test"], 5, "already exists"),
    ],
)
def test_users_create_refuses_bad_input(
    cli: None, world: PortalWorld, arguments: list[str], exit_code: int, message: str
) -> None:
    base = ["users", "create", "--email", "new@operator.test", "--password", "long enough pw"]
    result = runner.invoke(app, [*base, *arguments])
    assert result.exit_code == exit_code, result.output
    assert message in result.output


def test_a_customer_created_without_a_password_is_invited_and_invited_again(
    cli: None, world: PortalWorld, sessions: sessionmaker[Session]
) -> None:
    created = runner.invoke(
        app,
        ["users", "create", "--email", "Nia@Acme.test", "--role", "customer", "--account", "acme"],
    )
    assert created.exit_code == 0, created.output
    assert "nia@acme.test (customer of account acme) created" in created.output
    assert "invitation queued as mail message" in created.output
    again = runner.invoke(app, ["users", "invite", "nia@acme.test"])
    assert again.exit_code == 0, again.output
    staff = runner.invoke(app, ["users", "invite", "rosa@operator.test"])
    assert staff.exit_code == 2 and "only customers are invited" in staff.output
    unknown = runner.invoke(app, ["users", "invite", "nobody@acme.test"])
    assert unknown.exit_code == 2 and "no portal user has the e-mail" in unknown.output
    with sessions() as session:
        user = session.scalars(select(User).where(User.email == "nia@acme.test")).one()
        invitations = session.scalars(
            select(MailMessage.recipient).where(MailMessage.kind == "portal.invitation")
        ).all()
    assert user.password_hash == "!"
    assert invitations == ["nia@acme.test", "nia@acme.test"]


def test_a_staff_user_without_a_password_is_prompted_for_one(
    cli: None, world: PortalWorld, client: TestClient
) -> None:
    created = runner.invoke(
        app,
        ["users", "create", "--email", "new@operator.test", "--role", "viewer"],
        input="a long passphrase\na long passphrase\n",
    )
    assert created.exit_code == 0, created.output
    assert sign_in(client, "new@operator.test", "a long passphrase")


def test_a_subscription_for_a_new_contact_invites_its_billing_email(
    cli: None, world: PortalWorld, sessions: sessionmaker[Session]
) -> None:
    made = runner.invoke(
        app,
        [
            "accounts",
            "create",
            "fresh",
            "--name",
            "Fresh",
            "--billing-email",
            "ap@fresh.test",
            "--currency",
            "USD",
            "--time-zone",
            "UTC",
        ],
    )
    assert made.exit_code == 0, made.output
    subscribed = runner.invoke(
        app, ["subscriptions", "create", "fresh", "--plan", "pkg-5", "--start", "2026-01-01"]
    )
    assert subscribed.exit_code == 0, subscribed.output
    assert "portal user ap@fresh.test created and invited" in subscribed.output
    with sessions() as session:
        (invitation,) = session.scalars(
            select(MailMessage).where(MailMessage.kind == "portal.invitation")
        ).all()
    assert invitation.recipient == "ap@fresh.test"
