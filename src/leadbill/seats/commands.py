"""`leadbill seats ...`"""

from __future__ import annotations

import typer
from rich.table import Table

from leadbill.accounts.service import get_account
from leadbill.console import instant_option, now, out, unit_of_work
from leadbill.core.money import format_money
from leadbill.output import OutputFormat, format_option, print_items
from leadbill.seats import service
from leadbill.seats.schemas import SeatOut

app = typer.Typer(help="Seats: a fixed primary and an optional backup.", no_args_is_help=True)


@app.command("create")
def create(
    account: str = typer.Argument(..., help="Account code"),
    code: str = typer.Option(..., help="Seat code, unique in the account"),
    primary_name: str = typer.Option(...),
    primary_email: str = typer.Option(...),
    primary_phone: str | None = typer.Option(None),
    backup_name: str | None = typer.Option(None),
    backup_email: str | None = typer.Option(None),
    backup_phone: str | None = typer.Option(None),
    by: str = typer.Option(..., help="Who creates the seat (recorded with the instant)"),
    at: str | None = typer.Option(
        None,
        help="When the seat is created, RFC 3339 (default: now; at most a day ahead); "
        "its fee invoice is issued then",
    ),
) -> None:
    """Create a seat; its one-time fee is invoiced at once, issued at --at."""
    instant = instant_option(at, "at") if at else now()
    with unit_of_work() as session:
        seat, invoice = service.create_seat(
            session,
            account=get_account(session, account),
            code=code,
            primary_name=primary_name,
            primary_email=primary_email,
            primary_phone=primary_phone,
            backup_name=backup_name,
            backup_email=backup_email,
            backup_phone=backup_phone,
            as_of=instant,
            by=by,
            clock=now(),
        )
        out.print(
            f"seat {seat.code} created at {seat.created_at:%Y-%m-%d %H:%M} UTC by "
            f"{seat.created_by}; fee invoice {invoice.number or f'draft {invoice.id}'} "
            f"issued then: {format_money(invoice.total, invoice.currency)}"
        )


@app.command("list")
def list_(
    account: str = typer.Argument(..., help="Account code"),
    format_: OutputFormat = format_option(),
) -> None:
    """List the account's seats."""
    with unit_of_work() as session:
        owner = get_account(session, account)
        if format_ is not OutputFormat.TABLE:
            found = service.list_seats(session, owner)
            print_items(format_, SeatOut, [SeatOut.of(seat, owner.code) for seat in found])
            return
        table = Table("seat", "primary", "backup", "created")
        for seat in service.list_seats(session, owner):
            backup = f"{seat.backup_name} <{seat.backup_email}>" if seat.backup_name else "-"
            table.add_row(
                seat.code,
                f"{seat.primary_name} <{seat.primary_email}>",
                backup,
                f"{seat.created_at:%Y-%m-%d}",
            )
        out.print(table)


@app.command("set-backup")
def set_backup(
    account: str = typer.Argument(...),
    seat: str = typer.Argument(...),
    name: str = typer.Option(...),
    email: str = typer.Option(...),
    phone: str | None = typer.Option(None),
) -> None:
    """Add or replace a seat's backup."""
    with unit_of_work() as session:
        found = service.get_seat(session, get_account(session, account), seat)
        service.set_backup(session, found, name=name, email=email, phone=phone)
        out.print(f"seat {found.code}: backup is now {name} <{email}>")


@app.command("remove-backup")
def remove_backup(account: str = typer.Argument(...), seat: str = typer.Argument(...)) -> None:
    """Remove a seat's backup."""
    with unit_of_work() as session:
        found = service.get_seat(session, get_account(session, account), seat)
        service.remove_backup(session, found)
        out.print(f"seat {found.code}: backup removed")


@app.command("change-primary")
def change_primary(account: str = typer.Argument(...), seat: str = typer.Argument(...)) -> None:
    """Refused by design: a seat's primary is fixed; create a new seat instead."""
    with unit_of_work() as session:
        found = service.get_seat(session, get_account(session, account), seat)
        service.change_primary(session, found)
