"""`leadbill webhooks ...`: endpoints, the delivery log, redelivery (`leadbill worker` sends)."""

from __future__ import annotations

from datetime import datetime

import typer
from rich.table import Table

from leadbill.accounts.service import get_account
from leadbill.console import instant_option, now, out, unit_of_work
from leadbill.output import OutputFormat, format_option, print_item, print_items
from leadbill.webhooks import service
from leadbill.webhooks.events import EVENT_TYPES
from leadbill.webhooks.schemas import (
    WebhookAttemptOut,
    WebhookDeliveryDetail,
    WebhookDeliveryOut,
    WebhookEndpointOut,
)

app = typer.Typer(help="Webhooks: endpoints, deliveries, redelivery.", no_args_is_help=True)


def _when(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M:%S}Z" if value is not None else "-"


@app.command("add")
def add(
    url: str = typer.Argument(..., help="http:// or https:// URL that receives the POSTs"),
    event: list[str] = typer.Option(
        ..., "--event", "-e", help=f"Event type, repeatable: {', '.join(EVENT_TYPES)}"
    ),
    account: str | None = typer.Option(
        None, help="Only this account's events (default: every account's)"
    ),
    description: str = typer.Option("", help="A label to recognise the endpoint by"),
) -> None:
    """Register an endpoint and print its signing secret (shown only this once)."""
    with unit_of_work() as session:
        endpoint = service.create_endpoint(
            session,
            url=url,
            event_types=event,
            account_code=account,
            description=description,
            as_of=now(),
        )
        types = service.event_types_of(session, [endpoint.id])[endpoint.id]
    out.print(f"webhook endpoint {endpoint.id} created for {', '.join(types)}")
    out.print("signing secret (shown only this once):")
    out.print(endpoint.secret)


@app.command("list")
def list_(
    removed: bool = typer.Option(False, "--removed", help="Include removed endpoints"),
    format_: OutputFormat = format_option(),
) -> None:
    """List the endpoints with their event types and account."""
    with unit_of_work() as session:
        rows = service.list_endpoints(session, limit=10_000, removed=removed)
        types = service.event_types_of(session, [endpoint.id for endpoint, _ in rows])
        if format_ is not OutputFormat.TABLE:
            shapes = [WebhookEndpointOut.of(e, code, types[e.id]) for e, code in rows]
            print_items(format_, WebhookEndpointOut, shapes)
            return
        table = Table("id", "url", "events", "account", "description", "created", "removed")
        for endpoint, code in rows:
            table.add_row(
                str(endpoint.id),
                endpoint.url,
                ", ".join(types[endpoint.id]),
                code or "(all)",
                endpoint.description,
                _when(endpoint.created_at),
                _when(endpoint.removed_at),
            )
        out.print(table)


@app.command("remove")
def remove(endpoint_id: int = typer.Argument(..., help="The endpoint's id")) -> None:
    """Remove an endpoint: nothing more is sent to it; its queued deliveries are cancelled."""
    with unit_of_work() as session:
        service.remove_endpoint(session, endpoint_id, as_of=now())
    out.print(f"webhook endpoint {endpoint_id} removed")


@app.command("deliveries")
def deliveries(
    endpoint: int | None = typer.Option(
        None, min=1, max=2**63 - 1, help="Only deliveries to this endpoint id"
    ),
    status: str | None = typer.Option(
        None, help="pending, sending, delivered, failed or cancelled"
    ),
    account: str | None = typer.Option(None, help="Only this account's events"),
    event: str | None = typer.Option(None, "--event", help="Only this event type"),
    limit: int = typer.Option(50, min=1, max=10_000, help="How many, newest first"),
    format_: OutputFormat = format_option(),
) -> None:
    """The delivery log, newest first: status, attempts, last answer."""
    with unit_of_work() as session:
        rows = service.list_deliveries(
            session,
            endpoint_id=endpoint,
            status=status,
            account_id=get_account(session, account).id if account else None,
            event_type=event,
            limit=limit,
        )
        if format_ is not OutputFormat.TABLE:
            print_items(format_, WebhookDeliveryOut, [WebhookDeliveryOut.of(r) for r in rows])
            return
        table = Table(
            "id", "endpoint", "event", "account", "message id", "status", "attempts", "last"
        )
        for row in rows:
            d = row.delivery
            last = (
                f"{d.last_status_code or '-'} {d.last_error or ''} at {_when(d.last_attempt_at)}"
                if d.last_attempt_at
                else f"due {_when(d.next_attempt_at)}"
            )
            table.add_row(
                str(d.id),
                str(d.endpoint_id),
                row.event_type,
                row.account,
                row.message_id,
                d.status,
                str(d.attempts),
                last.strip(),
            )
        out.print(table)


@app.command("show")
def show(
    delivery_id: int = typer.Argument(..., help="The delivery's id"),
    format_: OutputFormat = format_option(),
) -> None:
    """One delivery: its body and every attempt (status code, duration, error)."""
    with unit_of_work() as session:
        row = service.get_delivery(session, delivery_id)
        d = row.delivery
        if format_ is not OutputFormat.TABLE:
            attempts = service.attempts_of(session, delivery_id)
            detail = WebhookDeliveryDetail(
                **WebhookDeliveryOut.of(row).model_dump(),
                body=service.body_of(session, d),
                attempt_log=[WebhookAttemptOut.of(attempt) for attempt in attempts],
            )
            print_item(format_, detail)
            return
        out.print(
            f"delivery {d.id}: {row.event_type} of {row.account} to endpoint {d.endpoint_id}, "
            f"{d.status}, message id {row.message_id}"
        )
        out.print(service.body_of(session, d))
        table = Table("attempt", "at", "status", "ms", "outcome", "error")
        for attempt in service.attempts_of(session, delivery_id):
            table.add_row(
                str(attempt.number),
                _when(attempt.attempted_at),
                str(attempt.status_code or "-"),
                str(attempt.duration_ms),
                attempt.outcome,
                attempt.error or "",
            )
        out.print(table)


@app.command("redeliver")
def redeliver(delivery_id: int = typer.Argument(..., help="The delivery's id")) -> None:
    """Send a delivery again at the worker's next round, with a fresh allowance of attempts."""
    with unit_of_work() as session:
        service.redeliver(session, delivery_id, as_of=now())
    out.print(f"webhook delivery {delivery_id} queued for redelivery")


@app.command("prune")
def prune(
    before: str = typer.Option(..., help="Delete finished messages written before this instant"),
) -> None:
    """Delete old messages whose deliveries all ended (delivered, failed, cancelled)."""
    instant = instant_option(before, "before")
    with unit_of_work() as session:
        count = service.prune(session, before=instant)
    out.print(f"{count} webhook messages deleted with their deliveries and attempts")
