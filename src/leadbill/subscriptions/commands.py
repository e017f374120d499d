"""`leadbill subscriptions ...`"""

from __future__ import annotations

import typer
from rich.table import Table

from leadbill.accounts.service import get_account
from leadbill.console import instant_option, local_midnight, now, out, unit_of_work
from leadbill.plans.models import Plan
from leadbill.plans.service import get_plan
from leadbill.subscriptions import service

app = typer.Typer(help="Subscriptions: an account on a plan.", no_args_is_help=True)


@app.command("create")
def create(
    account: str = typer.Argument(..., help="Account code"),
    plan: str = typer.Option(..., help="Plan code"),
    start: str = typer.Option(
        ...,
        help="First period start: an RFC 3339 instant, or a date meaning local midnight "
        "in the account's time zone",
    ),
) -> None:
    """Subscribe an account to a plan; the first period's fee is invoiced at once."""
    with unit_of_work() as session:
        customer = get_account(session, account)
        if len(start.strip()) == 10:
            start_at = local_midnight(start, customer.time_zone)
        else:
            start_at = instant_option(start, "start")
        subscription = service.create_subscription(
            session, account=customer, plan=get_plan(session, plan), start=start_at
        )
        out.print(
            f"subscription {subscription.id} created; first period "
            f"{subscription.current_period_start:%Y-%m-%d %H:%M} to "
            f"{subscription.current_period_end:%Y-%m-%d %H:%M} UTC"
        )


@app.command("cancel")
def cancel(account: str = typer.Argument(..., help="Account code")) -> None:
    """Cancel at the end of the current period (the final invoice carries its overage)."""
    with unit_of_work() as session:
        subscription = service.current_subscription(session, get_account(session, account))
        service.cancel_subscription(session, subscription, now())
        out.print(
            f"subscription {subscription.id} ends at "
            f"{subscription.current_period_end:%Y-%m-%d %H:%M} UTC"
        )


@app.command("show")
def show(account: str = typer.Argument(..., help="Account code")) -> None:
    """Show the account's subscription and its periods."""
    with unit_of_work() as session:
        subscription = service.current_subscription(session, get_account(session, account))
        plan = session.get_one(Plan, subscription.plan_id)
        out.print(
            f"subscription {subscription.id}: plan {plan.code}, {subscription.status}"
            + (", cancels at period end" if subscription.cancel_at_period_end else "")
        )
        table = Table("period", "start (UTC)", "end (UTC)")
        for period in service.periods(session, subscription.id):
            table.add_row(
                str(period.period_index),
                f"{period.start:%Y-%m-%d %H:%M}",
                f"{period.end:%Y-%m-%d %H:%M}",
            )
        out.print(table)
