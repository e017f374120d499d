"""Documented limits at the command line: numbers past their maximum and texts past
their column are refused naming the field, and nothing is stored (SQLite and
PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from leadbill import console
from leadbill.accounts.models import Account
from leadbill.billing.models import Invoice
from leadbill.cli import app
from leadbill.plans.models import Plan

runner = CliRunner()
HUGE = str(10**20)


@pytest.fixture
def cli(
    database_url: str, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> Iterator[sessionmaker[Session]]:
    """The CLI pointed at the test database."""
    monkeypatch.setenv("LEADBILL_DATABASE_URL", database_url)
    monkeypatch.setenv("COLUMNS", "200")
    console.sessions.cache_clear()
    yield sessions
    console.sessions().kw["bind"].dispose()
    console.sessions.cache_clear()


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def _count(sessions: sessionmaker[Session], model: type) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_plan_numbers_past_their_maximum_are_refused(cli: sessionmaker[Session]) -> None:
    code, output = run("plans", "create", "big", "--name", "Big", "--fee", "10",
                       "--included-leads", HUGE)  # fmt: skip
    assert code == 2, output
    assert "included_leads: must be at most 10,000,000" in output
    code, output = run("plans", "create", "lic", "--name", "Lic", "--fee", "10",
                       "--licence-price", "5", "--licence-cap", HUGE)  # fmt: skip
    assert code == 2, output
    assert "licence_cap: must be at most 1,000,000" in output
    assert _count(cli, Plan) == 0


def test_licence_counts_past_a_million_are_refused_not_sent_to_staff(
    cli: sessionmaker[Session],
) -> None:
    assert (
        run("accounts", "create", "team", "--name", "Team", "--billing-email", "b@t.test")[0] == 0
    )
    code, output = run("plans", "create", "lic", "--name", "Lic", "--fee", "0",
                       "--interval", "year", "--counting-policy", "none", "--licence-price", "5",
                       "--licence-cap", "5")  # fmt: skip
    assert code == 0, output
    start = ("--start", "2026-01-01T00:00:00Z")
    code, output = run("subscriptions", "create", "team", "--plan", "lic", *start,
                       "--licences", HUGE)  # fmt: skip
    assert code == 2, output
    assert "licences: must be at most 1,000,000" in output
    code, output = run("subscriptions", "create", "team", "--plan", "lic", *start,
                       "--licences", "3")  # fmt: skip
    assert code == 0, output
    invoices = _count(cli, Invoice)
    at = ("--at", "2026-07-02T00:00:00Z")
    for staff in ((), ("--as-staff",)):
        code, output = run("subscriptions", "licences", "add", "team", "--count", HUGE,
                           *staff, *at)  # fmt: skip
        assert code == 2, output
        assert "count: a subscription holds at most 1,000,000 licences" in output
        assert "operator staff" not in output
    assert _count(cli, Invoice) == invoices


def test_a_text_longer_than_its_column_is_refused_naming_the_field(
    cli: sessionmaker[Session],
) -> None:
    code, output = run("accounts", "create", "acme", "--name", "x" * 201,
                       "--billing-email", "b@acme.test")  # fmt: skip
    assert code == 2, output
    assert "name: longer than 200 characters" in output
    code, output = run("accounts", "create", "a" * 65, "--name", "Acme",
                       "--billing-email", "b@acme.test")  # fmt: skip
    assert code == 2, output
    assert "code: longer than 64 characters" in output
    assert _count(cli, Account) == 0
