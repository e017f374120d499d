"""`leadbill keys ...`: create (shown once), list, revoke API keys."""

from __future__ import annotations

from datetime import datetime

import typer
from pydantic import BaseModel
from rich.table import Table

from leadbill.auth import service
from leadbill.auth.models import ApiKey
from leadbill.console import now, out, unit_of_work
from leadbill.output import OutputFormat, format_option, print_items

app = typer.Typer(help="API keys and their roles.", no_args_is_help=True)


def _when(value: object) -> str:
    return f"{value:%Y-%m-%d %H:%M:%S}Z" if value is not None else "-"


@app.command("create")
def create(
    role: str = typer.Option(..., help="admin, billing, reviewer, viewer, ingest or customer"),
    account: str | None = typer.Option(None, help="Account code (customer keys only)"),
    name: str = typer.Option("", help="A label to recognise the key by"),
) -> None:
    """Create an API key and print it once; only its hash is kept."""
    with unit_of_work() as session:
        row, key = service.create_key(
            session, role=role, account_code=account, name=name, as_of=now()
        )
    out.print(f"API key {row.id} ({row.role}) created; it is shown only this once:")
    out.print(key)


class ApiKeyOut(BaseModel):
    """An API key as `keys list --format json|csv` prints it (the API lists no keys); the
    secret is never shown, only its prefix."""

    id: int
    prefix: str
    role: str
    account: str | None
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, key: ApiKey, account: str | None) -> ApiKeyOut:
        """The shape of a stored key."""
        return cls(
            id=key.id,
            prefix=key.prefix,
            role=key.role,
            account=account,
            name=key.name,
            created_at=key.created_at,
            last_used_at=key.last_used_at,
            revoked_at=key.revoked_at,
        )


@app.command("list")
def list_(format_: OutputFormat = format_option()) -> None:
    """List the API keys with their role, account and last use."""
    with unit_of_work() as session:
        if format_ is not OutputFormat.TABLE:
            found = service.list_keys(session)
            print_items(format_, ApiKeyOut, [ApiKeyOut.of(key, code) for key, code in found])
            return
        table = Table("id", "prefix", "role", "account", "name", "created", "last used", "revoked")
        for key, account in service.list_keys(session):
            table.add_row(
                str(key.id),
                key.prefix + "…",
                key.role,
                account or "-",
                key.name,
                _when(key.created_at),
                _when(key.last_used_at),
                _when(key.revoked_at),
            )
        out.print(table)


@app.command("revoke")
def revoke(
    key_id: int = typer.Argument(..., help="The key's id (see `leadbill keys list`)"),
) -> None:
    """Revoke an API key at once."""
    with unit_of_work() as session:
        service.revoke_key(session, key_id, as_of=now())
    out.print(f"API key {key_id} revoked")
