"""The lead-event row format, shared by CSV files and (later) the REST API.

docs/csv-format.md describes it for operators; this module holds the column
names and limits the service checks, so the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Sequence

from leadbill.errors import InvalidInput

REQUIRED_COLUMNS = ("idempotency_key", "account", "lead_id", "event_type", "occurred_at")
OPTIONAL_COLUMNS = (
    "seat",
    "name",
    "phone",
    "email",
    "postal_code",
    "source",
    "call_result",
    "duration_seconds",
    "detail",
)
COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS

# Longest value accepted per column, equal to the stored column's length.
MAX_LENGTH = {
    "idempotency_key": 128,
    "event_type": 32,
    "occurred_at": 64,
    "account": 64,
    "lead_id": 128,
    "seat": 64,
    "name": 200,
    "phone": 32,
    "email": 254,
    "postal_code": 16,
    "source": 32,
    "call_result": 64,
    "detail": 500,
}


def check_header(header: Sequence[str] | None) -> list[str]:
    """Refuse a header that lacks a required column; return the unknown columns (ignored)."""
    if not header:
        raise InvalidInput("header", "the file is empty (expected a header line)")
    names = [name.strip() for name in header]
    missing = [name for name in REQUIRED_COLUMNS if name not in names]
    if missing:
        raise InvalidInput(
            "header",
            f"missing required column{'s' if len(missing) > 1 else ''} {', '.join(missing)}",
        )
    return [name for name in names if name not in COLUMNS]
