"""`leadbill dunning list|run`: invoices in dunning, and one dunning run by hand."""

from __future__ import annotations

from decimal import Decimal

import typer
from rich.table import Table

from leadbill.accounts.service import get_account
from leadbill.console import instant_option, now, out, sessions, unit_of_work
from leadbill.core.money import format_money
from leadbill.dunning.schemas import DunningInvoiceOut
from leadbill.dunning.service import in_dunning, run_dunning
from leadbill.output import OutputFormat, format_option, print_items
from leadbill.reports.csv_rows import instant_text

app = typer.Typer(
    help="Dunning: reminders of unpaid invoices on their entity's schedule.",
    no_args_is_help=True,
)


def _next(item: DunningInvoiceOut) -> str:
    if item.next_on is None:
        return f"done ({item.action_taken})" if item.action_taken else "no more steps"
    what = f"day {item.next_step}" if item.next_step is not None else str(item.next_action)
    return f"{what} on {item.next_on}"


@app.command("list")
def list_(
    as_of: str | None = typer.Option(None, help="RFC 3339 instant (default: now)"),
    account: str | None = typer.Option(None, help="Only this account (code)"),
    format_: OutputFormat = format_option(),
) -> None:
    """Open invoices in dunning: amount due, days overdue, last step sent, next step and
    its date (JSON: as GET /v1/dunning)."""
    at = instant_option(as_of, "as_of") if as_of else now()
    with unit_of_work() as session:
        account_id = get_account(session, account).id if account else None
        items = [
            DunningInvoiceOut.of(i, at) for i in in_dunning(session, at, account_id=account_id)
        ]
    if format_ is not OutputFormat.TABLE:
        print_items(format_, DunningInvoiceOut, items)
        return
    if not items:
        out.print(f"no invoice in dunning as of {instant_text(at)}")
        return
    table = Table(
        "invoice",
        "account",
        "amount due",
        "due on",
        "days overdue",
        "last step sent",
        "next",
        title=f"Invoices in dunning as of {instant_text(at)} (steps: days after the due date)",
    )
    for item in items:
        last = f"day {item.last_step} on {item.last_step_on}" if item.last_step is not None else "-"
        table.add_row(
            item.invoice,
            item.account,
            format_money(Decimal(item.amount_due.amount), item.amount_due.currency),
            str(item.due_on),
            str(item.days_overdue),
            last,
            _next(item),
        )
    out.print(table)


@app.command("run")
def run(as_of: str | None = typer.Option(None, help="RFC 3339 instant (default: now)")) -> None:
    """Run dunning once now (as the worker's `dunning` job does): queue the due reminder
    steps, emit invoice.overdue, take the final actions."""
    at = instant_option(as_of, "as_of") if as_of else now()
    result = run_dunning(sessions(), at)
    out.print(
        f"dunning as of {instant_text(at)}: {result.reminders} reminders queued, "
        f"{result.overdue} newly overdue, {result.uncollectible} marked uncollectible, "
        f"{result.paused} services paused, {result.cancelled} reminders cancelled"
    )
