"""Set-based queries of the billing run: due subscriptions, usage, bulk writes.

Everything here works on a whole batch of subscriptions at once: one query to
lock the batch, one GROUP BY for the usage of all its closing periods, and one
bulk statement per table written. No query runs per subscription or per lead.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, Table, and_, bindparam, column, func, insert, select, update, values
from sqlalchemy.orm import Session

from leadbill.accounts.models import Account
from leadbill.billing.models import Invoice, InvoiceLine
from leadbill.db import Base, UTCDateTime
from leadbill.leads.models import Lead
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
    time_zone: str
    currency: str


@dataclass(frozen=True, slots=True)
class ClosingPeriod:
    """A period whose counted leads the run needs: `[start, end)` of one account."""

    subscription_id: int
    period_index: int
    account_id: int
    start: datetime
    end: datetime


def lock_due_subscriptions(session: Session, as_of: datetime, limit: int) -> list[DueSubscription]:
    """The next `limit` active subscriptions whose period ended by `as_of`, locked.

    Ordered by (period end, id). On PostgreSQL the rows are locked FOR UPDATE
    SKIP LOCKED, so concurrent runs take disjoint batches; on SQLite the
    transaction already holds the database write lock (BEGIN IMMEDIATE).
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
            accounts.c.time_zone,
            accounts.c.currency,
        )
        .join(accounts, accounts.c.id == subscriptions.c.account_id)
        .where(subscriptions.c.status == "active", subscriptions.c.current_period_end <= as_of)
        .order_by(subscriptions.c.current_period_end, subscriptions.c.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=subscriptions)
    return [DueSubscription(**row._asdict()) for row in session.execute(query)]


def plans_by_id(session: Session, plan_ids: Iterable[int]) -> dict[int, Plan]:
    """The plans with these ids (plans are immutable, so callers may cache them)."""
    ids = sorted(set(plan_ids))
    if not ids:
        return {}
    return {plan.id: plan for plan in session.scalars(select(Plan).where(Plan.id.in_(ids)))}


def called_leads(
    session: Session, closing_periods: Sequence[ClosingPeriod]
) -> dict[tuple[int, int], int]:
    """Leads first called inside each period, keyed by (subscription id, period index).

    One GROUP BY per chunk: the periods are joined, as a VALUES list, to the
    account's leads on the (account_id, first_called_at) index. A lead called
    exactly at a boundary belongs to the later period (half-open intervals).
    Periods without any called lead are absent from the result.
    """
    counts: dict[tuple[int, int], int] = {}
    for offset in range(0, len(closing_periods), USAGE_CHUNK):
        chunk = closing_periods[offset : offset + USAGE_CHUNK]
        closing = (
            values(
                column("subscription_id", Integer),
                column("period_index", Integer),
                column("account_id", Integer),
                column("period_start", UTCDateTime()),
                column("period_end", UTCDateTime()),
                name="closing_periods",
            )
            .data(
                [(p.subscription_id, p.period_index, p.account_id, p.start, p.end) for p in chunk]
            )
            .cte("closing_periods")
        )
        query = (
            select(closing.c.subscription_id, closing.c.period_index, func.count(leads.c.id))
            .select_from(closing)
            .join(
                leads,
                and_(
                    leads.c.account_id == closing.c.account_id,
                    leads.c.first_called_at >= closing.c.period_start,
                    leads.c.first_called_at < closing.c.period_end,
                ),
            )
            .group_by(closing.c.subscription_id, closing.c.period_index)
        )
        for subscription_id, period_index, count in session.execute(query):
            counts[(int(subscription_id), int(period_index))] = int(count)
    return counts


def insert_invoices(session: Session, rows: Sequence[dict[str, Any]]) -> dict[tuple[int, int], int]:
    """Bulk insert boundary invoices; their ids keyed by (subscription id, boundary index)."""
    if not rows:
        return {}
    result = session.execute(
        insert(invoices).returning(
            invoices.c.id, invoices.c.subscription_id, invoices.c.boundary_index
        ),
        list(rows),
    )
    return {(int(sub), int(boundary)): int(id_) for id_, sub, boundary in result}


def insert_lines(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Bulk insert invoice lines."""
    if rows:
        session.execute(insert(invoice_lines), list(rows))


def insert_periods(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Bulk insert opened periods and their first segment (a segment row has a plan_id)."""
    if not rows:
        return
    period_rows = [{key: value for key, value in row.items() if key != "plan_id"} for row in rows]
    session.execute(insert(periods), period_rows)
    session.execute(insert(segments), list(rows))


def update_subscriptions(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Bulk update the billed subscriptions: their new current period, or their end."""
    if not rows:
        return
    statement = (
        update(subscriptions)
        .where(subscriptions.c.id == bindparam("b_id"))
        .values(
            status=bindparam("b_status"),
            current_period_index=bindparam("b_index"),
            current_period_start=bindparam("b_start", type_=UTCDateTime()),
            current_period_end=bindparam("b_end", type_=UTCDateTime()),
            ended_at=bindparam("b_ended_at", type_=UTCDateTime()),
        )
    )
    session.execute(statement, list(rows))


def invoices_by_id(session: Session, invoice_ids: Sequence[int]) -> list[Invoice]:
    """Invoices with these ids, in number order (drafts last, by id)."""
    found: list[Invoice] = []
    for offset in range(0, len(invoice_ids), USAGE_CHUNK):
        chunk = invoice_ids[offset : offset + USAGE_CHUNK]
        found.extend(session.scalars(select(Invoice).where(Invoice.id.in_(chunk))))
    return sorted(
        found, key=lambda invoice: (invoice.number is None, invoice.number or "", invoice.id)
    )
