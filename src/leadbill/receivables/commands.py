"""`leadbill reports receivables` (the aging report) and `leadbill invoices uncollectible`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import IO

import typer
from rich.console import Console
from rich.table import Table

from leadbill.billing.invoices import get_invoice
from leadbill.console import instant_option, now, out, unit_of_work
from leadbill.core.money import format_money
from leadbill.core.receivables import BUCKETS
from leadbill.output import OutputFormat, format_option, print_item
from leadbill.receivables.export import write_csv
from leadbill.receivables.schemas import ReceivablesOut
from leadbill.receivables.service import AgingReport, AgingRow, aging_report, mark_uncollectible
from leadbill.reports.csv_rows import instant_text


def _cells(row: AgingRow, entity: str, account: str) -> list[str]:
    totals = row.totals
    amounts = [format_money(totals.amount(b).amount, row.currency, code=False) for b in BUCKETS]
    total = format_money(totals.total.amount, row.currency, code=False)
    return [entity, account, row.currency, str(row.invoices), *amounts, total]


def aging_table(report: AgingReport) -> Table:
    """The report as one table: each account, each entity's subtotal, then the totals."""
    table = Table(
        "entity",
        "account",
        "currency",
        "invoices",
        *(bucket.label for bucket in BUCKETS),
        "total",
        title=f"Receivables as of {instant_text(report.as_of)}, by days past due",
    )
    for column in table.columns[3:]:
        column.justify = "right"
    for row in report.accounts:
        table.add_row(*_cells(row, row.entity or "-", row.account or ""))
    table.add_section()
    for row in report.entities:
        table.add_row(*_cells(row, row.entity or "-", "all accounts"))
    table.add_section()
    for row in report.totals:
        table.add_row(*_cells(row, "all entities", "all accounts"))
    return table


def receivables(
    as_of: str | None = typer.Option(None, help="RFC 3339 instant (default: now)"),
    entity: str | None = typer.Option(None, help="Only the invoices this billing entity issued"),
    account: str | None = typer.Option(None, help="Only this account (code)"),
    format_: OutputFormat = format_option(),
    output: Path | None = typer.Option(None, help="Write to this file instead of stdout"),
) -> None:
    """Open balances by days past due (current, 1-30, 31-60, 61-90, over 90), per entity
    and account, in each currency (JSON: as GET /reports/receivables)."""
    at = instant_option(as_of, "as_of") if as_of else now()
    with unit_of_work() as session:
        report = aging_report(session, at, entity=entity, account=account)
    if output is None:
        _write(report, format_, None)
        return
    with output.open("w", encoding="utf-8", newline="") as handle:
        _write(report, format_, handle)
    out.print(f"wrote the receivables as of {instant_text(at)} to {output}")


def _write(report: AgingReport, format_: OutputFormat, handle: IO[str] | None) -> None:
    if format_ is OutputFormat.JSON:
        print_item(format_, ReceivablesOut.of(report), handle)
        return
    if format_ is OutputFormat.CSV:
        write_csv(report, handle or sys.stdout)
        return
    console = out if handle is None else Console(file=handle, width=200, markup=False)
    if report.is_empty:
        console.print(f"nothing is owed as of {instant_text(report.as_of)}")
    else:
        console.print(aging_table(report))


def uncollectible(
    number: str = typer.Argument(..., help="Invoice number"),
    reason: str = typer.Option(..., help="Why it cannot be collected (at most 300 characters)"),
    at: str | None = typer.Option(None, help="RFC 3339 instant (default: now)"),
) -> None:
    """Write off an open invoice: it leaves the receivables and stays in the ledger; a
    payment recorded later still counts, and pays it when it covers the balance."""
    instant = instant_option(at, "at") if at else now()
    with unit_of_work() as session:
        invoice = mark_uncollectible(session, get_invoice(session, number), reason, instant)
        out.print(f"invoice {invoice.number} is uncollectible: {invoice.uncollectible_reason}")


def register(invoices: typer.Typer, reports: typer.Typer) -> None:
    """Mount the commands on `leadbill invoices` and `leadbill reports`."""
    invoices.command("uncollectible")(uncollectible)
    reports.command("receivables")(receivables)
