"""Set-based queries of the reports: a page of leads, their events, usage counts.

A call report reads one page of leads (keyset pagination on the operator's lead
id: the leads active in the period, read in that order from lead_activity_months,
see leads.activity) and then every event of that page in one query ordered by
lead and time. Usage is one COUNT
over the counting policy's stored instant in the period minus its stored
exclusions (leads.policies.counted_in), the same predicate the billing run
uses, so the report, the summary and the invoice agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Subquery, and_, bindparam, exists, func, or_, select, union_all
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from leadbill.core.periods import Period
from leadbill.core.plans import CountingPolicy
from leadbill.leads.activity import ACTIVITY_TYPES, MonthTest, month_tests
from leadbill.leads.models import Lead, LeadActivityMonth, LeadEvent
from leadbill.leads.policies import counted_in
from leadbill.seats.models import Seat
from leadbill.subscriptions.models import SubscriptionSegment


@dataclass(frozen=True, slots=True)
class LeadRow:
    """The stored details of one lead, with its seat's code."""

    id: int
    external_id: str
    seat_code: str | None
    name: str | None
    phone: str | None
    email: str | None
    postal_code: str | None
    source: str | None
    received_at: datetime | None
    first_called_at: datetime | None
    category: str | None = None
    decision_reason: str | None = None  # a staff decision or an approved review (R15, R16)


@dataclass(frozen=True, slots=True)
class EventRow:
    """One stored event of a lead."""

    lead_id: int
    type: str
    occurred_at: datetime
    call_result: str | None
    duration_seconds: int | None


def _in_period(column: Any, period: Period) -> ColumnElement[bool]:
    # Half-open [start, end): an instant on a boundary belongs to the later period.
    return and_(column >= period.start, column < period.end)


@dataclass(frozen=True, slots=True)
class LeadMatch:
    """Which leads a report page keeps: a seat, a phone or an e-mail (None: any).

    A phone or e-mail that normalises is compared with the stored normalised
    form; one that does not is compared with the text as it was received.
    """

    seat_id: int | None = None
    phone_e164: str | None = None
    phone_text: str | None = None
    email_key: str | None = None
    email_text: str | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        """The SQL conditions of this match."""
        found: list[ColumnElement[bool]] = []
        if self.seat_id is not None:
            found.append(Lead.seat_id == self.seat_id)
        if self.phone_e164 is not None:
            found.append(Lead.phone_e164 == self.phone_e164)
        elif self.phone_text is not None:
            found.append(Lead.phone == self.phone_text)
        if self.email_key is not None:
            found.append(Lead.email_key == self.email_key)
        elif self.email_text is not None:
            found.append(Lead.email == self.email_text)
        return found


def leads_page(
    session: Session,
    account_id: int,
    period: Period,
    *,
    after: str | None,
    limit: int,
    match: LeadMatch | None = None,
) -> list[LeadRow]:
    """Up to `limit` leads of the account active in `period`, by operator lead id.

    A lead belongs to the period when one of its received, call or found events
    happened in it (leads.activity.ACTIVITY_TYPES): every occurrence counts, so a
    lead received again or found again in a later period is in that period's report
    too (before migration 0015 only its first receipt and first contact found
    placed it). `after` is the last operator lead id of the previous page; `match`
    narrows to a seat, phone or e-mail.

    The membership is read from lead_activity_months (`_active`): one limited
    scan per UTC month of the period in lead-id order, merged, so a page costs a
    few hundred index entries whatever the account's history. A phone or e-mail
    search starts from the leads instead (the normalised phone and e-mail
    indexes) and tests each lead's months (`_active_lead`). Both read the same
    rows with the same tests (leads.activity.month_tests): one definition of
    membership.
    """
    columns = (
        Lead.id,
        Lead.external_id,
        Seat.code,
        Lead.name,
        Lead.phone,
        Lead.email,
        Lead.postal_code,
        Lead.source,
        Lead.received_at,
        Lead.first_called_at,
        Lead.category,
        Lead.decision_reason,
    )
    conditions = match.conditions() if match is not None else []
    query = select(*columns).outerjoin(Seat, Seat.id == Lead.seat_id)
    if match is not None and (match.phone_text is not None or match.email_text is not None):
        # A search keeps a handful of leads: found by the phone or e-mail index when it
        # normalises, by the account's leads otherwise (cheaper than probing a lead per
        # row of the period's months).
        query = query.where(
            Lead.account_id == account_id, *conditions, _active_lead(account_id, period)
        )
        if after is not None:
            query = query.where(Lead.external_id > after)
    else:
        page = _active(account_id, period, after, limit, conditions)
        query = query.join(page, page.c.lead_id == Lead.id)
    rows: Sequence[Any] = session.execute(query.order_by(Lead.external_id).limit(limit)).all()
    return [LeadRow(*row) for row in rows]


def _active(
    account_id: int,
    period: Period,
    after: str | None,
    limit: int,
    conditions: list[ColumnElement[bool]],
) -> Subquery:
    """The first `limit` leads active in `period` after `after` (and meeting `conditions`).

    One branch per UTC month the period touches, each the month's first `limit`
    rows in lead-id order that pass its test (leads.activity.month_tests): a lead
    active in two months has a row in both, so the first `limit` distinct leads
    of the merged branches are the page (no branch can hold fewer of them than
    the page needs). PostgreSQL appends the branches' limited index scans and sorts
    at most `limit` rows per month.
    """
    tests, exact = month_tests(period.start, period.end)
    branches = []
    for test in tests:
        branch = select(LeadActivityMonth.external_id, LeadActivityMonth.lead_id).where(
            LeadActivityMonth.account_id == account_id, *_passes(test)
        )
        if after is not None:
            branch = branch.where(LeadActivityMonth.external_id > after)
        if not exact:
            branch = branch.where(_event_in(LeadActivityMonth.lead_id, account_id, period))
        if conditions:
            # A correlated subquery, tested row by row along the scan in lead-id order:
            # joined, PostgreSQL underestimates a seat's share of one account's leads
            # and gathers and sorts the whole month instead (600 ms against 20 ms).
            branch = branch.where(
                select(Lead.id)
                .where(Lead.id == LeadActivityMonth.lead_id, *conditions)
                .scalar_subquery()
                .is_not(None)
            )
        limited = branch.order_by(LeadActivityMonth.external_id).limit(limit).subquery()
        branches.append(select(limited.c.external_id, limited.c.lead_id))
    merged = union_all(*branches).subquery()
    return (
        select(merged.c.external_id, merged.c.lead_id)
        .distinct()
        .order_by(merged.c.external_id)
        .limit(limit)
        .subquery("page")
    )


def _active_lead(account_id: int, period: Period) -> ColumnElement[bool]:
    """Whether the lead of the outer query is active in `period` (the same tests as `_active`)."""
    tests, exact = month_tests(period.start, period.end)
    row = exists().where(
        LeadActivityMonth.account_id == account_id,
        LeadActivityMonth.external_id == Lead.external_id,
        or_(*(and_(*_passes(test)) for test in tests)),
    )
    return row if exact else and_(row, _event_in(Lead.id, account_id, period))


def _passes(test: MonthTest) -> list[ColumnElement[bool]]:
    """The conditions of a lead_activity_months row passing its month's test."""
    passes = [LeadActivityMonth.month == test.month]
    if test.since is not None:
        passes.append(LeadActivityMonth.last_at >= test.since)
    if test.before is not None:
        passes.append(LeadActivityMonth.first_at < test.before)
    return passes


def _event_in(lead_id: Any, account_id: int, period: Period) -> ColumnElement[bool]:
    """Whether the lead has an activity event in `period` (a period inside one UTC month)."""
    return exists().where(
        LeadEvent.lead_id == lead_id,
        LeadEvent.account_id == account_id,
        LeadEvent.type.in_(sorted(ACTIVITY_TYPES)),
        _in_period(LeadEvent.occurred_at, period),
    )


def events_of(session: Session, account_id: int, lead_ids: Sequence[int]) -> list[EventRow]:
    """Every event of these leads in one query, ordered by lead, then time."""
    if not lead_ids:
        return []
    query = (
        select(
            LeadEvent.lead_id,
            LeadEvent.type,
            LeadEvent.occurred_at,
            LeadEvent.call_result,
            LeadEvent.duration_seconds,
        )
        .where(
            # Written into the statement, not bound: psycopg prepares a statement on its
            # fifth run, and PostgreSQL's generic plan for it ignores the values, taking
            # one account's share of the events for a few rows: a page's events of an
            # account with 700,000 went through the account's index (46 ms) instead of
            # the leads' (0.3 ms). With the values in the text it is planned with them.
            LeadEvent.account_id == bindparam("account_id", account_id, literal_execute=True),
            LeadEvent.lead_id.in_(bindparam("lead_ids", list(lead_ids), literal_execute=True)),
        )
        .order_by(LeadEvent.lead_id, LeadEvent.occurred_at, LeadEvent.id)
    )
    rows: Sequence[Any] = session.execute(query).all()
    return [EventRow(*row) for row in rows]


def external_ids(session: Session, account_id: int, lead_ids: Sequence[int]) -> dict[int, str]:
    """The operator ids of these leads (one query; a page's earlier leads)."""
    if not lead_ids:
        return {}
    query = select(Lead.id, Lead.external_id).where(
        Lead.account_id == account_id, Lead.id.in_(lead_ids)
    )
    return {int(lead_id): str(external_id) for lead_id, external_id in session.execute(query)}


def counted_leads(
    session: Session,
    account_id: int,
    period: Period,
    policy: CountingPolicy = CountingPolicy.CALLED,
) -> int:
    """Leads of the account counted in `period` under `policy`: the usage billing charges."""
    count = session.scalar(
        select(func.count(Lead.id)).where(
            Lead.account_id == account_id, counted_in(policy, period.start, period.end)
        )
    )
    return int(count or 0)


def counted_leads_by_seat(
    session: Session,
    account_id: int,
    period: Period,
    policy: CountingPolicy = CountingPolicy.CALLED,
) -> dict[int | None, int]:
    """Leads counted in `period` under `policy`, per seat id (None: leads without a seat)."""
    query = (
        select(Lead.seat_id, func.count(Lead.id))
        .where(Lead.account_id == account_id, counted_in(policy, period.start, period.end))
        .group_by(Lead.seat_id)
    )
    return {seat_id: int(count) for seat_id, count in session.execute(query)}


def seat_id(session: Session, account_id: int, code: str) -> int | None:
    """The id of the account's seat with this code."""
    return session.scalar(select(Seat.id).where(Seat.account_id == account_id, Seat.code == code))


def seat_codes(session: Session, account_id: int) -> list[tuple[int, str]]:
    """The account's seats as (id, code), oldest first."""
    query = select(Seat.id, Seat.code).where(Seat.account_id == account_id).order_by(Seat.id)
    return [(seat_id, code) for seat_id, code in session.execute(query)]


def plan_in_force(
    session: Session, subscription_id: int, period_index: int, instant: datetime
) -> int | None:
    """The plan id of the period's segment in force at `instant`, if the period was opened."""
    return session.scalar(
        select(SubscriptionSegment.plan_id)
        .where(
            SubscriptionSegment.subscription_id == subscription_id,
            SubscriptionSegment.period_index == period_index,
            SubscriptionSegment.start <= instant,
        )
        .order_by(SubscriptionSegment.start.desc())
        .limit(1)
    )
