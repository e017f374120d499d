"""`leadbill accounts ...`"""

from __future__ import annotations

import typer
from rich.table import Table

from leadbill.accounts import service
from leadbill.console import now, out, unit_of_work

app = typer.Typer(help="Customer accounts.", no_args_is_help=True)


@app.command("create")
def create(
    code: str = typer.Argument(..., help="Unique account code"),
    name: str = typer.Option(...),
    billing_email: str = typer.Option(...),
    currency: str = typer.Option("USD"),
    time_zone: str = typer.Option("UTC", help="IANA time zone, e.g. America/New_York"),
) -> None:
    """Create an account."""
    with unit_of_work() as session:
        account = service.create_account(
            session,
            code=code,
            name=name,
            currency=currency,
            time_zone=time_zone,
            billing_email=billing_email,
            as_of=now(),
        )
        out.print(f"account {account.code} created")


@app.command("list")
def list_() -> None:
    """List the accounts."""
    with unit_of_work() as session:
        table = Table("code", "name", "currency", "time zone", "billing e-mail")
        for account in service.list_accounts(session):
            table.add_row(
                account.code,
                account.name,
                account.currency,
                account.time_zone,
                account.billing_email,
            )
        out.print(table)
