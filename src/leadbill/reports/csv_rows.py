"""The call report as CSV rows: the columns, RFC 3339 instants in UTC, the call history
as one cell. The CLI (`leadbill reports call-report --format csv`) and the portal's
CSV download both write these rows, so a file from either reads the same; both write
them with csv_cells.ExportWriter, which neutralises the text cells.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from leadbill.csv_cells import Cell
from leadbill.reports import service

CALL_REPORT_COLUMNS = (
    "lead_id",
    "seat",
    "name",
    "phone",
    "email",
    "postal_code",
    "source",
    "received_at",
    "calls",
    "last_call_result",
    "last_call_at",
    "counted",
    "reason",
    "reason_text",
    "counted_at",
    "call_history",
)


def instant_text(instant: datetime | None) -> str:
    """An instant as RFC 3339 in UTC with a Z, or empty."""
    if instant is None:
        return ""
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def compact_instant(instant: datetime) -> str:
    """A short UTC instant: minutes, and seconds only when they are not zero."""
    instant = instant.astimezone(UTC)
    if instant.second or instant.microsecond:
        return f"{instant:%Y-%m-%dT%H:%M:%S}Z"
    return f"{instant:%Y-%m-%dT%H:%M}Z"


def history_text(history: Iterable[service.CallEvent]) -> str:
    """A call history as one string: `2026-01-03T14:05Z call_answered answered 183s; ...`."""
    calls = []
    for call in history:
        parts = [compact_instant(call.occurred_at), call.type]
        if call.result:
            parts.append(call.result)
        if call.duration_seconds is not None:
            parts.append(f"{call.duration_seconds}s")
        calls.append(" ".join(parts))
    return "; ".join(calls)


def call_report_csv_row(row: service.CallReportRow) -> list[Cell]:
    """One lead of the call report as a CSV row (the columns of CALL_REPORT_COLUMNS)."""
    return [
        row.lead_id,
        row.seat_code or "",
        row.name or "",
        row.phone or "",
        row.email or "",
        row.postal_code or "",
        row.source or "",
        instant_text(row.received_at),
        row.calls,
        row.last_call_result or "",
        instant_text(row.last_call_at),
        "yes" if row.counted else "no",
        row.reason,
        row.reason_text,
        instant_text(row.counted_at),
        history_text(row.call_history),
    ]
