"""`leadbill context ...`: the account context that decides leads (R12, R18)."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import typer
from pydantic import BaseModel
from rich.table import Table
from sqlalchemy.orm import Session

from leadbill.console import instant_option, out, unit_of_work
from leadbill.context import repository, service
from leadbill.context.schemas import (
    BlockEntryOut,
    CampaignOut,
    CustomerOut,
    LeadPolicySettingsOut,
)
from leadbill.output import OutputFormat, format_option, print_item

Row = TypeVar("Row")
PAGE = 1000

app = typer.Typer(
    help="Account context: campaigns and pauses, service area, customers, block list.",
    no_args_is_help=True,
)


@app.command("settings")
def settings(
    account: str = typer.Argument(..., help="Account code"),
    phone_region: str | None = typer.Option(None, help="Default phone region, e.g. US, GB"),
    duplicate_window_days: int | None = typer.Option(
        None, help="Same phone or e-mail again within this many days is a duplicate (30)"
    ),
) -> None:
    """Set the account's phone region and duplicate window."""
    with unit_of_work() as session:
        row = service.set_settings(
            session,
            account,
            phone_region=phone_region,
            duplicate_window_days=duplicate_window_days,
        )
        out.print(
            f"{account}: phone region {row.phone_region}, "
            f"duplicate window {row.duplicate_window_days} days"
        )


@app.command("campaign-add")
def campaign_add(
    account: str = typer.Argument(..., help="Account code"),
    code: str = typer.Argument(..., help="Campaign code, as leads name it"),
    name: str = typer.Option("", help="Display name"),
) -> None:
    """Add a campaign."""
    with unit_of_work() as session:
        service.add_campaign(session, account, code, name)
    out.print(f"campaign {code} added to {account}")


@app.command("pause")
def pause(
    account: str = typer.Argument(..., help="Account code"),
    campaign: str = typer.Argument(..., help="Campaign code"),
    start: str = typer.Option(..., help="Paused from (RFC 3339 instant or date)"),
    end: str | None = typer.Option(None, help="Paused until (exclusive); default: until resumed"),
) -> None:
    """Record a pause window: leads of the campaign received in it are campaign_paused."""
    starts = instant_option(start, "start")
    ends = instant_option(end, "end") if end else None
    with unit_of_work() as session:
        service.pause_campaign(session, account, campaign, starts, ends)
    out.print(f"campaign {campaign} paused from {starts:%Y-%m-%d %H:%M} UTC")


@app.command("resume")
def resume(
    account: str = typer.Argument(..., help="Account code"),
    campaign: str = typer.Argument(..., help="Campaign code"),
    at: str = typer.Option(..., help="Resumed at (RFC 3339 instant or date)"),
) -> None:
    """End the campaign's open pause."""
    resumed = instant_option(at, "at")
    with unit_of_work() as session:
        service.resume_campaign(session, account, campaign, resumed)
    out.print(f"campaign {campaign} resumed at {resumed:%Y-%m-%d %H:%M} UTC")


@app.command("service-area")
def service_area(
    account: str = typer.Argument(..., help="Account code"),
    postal_codes: list[str] = typer.Argument(None, help="Postal codes; none removes the area"),
) -> None:
    """Replace the service area: leads with another postal code are outside_service_area."""
    with unit_of_work() as session:
        size = service.set_service_area(session, account, postal_codes or [])
    out.print(f"{account}: service area of {size} postal codes" if size else "no service area")


@app.command("customers-import")
def customers_import(
    account: str = typer.Argument(..., help="Account code"),
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV: phone, email"),
) -> None:
    """Add previous customers from a CSV with phone and/or email columns."""
    with file.open(newline="", encoding="utf-8-sig") as handle:
        rows = [(row.get("phone"), row.get("email")) for row in csv.DictReader(handle)]
    with unit_of_work() as session:
        added, unusable = service.add_customers(session, account, rows)
    out.print(f"{added} customers added, {unusable} rows without a valid phone or e-mail")


@app.command("block")
def block(
    account: str = typer.Argument(..., help="Account code"),
    kind: str = typer.Argument(..., help="domain | company | email"),
    value: str = typer.Argument(..., help="e.g. acme.example, 'Acme Corp', ceo@acme.example"),
) -> None:
    """Add a block-list entry: matching leads are never charged (R18)."""
    with unit_of_work() as session:
        entry = service.add_block_entry(session, account, kind, value)
    out.print(f"blocked {entry.kind} {entry.value}")


@app.command("show")
def show(
    account: str = typer.Argument(..., help="Account code"),
    format_: OutputFormat = format_option(),
) -> None:
    """Show the account's context (JSON: the API's lead policy and its four lists, whole)."""
    with unit_of_work() as session:
        from leadbill.accounts.service import get_account

        owner = get_account(session, account)
        if format_ is not OutputFormat.TABLE:
            print_item(format_, AccountContextOut.of(session, owner.id, owner.code))
            return
        account_id = owner.id
        context = repository.account_contexts(session, [account_id])[account_id]
        region, days = repository.settings_of(session, [account_id])[account_id]
    table = Table("context", "value")
    table.add_row("phone region", region)
    table.add_row("duplicate window", f"{days} days")
    for pause in context.pauses:
        until = f"{pause.end:%Y-%m-%d %H:%M}" if pause.end else "resumed"
        table.add_row(f"pause {pause.campaign}", f"{pause.start:%Y-%m-%d %H:%M} - {until} UTC")
    table.add_row("service area", ", ".join(sorted(context.service_area)) or "(none)")
    table.add_row(
        "customers",
        f"{len(context.customer_phones)} phones, {len(context.customer_emails)} e-mails",
    )
    blocked = sorted(context.blocked_domains | context.blocked_companies | context.blocked_emails)
    table.add_row("block list", ", ".join(blocked) or "(none)")
    out.print(table)


def _every(page: Callable[[Any], list[Row]], key: Callable[[Row], Any]) -> list[Row]:
    """Every row of a keyset-paged list, page after page."""
    rows: list[Row] = []
    after = None
    while True:
        found = page(after)
        rows.extend(found)
        if len(found) < PAGE:
            return rows
        after = key(found[-1])


class AccountContextOut(BaseModel):
    """What `context show --format json` prints: GET /accounts/{account}/lead-policy, and
    the `data` of every page of its campaigns, service area, customers and block list."""

    lead_policy: LeadPolicySettingsOut
    campaigns: list[CampaignOut]
    service_area: list[str]
    customers: list[CustomerOut]
    block_list: list[BlockEntryOut]

    @classmethod
    def of(cls, session: Session, account_id: int, code: str) -> AccountContextOut:
        """The account's context in the API's shapes."""
        region, days = repository.settings_of(session, [account_id])[account_id]
        campaigns = _every(
            lambda after: repository.campaigns_page(session, account_id, after=after, limit=PAGE),
            lambda row: row[0].code,
        )
        area = _every(
            lambda after: repository.service_area_page(
                session, account_id, after=after, limit=PAGE
            ),
            lambda postal_code: postal_code,
        )
        customers = _every(
            lambda after: repository.customers_page(session, account_id, after=after, limit=PAGE),
            lambda row: row.id,
        )
        blocked = _every(
            lambda after: repository.block_list_page(session, account_id, after=after, limit=PAGE),
            lambda row: row.id,
        )
        return cls(
            lead_policy=LeadPolicySettingsOut(
                account=code, phone_region=region, duplicate_window_days=days
            ),
            campaigns=[CampaignOut.of(campaign, pauses) for campaign, pauses in campaigns],
            service_area=area,
            customers=[CustomerOut.of(contact) for contact in customers],
            block_list=[BlockEntryOut.of(entry) for entry in blocked],
        )
