"""`leadbill reports receivables`, `invoices uncollectible`, and due dates in `invoices list`
and `invoices show`, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from leadbill import console
from leadbill.billing.invoices import get_invoice
from leadbill.cli import app
from leadbill.receivables.export import COLUMNS
from tests.conftest import utc
from tests.integration.receivables_world import ReceivablesWorld, build_receivables_world

runner = CliRunner()
AS_OF = "2026-07-01T03:00:00Z"


@pytest.fixture
def cli(
    database_url: str, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> Iterator[ReceivablesWorld]:
    """The CLI pointed at the test database, which holds the receivables world."""
    world = build_receivables_world(sessions)
    monkeypatch.setenv("LEADBILL_DATABASE_URL", database_url)
    monkeypatch.setattr(console.out, "width", 160)
    console.sessions.cache_clear()
    yield world
    console.sessions().kw["bind"].dispose()
    console.sessions.cache_clear()


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def _table_rows(output: str) -> list[list[str]]:
    return [
        [cell.strip() for cell in line.strip("│").split("│")]
        for line in output.splitlines()
        if line.startswith("│")
    ]


def test_receivables_table_buckets_each_account_entity_and_currency(
    cli: ReceivablesWorld,
) -> None:
    code, output = run("reports", "receivables", "--as-of", AS_OF)
    assert code == 0, output
    assert "Receivables as of 2026-07-01T03:00:00Z, by days past due" in output
    assert _table_rows(output) == [
        ["nordic", "fjord", "EUR", "2", "250.00", "0.00", "400.00", "0.00", "0.00", "650.00"],
        ["nordic", "lumen", "USD", "2", "0.00", "0.00", "60.00", "75.50", "0.00", "135.50"],
        ["us", "acme", "USD", "4", "140.00", "350.00", "0.00", "0.00", "0.00", "490.00"],
        ["us", "bolt", "USD", "3", "0.00", "10.01", "0.00", "1,200.00", "999.00", "2,209.01"],
        ["nordic", "all accounts", "EUR", "2", "250.00", "0.00", "400.00", "0.00", "0.00",
         "650.00"],
        ["nordic", "all accounts", "USD", "2", "0.00", "0.00", "60.00", "75.50", "0.00", "135.50"],
        ["us", "all accounts", "USD", "7", "140.00", "360.01", "0.00", "1,200.00", "999.00",
         "2,699.01"],
        ["all entities", "all accounts", "EUR", "2", "250.00", "0.00", "400.00", "0.00", "0.00",
         "650.00"],
        ["all entities", "all accounts", "USD", "9", "140.00", "360.01", "60.00", "1,275.50",
         "999.00", "2,834.51"],
    ]  # fmt: skip


def test_receivables_csv_totals_equal_the_tables(cli: ReceivablesWorld, tmp_path: Path) -> None:
    code, table = run("reports", "receivables", "--as-of", AS_OF)
    assert code == 0
    path = tmp_path / "aging.csv"
    code, output = run(
        "reports", "receivables", "--as-of", AS_OF, "--format", "csv", "--output", str(path)
    )
    assert code == 0 and f"to {path}" in output
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    assert tuple(rows[0]) == COLUMNS
    assert rows[-1] == [
        AS_OF, "total", "", "", "USD", "9", "140.00", "360.01", "60.00", "1275.50", "999.00",
        "2834.51",
    ]  # fmt: skip
    # Every CSV row is a row of the table, the same figures without the thousands separator.
    shown = [[cell.replace(",", "") for cell in row[2:]] for row in _table_rows(table)]
    assert [row[4:] for row in rows[1:]] == shown
    # Each bucket of the totals is the sum of the accounts' rows, to the cent.
    for currency in ("EUR", "USD"):
        accounts = [r for r in rows[1:] if r[1] == "account" and r[4] == currency]
        (total,) = [r for r in rows[1:] if r[1] == "total" and r[4] == currency]
        for column in range(5, 12):
            summed = sum((Decimal(r[column]) for r in accounts), Decimal(0))
            assert summed == Decimal(total[column])


def test_receivables_of_one_entity_or_account_and_unknown_ones(cli: ReceivablesWorld) -> None:
    code, output = run(
        "reports", "receivables", "--as-of", AS_OF, "--entity", "nordic", "--format", "csv"
    )
    assert code == 0
    assert {row.split(",")[3] for row in output.splitlines()[1:5]} == {"fjord", "lumen", ""}
    code, output = run("reports", "receivables", "--as-of", "2026-01-15", "--account", "acme")
    assert code == 0 and "nothing is owed as of 2026-01-15T00:00:00Z" in output
    code, output = run("reports", "receivables", "--entity", "ghost")
    assert code == 4 and "billing entity" in output and "ghost" in output


def test_invoices_list_and_show_print_the_due_date_and_days_overdue(cli: ReceivablesWorld) -> None:
    numbers = cli.numbers
    code, output = run("invoices", "list", "--account", "acme", "--as-of", AS_OF)
    assert code == 0, output
    lines = {row[0]: row for row in _table_rows(output)}
    assert lines[numbers["A2"]][5:] == ["2026-06-16", "open", "500.00 USD", "overdue 14 days"]
    assert lines[numbers["A3"]][5:] == ["2026-06-29", "open", "50.00 USD", "overdue 1 day"]
    assert lines[numbers["A4"]][5:] == ["2026-06-30", "open", "40.00 USD", ""]
    assert lines[numbers["A5"]][5:] == ["2026-05-16", "paid", "80.00 USD", ""]
    code, output = run("invoices", "show", numbers["B1"], "--as-of", AS_OF)
    assert code == 0 and "due 2026-05-01  overdue 61 days" in output
    code, output = run("invoices", "show", numbers["B3"], "--as-of", AS_OF)
    assert "due 2026-03-03\n" in output and "overdue" not in output
    assert "uncollectible 2026-06-20 00:00 UTC" in output
    assert "written off: Customer went out of business" in output


def test_invoices_uncollectible_writes_off_with_a_reason_and_refuses_a_paid_one(
    cli: ReceivablesWorld, sessions: sessionmaker[Session]
) -> None:
    number = cli.numbers["B1"]
    code, output = run(
        "invoices", "uncollectible", number, "--reason", "No answer since April", "--at", AS_OF
    )
    assert code == 0 and f"invoice {number} is uncollectible: No answer since April" in output
    with sessions() as session:
        invoice = get_invoice(session, number)
        assert invoice.status == "uncollectible" and invoice.uncollectible_at == utc(2026, 7, 1, 3)
    code, output = run("reports", "receivables", "--as-of", AS_OF, "--account", "bolt")
    assert re.search(r"│ us +│ bolt +│ USD +│ +2 │.*│ +1,009.01 │", output), output
    code, output = run("invoices", "uncollectible", cli.numbers["A5"], "--reason", "gone")
    assert code == 5 and "is paid; nothing is left to collect" in output
    code, output = run("invoices", "uncollectible", cli.numbers["A1"], "--reason", " ")
    assert code == 2 and "reason: is required" in output
    code, output = run("invoices", "uncollectible", "INV-999999", "--reason", "gone")
    assert code == 4
