"""Set-based queries of the billing run: due subscriptions, usage, bulk writes.

Everything here works on a whole batch of subscriptions at once: one query to
lock the batch, one GROUP BY for the usage of all its closing periods, and one
bulk statement per table written. No query runs per subscription or per lead.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, select, text
from sqlalchemy.orm import Session

import leadbill.models  # noqa: F401  (every table, so that foreign keys resolve)
from leadbill.accounts.models import Account
from leadbill.billing.models import Invoice, InvoiceLine
from leadbill.bulk import bulk_insert, bulk_update, is_postgresql
from leadbill.core.plans import CountingPolicy
from leadbill.db import Base, UTCDateTime
from leadbill.leads.models import Lead
from leadbill.leads.policies import STORED_COUNTING
from leadbill.plans.models import Plan
from leadbill.subscriptions.models import Subscription, SubscriptionPeriod, SubscriptionSegment

subscriptions: Table = Base.metadata.tables[Subscription.__tablename__]
accounts: Table = Base.metadata.tables[Account.__tablename__]
leads: Table = Base.metadata.tables[Lead.__tablename__]
invoices: Table = Base.metadata.tables[Invoice.__tablename__]
invoice_lines: Table = Base.metadata.tables[InvoiceLine.__tablename__]
periods: Table = Base.metadata.tables[SubscriptionPeriod.__tablename__]
segments: Table = Base.metadata.tables[SubscriptionSegment.__tablename__]

# Bind parameters per statement stay well below SQLite's limit (32766).
USAGE_CHUNK = 4000


@dataclass(frozen=True, slots=True)
class DueSubscription:
    """A locked subscription whose current period ended by the run's `as_of`."""

    id: int
    account_id: int
    plan_id: int
    anchor_at: datetime
    period_index: int
    period_start: datetime
    period_end: datetime
    cancel_at_period_end: bool
    cancel_requested_at: datetime | None
    time_zone: str
    currency: str
    # Licences now, and changes scheduled for the next period (R21, R7 downgrades).
    licences: int = 0
    scheduled_licences: int | None = None
    scheduled_plan_id: int | None = None


@dataclass(frozen=True, slots=True)
class ClosingPeriod:
    """A period whose counted leads the run needs: `[start, end)` of one account."""

    subscription_id: int
    period_index: int
    account_id: int
    start: datetime
    end: datetime


def lock_due_subscriptions(
    session: Session, as_of: datetime, limit: int, *, skip_locked: bool = True
) -> list[DueSubscription]:
    """The next `limit` active subscriptions whose period ended by `as_of`, locked.

    Ordered by (period end, id). On PostgreSQL the rows are locked FOR UPDATE,
    by default SKIP LOCKED so that concurrent runs take disjoint batches; on
    SQLite the transaction already holds the database write lock (BEGIN IMMEDIATE).
    """
    query = (
        select(
            subscriptions.c.id,
            subscriptions.c.account_id,
            subscriptions.c.plan_id,
            subscriptions.c.anchor_at,
            subscriptions.c.current_period_index.label("period_index"),
            subscriptions.c.current_period_start.label("period_start"),
            subscriptions.c.current_period_end.label("period_end"),
            subscriptions.c.cancel_at_period_end,
            subscriptions.c.cancel_requested_at,
            accounts.c.time_zone,
            accounts.c.currency,
            subscriptions.c.licences,
            subscriptions.c.scheduled_licences,
            subscriptions.c.scheduled_plan_id,
        )
        .join(accounts, accounts.c.id == subscriptions.c.account_id)
        .where(subscriptions.c.status == "active", subscriptions.c.current_period_end <= as_of)
        .order_by(subscriptions.c.current_period_end, subscriptions.c.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=skip_locked, of=subscriptions)
    # Rows in DueSubscription's field order, so each becomes one without a dict.
    return [DueSubscription(*row) for row in session.execute(query)]


def plans_by_id(session: Session, plan_ids: Iterable[int]) -> dict[int, Plan]:
    """The plans with these ids (plans are immutable, so callers may cache them)."""
    ids = sorted(set(plan_ids))
    if not ids:
        return {}
    return {plan.id: plan for plan in session.scalars(select(Plan).where(Plan.id.in_(ids)))}


# Every query below (counts, counts by category, leads by rank) joins the leads through
# `_counted_join`, built from leads.policies.STORED_COUNTING (the stored form of
# core.billability.decide), so the billing run, the summary, thresholds, plan advice
# and explain count the same leads.
_POLICY_USAGE = STORED_COUNTING
# The counting policies under which leads count at all (`none`: a pure licence plan).
COUNTED_POLICIES: frozenset[CountingPolicy] = frozenset(_POLICY_USAGE)


def _counted_join(policy: CountingPolicy) -> str:
    """JOIN of the leads counted in each span `cp` under `policy` (half-open spans)."""
    column, kept = _POLICY_USAGE[policy]
    return (
        f"JOIN leads ON leads.account_id = cp.account_id AND leads.{column} >= cp.period_start"
        f" AND leads.{column} < cp.period_end AND {kept}"
    )


def counted_at_column(policy: CountingPolicy) -> str:
    """The leads column holding the instant at which a lead counts under `policy`."""
    return _POLICY_USAGE[policy][0]


# Each batch's spans arrive as one comma-separated text per column, split into arrays
# (PostgreSQL), or as one JSON array (SQLite): the
# statement text is fixed per policy, so it is prepared and cached once.
_SPANS = {
    "postgresql": """
        WITH cp AS (
            SELECT * FROM unnest(CAST(string_to_array(:subscription_ids, ',') AS BIGINT[]),
                CAST(string_to_array(:period_indexes, ',') AS INTEGER[]),
                CAST(string_to_array(:account_ids, ',') AS BIGINT[]),
                CAST(string_to_array(:starts, ',') AS TIMESTAMPTZ[]),
                CAST(string_to_array(:ends, ',') AS TIMESTAMPTZ[]))
            AS w(subscription_id, period_index, account_id, period_start, period_end)
        )
    """,
    "sqlite": """
        WITH cp AS (
            SELECT json_extract(value, '$[0]') AS subscription_id,
                   json_extract(value, '$[1]') AS period_index,
                   json_extract(value, '$[2]') AS account_id,
                   json_extract(value, '$[3]') AS period_start,
                   json_extract(value, '$[4]') AS period_end
            FROM json_each(:periods)
        )
    """,
}


def _joined(values: Iterable[Any]) -> str:
    """PostgreSQL: one array parameter as comma-separated text (`string_to_array`).

    Ids and instants never contain a comma; one text parameter spares the driver
    adapting thousands of array elements one by one.
    """
    return ",".join(map(str, values))


def _usage_params(session: Session, chunk: Sequence[ClosingPeriod]) -> dict[str, Any]:
    if is_postgresql(session):
        # The spans of a batch share a few boundaries: each is written once.
        instants: dict[datetime, str] = {}

        def written(instant: datetime) -> str:
            found = instants.get(instant)
            if found is None:
                found = instants[instant] = instant.astimezone(UTC).isoformat()
            return found

        return {
            "subscription_ids": _joined(p.subscription_id for p in chunk),
            "period_indexes": _joined(p.period_index for p in chunk),
            "account_ids": _joined(p.account_id for p in chunk),
            "starts": _joined(written(p.start) for p in chunk),
            "ends": _joined(written(p.end) for p in chunk),
        }
    # Instants in exactly the text form the UTCDateTime column stores on SQLite.
    dialect = session.get_bind().dialect
    stored = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)
    assert stored is not None
    # The spans of a batch share a few boundaries: each is converted once.
    texts: dict[datetime, Any] = {}

    def text_of(instant: datetime) -> Any:
        found = texts.get(instant)
        if found is None:
            found = texts[instant] = stored(instant)
        return found

    rows = [
        [p.subscription_id, p.period_index, p.account_id, text_of(p.start), text_of(p.end)]
        for p in chunk
    ]
    return {"periods": json.dumps(rows)}


def _category_sql(dialect: str, policy: CountingPolicy, by_seat: bool = False) -> str:
    columns = "leads.seat_id, leads.category" if by_seat else "leads.category"
    return (
        f"{_SPANS[dialect]}"
        f" SELECT cp.subscription_id, cp.period_index, {columns}, count(*) FROM cp"
        f" {_counted_join(policy)}"
        f" GROUP BY cp.subscription_id, cp.period_index, {columns}"
    )


def counted_by_category(
    session: Session, closing_periods: Sequence[ClosingPeriod], policy: CountingPolicy
) -> dict[tuple[int, int], dict[str | None, int]]:
    """Counted leads per category in each span under `policy`.

    Keyed by (subscription id, period index), then the lead's category (None:
    uncategorised). One GROUP BY per chunk of spans on the policy's (account_id,
    counted instant) index; leads excluded by an automatic reason that applies to
    the policy or by a staff decision are left out. A lead counted exactly at a
    boundary belongs to the later span (half-open intervals); spans without any
    counted lead are absent. `none` counts nothing.
    """
    counts: dict[tuple[int, int], dict[str | None, int]] = {}
    if policy not in _POLICY_USAGE:
        return counts
    sql = text(_category_sql(session.get_bind().dialect.name, policy))
    for offset in range(0, len(closing_periods), USAGE_CHUNK):
        params = _usage_params(session, closing_periods[offset : offset + USAGE_CHUNK])
        for subscription_id, period_index, category, count in session.execute(sql, params):
            key = (int(subscription_id), int(period_index))
            counts.setdefault(key, {})[category] = int(count)
    return counts


def counted_by_seat_and_category(
    session: Session, closing_periods: Sequence[ClosingPeriod], policy: CountingPolicy
) -> dict[tuple[int, int], dict[tuple[int | None, str | None], int]]:
    """Counted leads per (seat id, category) in each span under `policy`.

    The leads `counted_by_category` counts, split by seat as well (None: no seat),
    in the same one statement per chunk: a page that needs usage per seat, per
    category and per day reads the period's counted leads once.
    """
    counts: dict[tuple[int, int], dict[tuple[int | None, str | None], int]] = {}
    if policy not in _POLICY_USAGE:
        return counts
    sql = text(_category_sql(session.get_bind().dialect.name, policy, by_seat=True))
    for offset in range(0, len(closing_periods), USAGE_CHUNK):
        params = _usage_params(session, closing_periods[offset : offset + USAGE_CHUNK])
        for subscription_id, index, seat_id, category, count in session.execute(sql, params):
            key = (int(subscription_id), int(index))
            seat = None if seat_id is None else int(seat_id)
            counts.setdefault(key, {})[(seat, category)] = int(count)
    return counts


def counted_leads(
    session: Session, closing_periods: Sequence[ClosingPeriod], policy: CountingPolicy
) -> dict[tuple[int, int], int]:
    """Counted leads in each span under any counting policy (none: no leads)."""
    by_category = counted_by_category(session, closing_periods, policy)
    return {key: sum(counts.values()) for key, counts in by_category.items()}


def called_leads(
    session: Session, closing_periods: Sequence[ClosingPeriod]
) -> dict[tuple[int, int], int]:
    """Leads first called inside each span (the `called` policy, R2)."""
    return counted_leads(session, closing_periods, CountingPolicy.CALLED)


@dataclass(frozen=True, slots=True)
class RankedLead:
    """The lead counted `rank`-th (1 is the first) in one span, in counting order."""

    subscription_id: int
    period_index: int
    rank: int
    lead_id: int
    external_id: str
    counted_at: datetime


_RANKED_SQL = {
    "postgresql": """
        WITH cp AS (
            SELECT * FROM unnest(
                CAST(string_to_array(:subscription_ids, ',') AS BIGINT[]),
                CAST(string_to_array(:period_indexes, ',') AS INTEGER[]),
                CAST(string_to_array(:account_ids, ',') AS BIGINT[]),
                CAST(string_to_array(:starts, ',') AS TIMESTAMPTZ[]),
                CAST(string_to_array(:ends, ',') AS TIMESTAMPTZ[]),
                CAST(string_to_array(:ranks, ',') AS INTEGER[]))
            AS w(subscription_id, period_index, account_id, period_start, period_end, wanted)
        )
        {ranked}
    """,
    "sqlite": """
        WITH cp AS (
            SELECT json_extract(value, '$[0]') AS subscription_id,
                   json_extract(value, '$[1]') AS period_index,
                   json_extract(value, '$[2]') AS account_id,
                   json_extract(value, '$[3]') AS period_start,
                   json_extract(value, '$[4]') AS period_end,
                   json_extract(value, '$[5]') AS wanted
            FROM json_each(:periods)
        )
        {ranked}
    """,
}
# Counting order: the counted instant, then the operator's lead id (unique per account),
# compared by code point on both databases (PostgreSQL's "C" collation, SQLite's binary).
_RANKED_TAIL = """
        , spans AS (
            SELECT DISTINCT subscription_id, period_index, account_id, period_start, period_end
            FROM cp
        ), ranked AS (
            SELECT cp.subscription_id, cp.period_index, leads.id AS lead_id,
                   leads.external_id, leads.{counted_at} AS counted_at,
                   row_number() OVER (
                       PARTITION BY cp.subscription_id, cp.period_index
                       ORDER BY leads.{counted_at}, leads.external_id {collate}
                   ) AS position
            FROM spans AS cp
            {join}
        )
        SELECT cp.subscription_id, cp.period_index, cp.wanted, ranked.lead_id,
               ranked.external_id, ranked.counted_at
        FROM cp
        JOIN ranked ON ranked.subscription_id = cp.subscription_id
              AND ranked.period_index = cp.period_index
              AND ranked.position = cp.wanted
"""


def counted_leads_at_ranks(
    session: Session,
    wanted: Sequence[tuple[ClosingPeriod, int]],
    policy: CountingPolicy = CountingPolicy.CALLED,
) -> dict[tuple[int, int, int], RankedLead]:
    """The lead counted at each wanted rank of each span, keyed by (subscription, period, rank).

    The leads are exactly those `counted_leads` counts under `policy`, in counting
    order: the counted instant, then the operator lead id. A rank beyond the span's
    counted leads is absent from the result. One statement per chunk.
    """
    found: dict[tuple[int, int, int], RankedLead] = {}
    if policy not in _POLICY_USAGE:
        return found
    postgresql = is_postgresql(session)
    tail = _RANKED_TAIL.format(
        counted_at=counted_at_column(policy),
        collate='COLLATE "C"' if postgresql else "",
        join=_counted_join(policy),
    )
    sql = text(_RANKED_SQL["postgresql" if postgresql else "sqlite"].replace("{ranked}", tail))
    typed = sql.columns(counted_at=UTCDateTime())
    for offset in range(0, len(wanted), USAGE_CHUNK):
        chunk = wanted[offset : offset + USAGE_CHUNK]
        params = _usage_params(session, [period for period, _rank in chunk])
        if postgresql:
            params["ranks"] = _joined(rank for _period, rank in chunk)
        else:
            rows = json.loads(params["periods"])
            params["periods"] = json.dumps(
                [[*row, rank] for row, (_period, rank) in zip(rows, chunk, strict=True)]
            )
        for sub, index, rank, lead_id, external_id, counted_at in session.execute(typed, params):
            key = (int(sub), int(index), int(rank))
            found[key] = RankedLead(*key, int(lead_id), str(external_id), counted_at)
    return found


@dataclass(frozen=True, slots=True)
class SegmentRow:
    """One segment of a period split by a plan change (R7)."""

    subscription_id: int
    period_index: int
    plan_id: int
    start: datetime
    end: datetime


_SPLIT_JOIN = """
        JOIN subscription_segments AS seg ON seg.subscription_id = cp.subscription_id
             AND seg.period_index = cp.period_index
        WHERE seg.start > cp.period_start OR seg."end" < cp.period_end
"""
_SPLIT_SELECT = (
    'SELECT seg.subscription_id, seg.period_index, seg.plan_id, seg.start, seg."end" AS end_at'
)


def split_segments(
    session: Session, closing_periods: Sequence[ClosingPeriod]
) -> dict[tuple[int, int], list[SegmentRow]]:
    """The segments of those periods that a plan change split, in time order (R7).

    Keyed by (subscription id, period index); a period with its one segment
    spanning it whole is absent. One statement per chunk of periods.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        source = (
            "FROM unnest(CAST(string_to_array(:subscription_ids, ',') AS BIGINT[]),"
            " CAST(string_to_array(:period_indexes, ',') AS INTEGER[]),"
            " CAST(string_to_array(:account_ids, ',') AS BIGINT[]),"
            " CAST(string_to_array(:starts, ',') AS TIMESTAMPTZ[]),"
            " CAST(string_to_array(:ends, ',') AS TIMESTAMPTZ[]))"
            " AS cp(subscription_id, period_index, account_id, period_start, period_end)"
        )
        sql = f"{_SPLIT_SELECT} {source} {_SPLIT_JOIN}"
    else:
        sql = f"{_SPANS['sqlite']} {_SPLIT_SELECT} FROM cp {_SPLIT_JOIN}"
    typed = text(sql).columns(start=UTCDateTime(), end_at=UTCDateTime())
    found: dict[tuple[int, int], list[SegmentRow]] = {}
    for offset in range(0, len(closing_periods), USAGE_CHUNK):
        params = _usage_params(session, closing_periods[offset : offset + USAGE_CHUNK])
        for sub, index, plan_id, start, end in session.execute(typed, params):
            row = SegmentRow(int(sub), int(index), int(plan_id), start, end)
            found.setdefault((row.subscription_id, row.period_index), []).append(row)
    for rows in found.values():
        rows.sort(key=lambda row: row.start)
    return found


def insert_invoices(session: Session, rows: Sequence[dict[str, Any]]) -> dict[tuple[int, int], int]:
    """Bulk insert boundary invoices; their ids keyed by (subscription id, boundary index)."""
    if not rows:
        return {}
    result = bulk_insert(session, invoices, rows, returning="id, subscription_id, boundary_index")
    return {(int(sub), int(boundary)): int(id_) for id_, sub, boundary in result}


def insert_lines(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Bulk insert invoice lines."""
    if rows:
        bulk_insert(session, invoice_lines, rows)


def insert_periods(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Bulk insert opened periods and their first segment (a segment row has a plan_id)."""
    if not rows:
        return
    period_rows = [{key: value for key, value in row.items() if key != "plan_id"} for row in rows]
    bulk_insert(session, periods, period_rows)
    bulk_insert(session, segments, rows)


def update_subscriptions(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Bulk update the billed subscriptions (rows keyed by `id`): their new period, or their end."""
    bulk_update(session, subscriptions, rows)


def invoices_by_id(session: Session, invoice_ids: Sequence[int]) -> list[Invoice]:
    """Invoices with these ids, in number order (drafts last, by id)."""
    found: list[Invoice] = []
    for offset in range(0, len(invoice_ids), USAGE_CHUNK):
        chunk = invoice_ids[offset : offset + USAGE_CHUNK]
        found.extend(session.scalars(select(Invoice).where(Invoice.id.in_(chunk))))
    return sorted(
        found, key=lambda invoice: (invoice.number is None, invoice.number or "", invoice.id)
    )
