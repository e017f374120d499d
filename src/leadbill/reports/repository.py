"""Set-based queries of the reports: a page of leads, their events, usage counts.

A call report reads one page of leads (keyset pagination on the operator's lead
id, which the `(account_id, external_id)` unique index serves) and then every
event of that page in one query ordered by lead and time. Usage is one COUNT
over the counting policy's stored instant in the period minus its stored
exclusions (leads.policies.counted_in), the same predicate the billing run
uses, so the report, the summary and the invoice agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from leadbill.core.billability import CALL_EVENTS
from leadbill.core.periods import Period
from leadbill.core.plans import CountingPolicy
from leadbill.leads.models import Lead, LeadEvent
from leadbill.leads.policies import counted_in
from leadbill.seats.models import Seat
from leadbill.subscriptions.models import SubscriptionSegment

CALL_TYPES = sorted(event_type.value for event_type in CALL_EVENTS)


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
    """Up to `limit` leads of the account received or called in `period`, by lead id.

    A lead belongs to the period when it was received in it, first called in it
    (which is when it counts), or had any call event in it. `after` is the last
    operator lead id of the previous page; `match` narrows to a seat, phone or e-mail.
    """
    called_in_period = exists().where(
        LeadEvent.account_id == account_id,
        LeadEvent.lead_id == Lead.id,
        LeadEvent.type.in_(CALL_TYPES),
        _in_period(LeadEvent.occurred_at, period),
    )
    query = (
        select(
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
        .outerjoin(Seat, Seat.id == Lead.seat_id)
        .where(
            Lead.account_id == account_id,
            or_(
                _in_period(Lead.received_at, period),
                _in_period(Lead.first_called_at, period),
                _in_period(Lead.first_found_at, period),
                called_in_period,
            ),
        )
        .order_by(Lead.external_id)
        .limit(limit)
    )
    if after is not None:
        query = query.where(Lead.external_id > after)
    if match is not None:
        query = query.where(*match.conditions())
    rows: Sequence[Any] = session.execute(query).all()
    return [LeadRow(*row) for row in rows]


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
        .where(LeadEvent.account_id == account_id, LeadEvent.lead_id.in_(lead_ids))
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
