"""`leadbill export`: files for the operator's accountant."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from leadbill.billing.ledger import ledger_rows, write_ledger
from leadbill.console import instant_option, unit_of_work

app = typer.Typer(help="Exports for accounting: the ledger of invoices, credit notes, payments.")


@app.command("ledger")
def ledger(
    start: str = typer.Option(..., "--from", help="First instant (RFC 3339; a date is 00:00 UTC)"),
    end: str = typer.Option(..., "--to", help="End instant, excluded"),
    entity: str | None = typer.Option(None, "--entity", help="Only this billing entity's"),
    output: Path | None = typer.Option(None, "--output", "-o", help="File (default: stdout)"),
) -> None:
    """Invoices, credit notes and payments of [--from, --to) as CSV, one row a document line.

    The columns are described in docs/ledger-export.md; the rows of a document add up
    to its total.
    """
    with unit_of_work() as session:
        rows = ledger_rows(
            session, instant_option(start, "from"), instant_option(end, "to"), entity=entity
        )
        if output is None:
            write_ledger(sys.stdout, rows)
            return
        with output.open("w", encoding="utf-8", newline="") as handle:
            write_ledger(handle, rows)
