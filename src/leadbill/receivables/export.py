"""The aging report as CSV, written the same by the CLI, the API and the staff portal.

One row per entity and account, then one per entity, then one per currency for
everything, each in one currency. Amounts are plain decimal numbers to the
currency's minor unit (1200.00), so a spreadsheet sums them; they are written as
numbers and the text cells through `ExportWriter`, so none runs as a formula.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from decimal import Decimal

from leadbill.core.money import Money
from leadbill.core.receivables import BUCKETS, AgingTotals
from leadbill.csv_cells import Cell, ExportWriter, TextOutput
from leadbill.receivables.service import AgingReport, AgingRow
from leadbill.reports.csv_rows import instant_text

COLUMNS = (
    "as_of",
    "row",
    "entity",
    "account",
    "currency",
    "invoices",
    *(bucket.value for bucket in BUCKETS),
    "total",
)


def _plain(amount: Money) -> Decimal:
    return amount.rounded().amount


def _amounts(totals: AgingTotals) -> list[Cell]:
    cells: list[Cell] = [_plain(totals.amount(bucket)) for bucket in BUCKETS]
    return [*cells, _plain(totals.total)]


def _row(report: AgingReport, kind: str, row: AgingRow) -> list[Cell]:
    return [
        instant_text(report.as_of),
        kind,
        row.entity or "",
        row.account or "",
        row.currency,
        row.invoices,
        *_amounts(row.totals),
    ]


def csv_rows(report: AgingReport) -> Iterator[list[Cell]]:
    """The rows of the report after its header (COLUMNS): accounts, entities, totals."""
    for row in report.accounts:
        yield _row(report, "account", row)
    for row in report.entities:
        yield _row(report, "entity", row)
    for row in report.totals:
        yield _row(report, "total", row)


def write_csv(report: AgingReport, output: TextOutput) -> None:
    """The header (COLUMNS) and every row of the report, written to `output`."""
    writer = ExportWriter(output)
    writer.writerow(COLUMNS)
    writer.writerows(csv_rows(report))


def csv_text(report: AgingReport) -> str:
    """The report as the text of a CSV file (a download of the API or the staff portal)."""
    buffer = io.StringIO()
    write_csv(report, buffer)
    return buffer.getvalue()
