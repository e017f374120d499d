"""`leadbill reports ...`: the master call report (R9) and the billing summary."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import IO

import typer
from rich.console import Console
from rich.table import Table

from leadbill.accounts.service import get_account
from leadbill.console import instant_option, local_midnight, now, out, unit_of_work
from leadbill.core.money import Money, minor_unit
from leadbill.core.periods import Period
from leadbill.core.wording import count_of
from leadbill.csv_cells import ExportWriter
from leadbill.output import OutputFormat, format_option, print_item, print_items
from leadbill.reports import service
from leadbill.reports.csv_rows import CALL_REPORT_COLUMNS, call_report_csv_row, instant_text
from leadbill.reports.schemas import CallReportRowOut, UsageSummaryOut

app = typer.Typer(
    help="Reports: the master call report and the billing summary.", no_args_is_help=True
)


def money_text(money: Money) -> str:
    """A decimal string with the currency; the minor unit is shown, no digit is dropped."""
    quantum = Decimal(1).scaleb(-minor_unit(money.currency))
    amount = money.amount
    shown = amount.quantize(quantum) if amount == amount.quantize(quantum) else amount.normalize()
    return f"{shown:f} {money.currency}"


@contextmanager
def _destination(output: Path | None) -> Iterator[IO[str] | None]:
    if output is None:
        yield None
        return
    with output.open("w", encoding="utf-8", newline="") as handle:
        yield handle


def _print(renderable: object, handle: IO[str] | None) -> None:
    console = (
        out if handle is None else Console(file=handle, width=200, highlight=False, markup=False)
    )
    console.print(renderable)


def _period_text(period: Period) -> str:
    return f"period {period.index}: {instant_text(period.start)} to {instant_text(period.end)}"


@app.command("call-report")
def call_report(
    account: str = typer.Argument(..., help="Account code"),
    as_of: str | None = typer.Option(None, help="RFC 3339 instant (default: now)"),
    period: int | None = typer.Option(
        None, min=0, max=100_000, help="Period number (0 is the first)"
    ),
    date: str | None = typer.Option(
        None,
        help="Report the period containing this date (local midnight in the account's "
        "time zone) or RFC 3339 instant",
    ),
    format_: OutputFormat = format_option(),
    output: Path | None = typer.Option(None, help="Write to this file instead of stdout"),
) -> None:
    """Every lead of every seat in one period: calls, last result, counted or not and why.

    JSON: the items of the API's call report (`data`); CSV: the columns of the export."""
    as_of_at = instant_option(as_of, "as_of") if as_of else now()
    with unit_of_work() as session, _destination(output) as handle:
        customer = get_account(session, account)
        in_period = None
        if date is not None:
            in_period = (
                local_midnight(date, customer.time_zone, "date")
                if len(date.strip()) == 10
                else instant_option(date, "date")
            )
        scope = service.report_scope(
            session, customer, as_of=as_of_at, period_index=period, in_period=in_period
        )
        rows = service.iter_call_report(session, scope)
        if format_ is OutputFormat.JSON:
            print_items(format_, CallReportRowOut, [CallReportRowOut.of(r) for r in rows], handle)
            return
        if format_ is OutputFormat.CSV:
            writer = ExportWriter(handle if handle is not None else sys.stdout)
            writer.writerow(CALL_REPORT_COLUMNS)
            for row in rows:
                writer.writerow(call_report_csv_row(row))
            return
        table = Table(
            "lead",
            "seat",
            "name",
            "last call",
            "calls",
            "counted",
            "reason",
            title=f"{scope.account_code}, plan {scope.plan.code}, {_period_text(scope.period)}",
        )
        table.columns[0].overflow = "fold"  # lead ids are read in full, never cut
        counted = leads = 0
        for row in rows:
            leads += 1
            counted += row.counted
            table.add_row(
                row.lead_id,
                row.seat_code or "-",
                row.name or "",
                row.last_call_result or "-",
                str(row.calls),
                "yes" if row.counted else "no",
                _short_reason(row),
            )
        table.caption = f"{count_of(leads, 'lead')}, {counted} counted in this period"
        _print(table, handle)


def _short_reason(row: service.CallReportRow) -> str:
    """The reason code for a narrow table; the full text is in the CSV."""
    if not row.counted and row.billable and row.counted_at is not None:
        return f"counts {row.counted_at:%Y-%m-%d}"
    return str(row.reason)


def summary_rows(summary: service.BillingSummary) -> list[tuple[str, str]]:
    """The summary as (field, value) pairs, in reading order."""
    usage = summary
    rows = [
        ("account", summary.account_code),
        ("plan", summary.plan_code),
        ("plan_name", summary.plan_name),
        ("period_index", str(summary.period.index)),
        ("period_start", instant_text(summary.period.start)),
        ("period_end", instant_text(summary.period.end)),
        ("as_of", instant_text(summary.as_of)),
        ("fee", money_text(summary.fee)),
        ("per_lead_rate", money_text(summary.per_lead_rate)),
        ("counted_leads", str(usage.counted_leads)),
        ("included_leads", str(usage.included_leads)),
        ("remaining_leads", str(usage.remaining_leads)),
        ("overage_leads", str(usage.overage_leads)),
        ("overage_so_far", money_text(usage.overage_so_far)),
        ("projected_leads", str(usage.projected_leads)),
        ("projected_overage", money_text(usage.projected_overage)),
        ("projected_cost", money_text(usage.projected_cost)),
    ]
    if summary.charges_per_lead:
        rows.append(("pay_per_lead", "every counted lead is charged at its category price"))
    rows += [
        (
            f"segment:{instant_text(segment.start)}",
            f"{segment.plan_code} to {instant_text(segment.end)}: {segment.counted_leads} "
            f"counted, {segment.allowance} included, {segment.overage_leads} over "
            f"({money_text(segment.overage)})",
        )
        for segment in summary.segments
    ]
    rows += [
        (f"seat:{seat.seat_code or '(no seat)'}", str(seat.counted_leads))
        for seat in summary.counted_by_seat
    ]
    rows += [(f"threshold_{flag.threshold}", threshold_text(flag)) for flag in summary.thresholds]
    return rows


def threshold_text(flag: service.ThresholdFlag) -> str:
    """`reached at 2026-01-20T10:00Z (lead L-080, 80 leads)` or `not reached (80 leads)`."""
    if not flag.reached:
        return f"not reached ({count_of(flag.leads, 'lead')})"
    if flag.crossed_at is None:
        return f"reached ({count_of(flag.leads, 'lead')})"
    reached_at = instant_text(flag.crossed_at)
    return f"reached at {reached_at} (lead {flag.lead_id}, {count_of(flag.leads, 'lead')})"


@app.command("summary")
def summary(
    account: str = typer.Argument(..., help="Account code"),
    as_of: str | None = typer.Option(None, help="RFC 3339 instant (default: now)"),
    format_: OutputFormat = format_option(),
) -> None:
    """Usage of the current period: counted, included, remaining, overage, projection.

    JSON: as GET /reports/usage; CSV: one field and its value a row."""
    as_of_at = instant_option(as_of, "as_of") if as_of else now()
    with unit_of_work() as session:
        result = service.billing_summary(session, get_account(session, account), as_of_at)
        if format_ is OutputFormat.JSON:
            print_item(format_, UsageSummaryOut.of(result))
            return
        rows = summary_rows(result)
        if format_ is OutputFormat.CSV:
            # Every value is text (an amount carries its currency, `1000.00 USD`), so
            # each is neutralised; none can be negative.
            writer = ExportWriter(sys.stdout)
            writer.writerow(("field", "value"))
            writer.writerows(rows)
            return
        table = Table("", "", show_header=False, title=f"{result.account_code}: billing summary")
        for field, value in rows:
            table.add_row(field.replace("_", " "), value)
        out.print(table)
