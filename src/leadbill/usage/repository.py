"""Set-based queries of the usage thresholds: subscriptions to watch, crossings stored.

Counting itself is not here: counts and leads by rank come from
`billing.repository` (`counted_leads`, `counted_leads_at_ranks`, under the plan's
counting policy), the queries the billing run charges from, so thresholds always
agree with the invoice.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    String,
    Table,
    cast,
    func,
    select,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import InstrumentedAttribute, Session

from leadbill.accounts.models import Account
from leadbill.db import Base
from leadbill.leads.models import Lead
from leadbill.plans.models import Plan
from leadbill.subscriptions.models import Subscription
from leadbill.usage.models import UsageThresholdCrossing

# Ids per IN list and rows per insert: far below every driver's bind limit.
CHUNK = 1000


@dataclass(frozen=True, slots=True)
class WatchedSubscription:
    """An active subscription whose usage may cross a threshold."""

    id: int
    account_id: int
    plan_id: int
    included_leads: int
    interval: str
    counting_policy: str
    anchor_at: datetime
    time_zone: str
    period_index: int
    period_start: datetime
    period_end: datetime
    # A change scheduled for the period end (R7 downgrade): the plan of later periods.
    scheduled_plan_id: int | None = None


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for offset in range(0, len(items), CHUNK):
        yield items[offset : offset + CHUNK]


def _one_of(
    session: Session, column: ColumnElement[int] | InstrumentedAttribute[int], ids: Sequence[int]
) -> ColumnElement[bool]:
    """`column IN ids`; on PostgreSQL `= ANY` of one text parameter.

    An IN list of a thousand parameters is rendered and adapted anew by the
    driver on every execution; one comma-separated text split by the server is not.
    """
    if session.get_bind().dialect.name == "postgresql":
        ids_text = ",".join(str(int(i)) for i in ids)
        # IN (SELECT unnest ...), not = ANY(...): under the plan of a prepared statement
        # the server splits the text once, not again for every row it scans.
        ids_array = cast(func.string_to_array(ids_text, ","), ARRAY(BigInteger))
        return column.in_(select(func.unnest(ids_array)))
    return column.in_(ids)


def _instants() -> Any:
    """A converter of stored instants to UTC-aware datetimes, each distinct value once.

    The subscriptions of an ingestion chunk share a few anchors and period
    boundaries, so the conversion (the UTCDateTime column's) runs per distinct
    value instead of three times per subscription.
    """
    seen: dict[Any, datetime] = {}

    def instant(value: Any) -> datetime:
        found = seen.get(value)
        if found is None:
            if isinstance(value, datetime):
                found = value.replace(tzinfo=UTC) if value.tzinfo is None else value
                found = found.astimezone(UTC)
            else:  # SQLite: the stored text, naive UTC
                found = datetime.fromisoformat(str(value)).replace(tzinfo=UTC)
            seen[value] = found
        return found

    return instant


def active_subscriptions(session: Session, account_ids: Iterable[int]) -> list[WatchedSubscription]:
    """The active subscriptions of these accounts, with their plan's allowance."""
    found: list[WatchedSubscription] = []
    instant = _instants()
    for chunk in _chunks(sorted(set(account_ids))):
        query = (
            select(
                Subscription.id,
                Subscription.account_id,
                Subscription.plan_id,
                Plan.included_leads,
                Plan.interval,
                Plan.counting_policy,
                type_coerce(Subscription.anchor_at, String),
                Account.time_zone,
                Subscription.current_period_index,
                type_coerce(Subscription.current_period_start, String),
                type_coerce(Subscription.current_period_end, String),
                Subscription.scheduled_plan_id,
            )
            .join(Plan, Plan.id == Subscription.plan_id)
            .join(Account, Account.id == Subscription.account_id)
            .where(
                _one_of(session, Subscription.account_id, chunk),
                Subscription.status == "active",
            )
            .order_by(Subscription.id)
        )
        found.extend(
            WatchedSubscription(
                row[0],
                row[1],
                row[2],
                row[3],
                row[4],
                row[5],
                instant(row[6]),
                row[7],
                row[8],
                instant(row[9]),
                instant(row[10]),
                row[11],
            )
            for row in session.execute(query)
        )
    return found


# A subscription's counted leads in any watched period, whatever the period or segment,
# are at most the account's leads whose counted instant (under the plan's counting
# policy) is at or after the start of the current period: the count below, read on
# the (account_id, counted instant) index alone, without the exclusions.
_COUNTED_SINCE = (
    "(SELECT count(*) FROM leads l WHERE l.account_id = s.account_id"
    " AND l.{column} >= s.current_period_start)"
)
# A period split by a plan change, or a change scheduled for the period end, may give
# a segment an allowance other than the plan's: such a subscription is always checked.
_SPLIT_OR_SCHEDULED = """
    s.scheduled_plan_id IS NOT NULL OR EXISTS (
        SELECT 1 FROM subscription_segments seg
        WHERE seg.subscription_id = s.id AND seg.period_index >= s.current_period_index
          AND (seg.period_index > s.current_period_index
               OR seg.start > s.current_period_start OR seg."end" < s.current_period_end))
"""


@dataclass(frozen=True, slots=True)
class UsageBound:
    """An active subscription's plan and an upper bound of its usage in any watched period."""

    account_id: int
    counting_policy: str
    included_leads: int
    counted_at_most: int
    split_or_scheduled: bool


def usage_bounds(
    session: Session, account_ids: Iterable[int], counted_columns: Mapping[str, str]
) -> list[UsageBound]:
    """Per active subscription of these accounts: its plan and an upper bound of its usage.

    `counted_columns` maps each counting policy that counts leads to the leads column
    of its counted instant. One statement for all the accounts; a subscription
    whose plan counts no leads comes with a bound of 0.
    """
    ids = sorted(set(account_ids))
    if not ids:
        return []
    cases = " ".join(
        f"WHEN '{policy}' THEN {_COUNTED_SINCE.format(column=column)}"
        for policy, column in sorted(counted_columns.items())
    )
    if session.get_bind().dialect.name == "postgresql":
        source = "unnest(string_to_array(%s, ',')::bigint[]) AS k(value)"
        param: Any = ",".join(map(str, ids))
    else:
        source = "json_each(?) AS k"
        param = json.dumps(ids)
    sql = (
        "SELECT s.account_id, p.counting_policy, p.included_leads,"
        f" CASE p.counting_policy {cases} ELSE 0 END,"
        f" CASE WHEN {_SPLIT_OR_SCHEDULED} THEN 1 ELSE 0 END"
        # CROSS JOIN: SQLite takes the accounts first and probes each one's subscriptions.
        f" FROM {source} CROSS JOIN subscriptions s JOIN plans p ON p.id = s.plan_id"
        " WHERE s.account_id = k.value AND s.status = 'active'"
    )
    return [
        UsageBound(int(account), str(policy), int(included), int(count or 0), bool(split))
        for account, policy, included, count, split in session.connection()
        .exec_driver_sql(sql, (param,))
        .all()
    ]


def recorded_thresholds(
    session: Session, subscription_ids: Iterable[int], from_index: int
) -> set[tuple[int, int, int]]:
    """(subscription, period, threshold) already recorded for periods from `from_index` on."""
    found: set[tuple[int, int, int]] = set()
    table = UsageThresholdCrossing
    for chunk in _chunks(sorted(set(subscription_ids))):
        query = select(table.subscription_id, table.period_index, table.threshold).where(
            _one_of(session, table.subscription_id, chunk), table.period_index >= from_index
        )
        found.update((int(s), int(p), int(t)) for s, p, t in session.execute(query))
    return found


def insert_crossings(
    session: Session, rows: Sequence[dict[str, Any]]
) -> dict[tuple[int, int, int], int]:
    """Insert crossings; one already recorded is skipped. Returns the new ones' ids by key."""
    table: Table = Base.metadata.tables[UsageThresholdCrossing.__tablename__]
    make = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    inserted: dict[tuple[int, int, int], int] = {}
    for chunk in _chunks(rows):
        statement = (
            make(table)
            .values(list(chunk))
            .on_conflict_do_nothing(index_elements=["subscription_id", "period_index", "threshold"])
            .returning(table.c.subscription_id, table.c.period_index, table.c.threshold, table.c.id)
        )
        inserted.update(
            {(int(s), int(p), int(t)): int(id_) for s, p, t, id_ in session.execute(statement)}
        )
    return inserted


@dataclass(frozen=True, slots=True)
class CrossingRow:
    """One recorded crossing, with the operator id of the lead that reached it."""

    subscription_id: int
    period_index: int
    threshold: int
    leads: int
    lead_id: int
    external_id: str
    crossed_at: datetime
    recorded_at: datetime


def crossings(session: Session, subscription_id: int, period_index: int) -> list[CrossingRow]:
    """The crossings recorded for one period, lowest threshold first."""
    table = UsageThresholdCrossing
    query = (
        select(
            table.subscription_id,
            table.period_index,
            table.threshold,
            table.leads,
            table.lead_id,
            Lead.external_id,
            table.crossed_at,
            table.recorded_at,
        )
        .join(Lead, Lead.id == table.lead_id)
        .where(table.subscription_id == subscription_id, table.period_index == period_index)
        .order_by(table.threshold)
    )
    return [CrossingRow(*row) for row in session.execute(query)]
