"""When each lead was active, by UTC calendar month: the call report's membership index.

A lead belongs to a period's call report when it was *active* in the period: it
has a received, call or found event (ACTIVITY_TYPES) whose instant lies in
`[start, end)`. Deciding that from the events means gathering the whole period;
walking the account's leads in lead-id order means testing its whole history.
So ingestion keeps one row per (account, UTC month, lead) in `lead_activity_months`
with the earliest and latest activity instant of the lead in that month, keyed in
lead-id order (`record_activity`), and `month_tests` turns a period into the
test of each month's rows (reports.repository.leads_page).

Months are UTC calendar months, not periods: periods are anchored per
subscription in the account's time zone and a plan change or a second
subscription must not invalidate stored rows. Min and max are idempotent, so
writing the rows of a chunk again (a re-sent event, a chunk stored again after a
concurrent sender) changes nothing, and an event arriving out of order only
widens its month's row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from operator import attrgetter
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from leadbill.core.billability import CALL_EVENTS, FOUND_EVENTS, EventType
from leadbill.leads.csv_format import ParsedRow
from leadbill.leads.repository import arrays, dialect_name, packed

# What makes a lead active at an instant: the events whose instants decided the
# membership before this index existed (received_at, first_called_at,
# first_found_at, any call event), every occurrence and not only the first.
ACTIVITY_TYPES: frozenset[str] = frozenset(
    str(t) for t in (EventType.RECEIVED, *CALL_EVENTS, *FOUND_EVENTS)
)

_UPSERT = {
    "postgresql": f"""
        INSERT INTO lead_activity_months
            (account_id, month, external_id, lead_id, first_at, last_at)
        SELECT * FROM unnest({
        arrays("bigint", "date", "text", "bigint", "timestamptz", "timestamptz")
    })
        ON CONFLICT (account_id, month, external_id) DO UPDATE SET
            first_at = least(lead_activity_months.first_at, excluded.first_at),
            last_at = greatest(lead_activity_months.last_at, excluded.last_at)
    """,
    # Stored instants are text in one format on SQLite: text order is time order.
    "sqlite": """
        INSERT INTO lead_activity_months
            (account_id, month, external_id, lead_id, first_at, last_at)
        VALUES (?, ?, ?, ?, ?, ?)
        ON CONFLICT (account_id, month, external_id) DO UPDATE SET
            first_at = min(lead_activity_months.first_at, excluded.first_at),
            last_at = max(lead_activity_months.last_at, excluded.last_at)
    """,
}


@dataclass(slots=True)
class ActivitySpan:
    """One lead's activity in one UTC month: a row of lead_activity_months."""

    account_id: int
    month: str  # the month's first day, 'YYYY-MM-01'
    external_id: str
    lead_id: int
    first_at: str  # stored text, see repository.stored_instant
    last_at: str


_SPAN_COLUMNS = ("account_id", "month", "external_id", "lead_id", "first_at", "last_at")
_span_values: Callable[[ActivitySpan], tuple[Any, ...]] = attrgetter(*_SPAN_COLUMNS)


def record_activity(
    session: Session,
    fresh: Sequence[ParsedRow],
    lead_ids: dict[tuple[int, str], int],
    lost: set[tuple[int, str]] | None = None,
) -> None:
    """Widen the activity rows of the leads of these stored events; one statement per chunk.

    `fresh` are parsed rows just stored (their instants in the stored text form,
    so the month is the text's first seven characters), `lead_ids` the lead id
    of each (account id, operator lead id), `lost` the (account id, key) pairs a
    concurrent sender stored first: their stored version is the event, so they
    are left out (min/max would keep a wrong instant for good).
    """
    rows: dict[tuple[int, str, str], ActivitySpan] = {}
    for p in fresh:
        if p.event_type not in ACTIVITY_TYPES or (
            lost and (p.account_id, p.idempotency_key) in lost
        ):
            continue
        at = p.occurred_at
        key = (p.account_id, at[:7], p.lead_id)
        span = rows.get(key)
        if span is None:
            lead_id = lead_ids[(p.account_id, p.lead_id)]
            rows[key] = ActivitySpan(p.account_id, f"{at[:7]}-01", p.lead_id, lead_id, at, at)
        elif at < span.first_at:
            span.first_at = at
        elif at > span.last_at:
            span.last_at = at
    if not rows:
        return
    conn = session.connection()
    if dialect_name(session) == "postgresql":
        # Sorted by key: concurrent senders upsert shared rows in the same order (no deadlock).
        ordered = [_span_values(rows[key]) for key in sorted(rows)]
        columns = [packed(column) for column in zip(*ordered, strict=True)]
        conn.exec_driver_sql(_UPSERT["postgresql"], tuple(columns))
    else:
        conn.exec_driver_sql(_UPSERT["sqlite"], [_span_values(span) for span in rows.values()])


def month_of(instant: datetime) -> date:
    """The first day of the UTC calendar month of `instant`."""
    utc = instant.astimezone(UTC)
    return date(utc.year, utc.month, 1)


@dataclass(frozen=True, slots=True)
class MonthTest:
    """Which rows of one month show a lead active in a period.

    `since` (the period start, in its first month): the row's last_at is at or
    after it; `before` (the period end, in its last month): the row's first_at is
    before it; neither (a month inside the period): any row.
    """

    month: date
    since: datetime | None
    before: datetime | None


def month_tests(start: datetime, end: datetime) -> tuple[list[MonthTest], bool]:
    """The months a period `[start, end)` touches, each with its test, and whether they are exact.

    A lead has an activity instant in `[start, end)` exactly when one of its
    month rows passes its month's test, when `start` and `end` lie in different
    months: the instants of the first month are all before the month's end, so
    one of them is in the period iff the latest is at or after `start`; those of
    the last month are all from the month's start on, so one is in the period
    iff the earliest is before `end`; every instant of a month in between is in
    the period. When both lie in one month the earliest and latest do not tell
    whether an instant falls between them, so the tests only narrow the
    candidates (False: the caller checks the events).
    """
    first, last = month_of(start), month_of(end)
    if first == last:
        return [MonthTest(first, start, end)], False
    tests = [MonthTest(first, start, None)]
    month = _next_month(first)
    while month < last:
        tests.append(MonthTest(month, None, None))
        month = _next_month(month)
    # An end on the first instant of a month takes nothing from that month.
    if end > datetime(last.year, last.month, 1, tzinfo=UTC):
        tests.append(MonthTest(last, None, end))
    return tests, True


def _next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def backfill(conn: Connection) -> None:
    """Fill lead_activity_months from every stored event (a bulk load that bypassed ingestion).

    The same statement as migration 0015, which fills the table of an existing
    database.
    """
    types = ", ".join(f"'{t}'" for t in sorted(ACTIVITY_TYPES))
    if conn.dialect.name == "postgresql":
        month = "date_trunc('month', e.occurred_at AT TIME ZONE 'UTC')::date"
    else:
        month = "substr(e.occurred_at, 1, 7) || '-01'"
    conn.exec_driver_sql(
        "INSERT INTO lead_activity_months"
        " (account_id, month, external_id, lead_id, first_at, last_at)"
        f" SELECT e.account_id, {month}, l.external_id, e.lead_id,"
        " min(e.occurred_at), max(e.occurred_at)"
        " FROM lead_events e JOIN leads l ON l.id = e.lead_id"
        f" WHERE e.type IN ({types})"
        f" GROUP BY e.account_id, {month}, l.external_id, e.lead_id"
    )
