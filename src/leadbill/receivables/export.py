"""The aging report as CSV rows, written the same by the CLI, the API and the staff portal.

One row per entity and account, then one per entity, then one per currency for
everything, each in one currency. Amounts are plain decimal numbers to the
currency's minor unit (1200.00), so a spreadsheet sums them.
"""

from __future__ import annotations

from collections.abc import Iterator

from leadbill.core.money import Money
from leadbill.core.receivables import BUCKETS, AgingTotals
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


def _plain(amount: Money) -> str:
    return str(amount.rounded().amount)


def _amounts(totals: AgingTotals) -> list[str]:
    return [_plain(totals.amount(bucket)) for bucket in BUCKETS] + [_plain(totals.total)]


def _row(report: AgingReport, kind: str, row: AgingRow) -> list[str]:
    return [
        instant_text(report.as_of),
        kind,
        row.entity or "",
        row.account or "",
        row.currency,
        str(row.invoices),
        *_amounts(row.totals),
    ]


def csv_rows(report: AgingReport) -> Iterator[list[str]]:
    """The rows of the report after its header (COLUMNS): accounts, entities, totals."""
    for row in report.accounts:
        yield _row(report, "account", row)
    for row in report.entities:
        yield _row(report, "entity", row)
    for row in report.totals:
        yield _row(report, "total", row)
