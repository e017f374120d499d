"""`leadbill users ...`: portal users (create, list)."""

from __future__ import annotations

from datetime import datetime

import typer
from pydantic import BaseModel
from rich.table import Table

from leadbill.console import now, out, unit_of_work
from leadbill.output import OutputFormat, format_option, print_items
from leadbill.password_links import service as password_links
from leadbill.portal import users
from leadbill.portal.models import User

app = typer.Typer(
    help="Portal users: customers of one account and operator staff.", no_args_is_help=True
)


def _when(value: object) -> str:
    return f"{value:%Y-%m-%d %H:%M:%S}Z" if value is not None else "-"


@app.command("create")
def create(
    email: str = typer.Option(..., help="The e-mail the user signs in with"),
    role: str = typer.Option(..., help="customer, admin, billing, reviewer or viewer"),
    account: str | None = typer.Option(None, help="Account code (customer users only)"),
    password: str | None = typer.Option(
        None,
        help=(
            f"{users.MIN_PASSWORD_LENGTH} to {users.MAX_PASSWORD_LENGTH:,} characters; staff "
            "are prompted when it is not given, a customer without one is invited"
        ),
    ),
) -> None:
    """Create a portal user; the password is stored only as an argon2 hash.

    A customer user created without --password gets an invitation by e-mail: a
    one-time link to choose its password, queued in the mail outbox.
    """
    invited = password is None and role == "customer"
    if password is None and not invited:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    with unit_of_work() as session:
        if invited:
            user, message = password_links.invite_customer(
                session, email=email, account_code=account or "", as_of=now()
            )
        else:
            user = users.create_user(
                session,
                email=email,
                password=password,
                role=role,
                account_code=account,
                as_of=now(),
            )
    where = f" of account {account}" if account else ""
    out.print(f"user {user.id} {user.email} ({user.role}{where}) created")
    if invited:
        out.print(f"invitation queued as mail message {message.id}")


@app.command("invite")
def invite(email: str = typer.Argument(..., help="The customer user's e-mail")) -> None:
    """Send a customer user a new invitation; its earlier links stop working once it is sent."""
    with unit_of_work() as session:
        message = password_links.invite_by_email(session, email, as_of=now())
    out.print(f"invitation queued as mail message {message.id}")


class PortalUserOut(BaseModel):
    """A portal user as `users list --format json|csv` prints it (the API lists no users);
    `account` is null for staff."""

    id: int
    email: str
    role: str
    account: str | None
    created_at: datetime
    last_sign_in_at: datetime | None
    locked_until: datetime | None

    @classmethod
    def of(cls, user: User, account: str | None) -> PortalUserOut:
        """The shape of a stored user (never its password hash)."""
        return cls(
            id=user.id,
            email=user.email,
            role=user.role,
            account=account,
            created_at=user.created_at,
            last_sign_in_at=user.last_sign_in_at,
            locked_until=user.locked_until,
        )


@app.command("list")
def list_(format_: OutputFormat = format_option()) -> None:
    """List the portal users with their role, account and last sign-in."""
    with unit_of_work() as session:
        if format_ is not OutputFormat.TABLE:
            found = users.list_users(session)
            print_items(format_, PortalUserOut, [PortalUserOut.of(u, code) for u, code in found])
            return
        table = Table("id", "e-mail", "role", "account", "created", "last sign-in", "locked until")
        for user, account in users.list_users(session):
            table.add_row(
                str(user.id),
                user.email,
                user.role,
                account or "-",
                _when(user.created_at),
                _when(user.last_sign_in_at),
                _when(user.locked_until),
            )
        out.print(table)
