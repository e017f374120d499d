"""`leadbill plans ...`"""

from __future__ import annotations

import typer
from rich.table import Table

from leadbill.console import now, out, unit_of_work
from leadbill.plans import service

app = typer.Typer(help="The plan catalogue (plans are immutable).", no_args_is_help=True)


@app.command("create")
def create(
    code: str = typer.Argument(..., help="Unique plan code, e.g. pkg-100"),
    name: str = typer.Option(..., help="Name shown on invoices"),
    currency: str = typer.Option("USD"),
    interval: str = typer.Option("month", help="month or year"),
    fee: str = typer.Option(..., help="Recurring fee per period, a decimal"),
    included_leads: int = typer.Option(0, help="Leads included in the fee"),
    per_lead_rate: str = typer.Option("0", help="Price of each lead beyond the included ones"),
    seat_fee: str = typer.Option("0", help="One-time fee per seat"),
    counting_policy: str = typer.Option("called", help="called | none | ..."),
    ladder: str | None = typer.Option(None, help="Ladder (volume pricing family)"),
) -> None:
    """Add a plan to the catalogue."""
    with unit_of_work() as session:
        plan = service.create_plan(
            session,
            code=code,
            name=name,
            currency=currency,
            interval=interval,
            fee=fee,
            included_leads=included_leads,
            per_lead_rate=per_lead_rate,
            seat_fee=seat_fee,
            counting_policy=counting_policy,
            ladder=ladder,
            as_of=now(),
        )
        out.print(f"plan {plan.code} created")


@app.command("list")
def list_() -> None:
    """List the plans."""
    with unit_of_work() as session:
        table = Table(
            "code",
            "name",
            "ladder",
            "interval",
            "fee",
            "included",
            "per lead",
            "seat fee",
            "counting",
        )
        for plan in service.list_plans(session):
            table.add_row(
                plan.code,
                plan.name,
                plan.ladder or "",
                plan.interval,
                f"{plan.fee.normalize():f} {plan.currency}",
                str(plan.included_leads),
                f"{plan.per_lead_rate.normalize():f}",
                f"{plan.seat_fee.normalize():f}",
                plan.counting_policy,
            )
        out.print(table)
