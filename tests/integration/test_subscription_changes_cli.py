"""`leadbill subscriptions change-plan` and `subscriptions licences ...` (R7, R19-R22).

The commands run against the test database through LEADBILL_DATABASE_URL, on
SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from leadbill import console
from leadbill.billing.models import Invoice
from leadbill.cli import app

runner = CliRunner()


@pytest.fixture
def cli(
    database_url: str, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> Iterator[sessionmaker[Session]]:
    """The CLI pointed at the test database."""
    monkeypatch.setenv("LEADBILL_DATABASE_URL", database_url)
    console.sessions.cache_clear()
    yield sessions
    console.sessions().kw["bind"].dispose()
    console.sessions.cache_clear()


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_r20_r22_licences_from_the_command_line(cli: sessionmaker[Session]) -> None:
    assert (
        run("accounts", "create", "team", "--name", "Team", "--billing-email", "b@team.test")[0]
        == 0
    )
    code, output = run(
        "plans", "create", "enterprise-annual", "--name", "Enterprise annual",
        "--interval", "year", "--fee", "0", "--counting-policy", "none",
        "--licence-price", "1200.00", "--licence-cap", "5",
    )  # fmt: skip
    assert code == 0, output
    code, output = run(
        "subscriptions", "create", "team", "--plan", "enterprise-annual",
        "--start", "2026-01-01T00:00:00Z", "--licences", "3",
    )  # fmt: skip
    assert code == 0, output
    at = ("--at", "2026-07-02T00:00:00Z")
    code, output = run("subscriptions", "licences", "preview", "team", "--count", "2", *at)
    assert code == 0, output
    assert "total due today: 1,203.29 USD" in output
    assert "next renewal amount: 6,000.00 USD" in output
    code, output = run("subscriptions", "licences", "add", "team", "--count", "3", *at)
    assert code == 6
    assert "staff" in output
    code, output = run("subscriptions", "licences", "add", "team", "--count", "2", *at)
    assert code == 0, output
    assert "1,203.29 USD" in output
    code, output = run(
        "subscriptions", "licences", "add", "team", "--count", "1", "--as-staff", *at
    )
    assert code == 0, output
    # Six licences are beyond the cap: only staff may change the count now.
    code, output = run("subscriptions", "licences", "remove", "team", "--count", "2", *at)
    assert code == 6
    code, output = run(
        "subscriptions", "licences", "remove", "team", "--count", "2", "--as-staff", *at
    )
    assert code == 0, output
    assert "4 licences from 2027-01-01" in output
    with cli.begin() as session:
        totals = sorted(
            invoice.total
            for invoice in session.scalars(select(Invoice).where(Invoice.kind == "licences"))
        )
        assert totals == [Decimal("601.64"), Decimal("1203.29")]


def test_r7_change_plan_from_the_command_line(cli: sessionmaker[Session]) -> None:
    run("accounts", "create", "agent", "--name", "Agent", "--billing-email", "b@agent.test")
    for code, fee, included, rate in (("pkg-100", "1000.00", "100", "9.50"),
                                      ("pkg-200", "1800.00", "200", "8.00")):  # fmt: skip
        assert run(
            "plans", "create", code, "--name", code, "--fee", fee, "--included-leads", included,
            "--per-lead-rate", rate, "--ladder", "agent",
        )[0] == 0  # fmt: skip
    run("subscriptions", "create", "agent", "--plan", "pkg-100", "--start", "2026-04-01T00:00:00Z")
    code, output = run(
        "subscriptions", "change-plan", "agent", "--plan", "pkg-200",
        "--at", "2026-04-11T00:00:00Z",
    )  # fmt: skip
    assert code == 0, output
    assert "takes effect now" in output and "533.33 USD" in output
    code, output = run(
        "subscriptions", "change-plan", "agent", "--plan", "pkg-100",
        "--at", "2026-04-12T00:00:00Z",
    )  # fmt: skip
    assert code == 0, output
    assert "takes effect at 2026-05-01 00:00 UTC" in output
    code, output = run("subscriptions", "show", "agent")
    assert "plan from the next period: pkg-100" in output


def test_r7_immediate_downgrade_from_the_command_line_prints_its_credit_note(
    cli: sessionmaker[Session],
) -> None:
    assert (
        run("accounts", "create", "agent", "--name", "Agent", "--billing-email", "a@x.test")[0] == 0
    )
    for code, fee, leads in (("pkg-100", "1000.00", "100"), ("pkg-200", "1800.00", "200")):
        code_, output = run(
            "plans", "create", code, "--name", code, "--fee", fee, "--included-leads", leads,
            "--per-lead-rate", "9.50", "--ladder", "agent",
        )  # fmt: skip
        assert code_ == 0, output
    code, output = run(
        "subscriptions", "create", "agent", "--plan", "pkg-200", "--start", "2026-04-01T00:00:00Z"
    )
    assert code == 0, output
    change = ("subscriptions", "change-plan", "agent", "--plan", "pkg-100", "--immediate")
    at = ("--at", "2026-04-11T00:00:00Z", "--key", "dg-1")
    code, output = run(*change, *at)
    assert code == 0, output
    assert (
        "plan pkg-100 takes effect now; credit note CN-000001 for 533.33 USD, "
        "applied to the next invoice"
    ) in " ".join(output.split())
    code, output = run(*change, *at)
    assert code == 0, output
    assert "(already recorded); credit note CN-000001 for 533.33 USD" in " ".join(output.split())
    code, output = run("credit-notes", "show", "CN-000001")
    assert code == 0, output
    assert "plan change pkg-200 -> pkg-100 at 2026-04-11 00:00 UTC" in " ".join(output.split())
    assert "left to apply: 533.33 USD" in output
    with cli.begin() as session:
        totals = [invoice.total for invoice in session.scalars(select(Invoice))]
        assert totals == [Decimal("1800.00")]
