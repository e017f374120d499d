"""`leadbill leads ...`: staff decisions on leads (R16) and re-evaluation of context (R12)."""

from __future__ import annotations

import csv
from pathlib import Path

import typer
from rich.table import Table

from leadbill.accounts.service import get_account
from leadbill.console import instant_option, now, out, print_error, unit_of_work
from leadbill.core.billability import NON_BILLABLE_REASONS
from leadbill.core.wording import count_of
from leadbill.leads.decisions import decisions_of, exclude_leads
from leadbill.leads.policies import reevaluate_open_leads
from leadbill.leads.schemas import LeadDecisionOut
from leadbill.output import OutputFormat, format_option, print_items

app = typer.Typer(help="Leads: staff decisions and re-evaluation.", no_args_is_help=True)

_REASONS = ", ".join(reason.value for reason in NON_BILLABLE_REASONS)


@app.command("exclude")
def exclude(
    account: str = typer.Argument(..., help="Account code"),
    lead_id: str = typer.Argument(..., help="The operator's lead id"),
    reason: str = typer.Option(..., help=f"One of {_REASONS}"),
    by: str = typer.Option(..., help="Who decides (recorded with the instant)"),
    at: str | None = typer.Option(
        None, help="When the decision is made, RFC 3339 (default: now); it is recorded"
    ),
) -> None:
    """Mark one lead non-billable before its period is invoiced (proactive review)."""
    as_of = instant_option(at, "at") if at else now()
    with unit_of_work() as session:
        exclude_leads(session, account, [lead_id], reason=reason, decided_by=by, as_of=as_of)
    out.print(f"lead {lead_id} marked non-billable: {reason} (by {by})")


@app.command("exclude-bulk")
def exclude_bulk(
    account: str = typer.Argument(..., help="Account code"),
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV with a lead_id column"),
    reason: str = typer.Option(..., help=f"One of {_REASONS}"),
    by: str = typer.Option(..., help="Who decides (recorded with the instant)"),
    at: str | None = typer.Option(
        None, help="When the decision is made, RFC 3339 (default: now); it is recorded"
    ),
) -> None:
    """Mark the leads listed in a CSV file (column lead_id) non-billable; all or none."""
    with file.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or "lead_id" not in [n.strip() for n in reader.fieldnames]:
            print_error("header: the file needs a lead_id column")
            raise typer.Exit(2)
        column = next(n for n in reader.fieldnames if n.strip() == "lead_id")
        lead_ids = [row[column] or "" for row in reader]
    as_of = instant_option(at, "at") if at else now()
    with unit_of_work() as session:
        count = exclude_leads(session, account, lead_ids, reason=reason, decided_by=by, as_of=as_of)
    out.print(f"{count_of(count, 'lead')} marked non-billable: {reason} (by {by})")


@app.command("decisions")
def decisions(
    account: str = typer.Argument(..., help="Account code"),
    lead_id: str = typer.Argument(..., help="The operator's lead id"),
    format_: OutputFormat = format_option(),
) -> None:
    """List the staff decisions on one lead: reason, who and when."""
    with unit_of_work() as session:
        if format_ is not OutputFormat.TABLE:
            shapes = [
                LeadDecisionOut(reason=d.reason, decided_by=d.decided_by, decided_at=d.decided_at)
                for d in decisions_of(session, account, lead_id)
            ]
            print_items(format_, LeadDecisionOut, shapes)
            return
        table = Table("decided at (UTC)", "reason", "by")
        for decision in decisions_of(session, account, lead_id):
            table.add_row(
                f"{decision.decided_at:%Y-%m-%d %H:%M:%S}", decision.reason, decision.decided_by
            )
        out.print(table)


@app.command("reevaluate")
def reevaluate(
    account: str = typer.Argument(..., help="Account code"),
    since: str | None = typer.Option(
        None, help="Re-apply to leads from this instant (default: the period not yet invoiced)"
    ),
) -> None:
    """Re-apply the account's context (pauses, service area, customers, block list, window)."""
    start = instant_option(since, "since") if since else None
    with unit_of_work() as session:
        changed = reevaluate_open_leads(session, get_account(session, account).id, start)
    out.print(f"{count_of(changed, 'lead')} changed verdict")
