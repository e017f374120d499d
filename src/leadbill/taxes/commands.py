"""`leadbill taxes ...`: the tax rates core.tax applies, by country or region and day."""

from __future__ import annotations

import typer
from rich.table import Table

from leadbill.console import now, out, parse_date, unit_of_work
from leadbill.output import OutputFormat, format_option, print_items
from leadbill.taxes import service
from leadbill.taxes.schemas import TaxRateOut

app = typer.Typer(help="Tax rates: add them, end them, list them.", no_args_is_help=True)


@app.command("add")
def add(
    name: str = typer.Option(..., help="As invoices print it, e.g. 'Moms 25%'"),
    rate: str = typer.Option(..., help="Percent, a decimal: 25 or 8.875"),
    country: str = typer.Option(..., help="ISO 3166-1 alpha-2 code, e.g. SE"),
    region: str | None = typer.Option(None, help="ISO 3166-2 code (US-NY): only that region"),
    valid_from: str = typer.Option(..., help="First day it applies, YYYY-MM-DD"),
    valid_to: str | None = typer.Option(None, help="Last day it applies (default: open-ended)"),
) -> None:
    """Add a tax rate; refused when it overlaps another of the same country and region."""
    with unit_of_work() as session:
        stored = service.create_rate(
            session,
            name=name,
            rate=rate,
            country=country,
            region=region,
            valid_from=parse_date(valid_from, "valid_from"),
            valid_to=parse_date(valid_to, "valid_to") if valid_to else None,
            as_of=now(),
        )
        out.print(f"tax rate {stored.id} added: {service.describe(stored)}")


@app.command("end")
def end(
    rate_id: int = typer.Argument(..., metavar="ID", help="The rate's id (taxes list)"),
    valid_to: str = typer.Option(..., help="The last day it applies, YYYY-MM-DD"),
) -> None:
    """Set the last day a rate applies, before a new rate takes over the next day."""
    with unit_of_work() as session:
        stored = service.end_rate(session, rate_id, parse_date(valid_to, "valid_to"))
        out.print(f"tax rate {stored.id} ends: {service.describe(stored)}")


@app.command("list")
def list_(
    country: str | None = typer.Option(None, help="Only this country's rates"),
    format_: OutputFormat = format_option(),
) -> None:
    """List the tax rates by country, region and first day."""
    with unit_of_work() as session:
        if format_ is not OutputFormat.TABLE:
            found = service.list_rates(session, country=country)
            print_items(format_, TaxRateOut, [TaxRateOut.of(rate) for rate in found])
            return
        table = Table("id", "name", "rate %", "country", "region", "from", "to")
        for rate in service.list_rates(session, country=country):
            table.add_row(
                str(rate.id),
                rate.name,
                service.percent(rate),
                rate.country,
                rate.region or "",
                str(rate.valid_from),
                str(rate.valid_to or "open"),
            )
        out.print(table)
