"""R9: the call report lists exactly the leads active in its period, page after page.

A lead belongs to a period's report when one of its received, call or found
events happened in it (reports.repository.leads_page). The pages read that
membership from lead_activity_months (leads.activity); these tests compare them
with the definition computed by a plain query over the events, on periods whose
boundaries are not UTC month boundaries (account time zones, a mid-month anchor,
an annual plan), with and without each filter, and check the table itself:
written at ingestion, idempotent, widened by events out of order, and rebuilt
by migration 0015 from the stored events.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from leadbill.accounts.models import Account
from leadbill.core.periods import Period
from leadbill.db import session_factory
from leadbill.leads.activity import ACTIVITY_TYPES, month_tests
from leadbill.leads.service import ingest_events
from leadbill.reports.service import (
    CallReportFilter,
    ReportScope,
    filtered_call_report_page,
    report_scope,
)
from leadbill.seats.service import create_seat
from leadbill.subscriptions.service import create_subscription
from tests.conftest import utc
from tests.integration.usage_fixtures import START, account, plan

AS_OF = utc(2026, 6, 1)
PHONES = ["+12025550101", "+12025550102", "+12025550103"]
EMAILS = ["ann@example.com", "bob@example.com"]
# Activity and the events that are not (a recording or an outcome never places a lead).
TYPES = [
    "received",
    "received",
    "call_attempted",
    "call_answered",
    "call_missed",
    "contact_found",
    "contact_enriched",
    "contact_verified",
    "contact_not_found",
    "recording_available",
    "outcome",
]


def _z(instant: datetime) -> str:
    return instant.isoformat().replace("+00:00", "Z")


def _random_rows(code: str, seed: int, leads: int = 40) -> list[dict[str, str]]:
    """Leads with events spread over December 2025 to May 2026, some on month edges."""
    rng = random.Random(seed)
    span = int((utc(2026, 5, 31) - utc(2025, 12, 1)).total_seconds())
    rows = []
    for number in range(leads):
        lead_id = f"L{number:03d}"
        extra = {
            "seat": rng.choice(["", "s1", "s2"]),
            "phone": rng.choice(["", *PHONES]),
            "email": rng.choice(["", *EMAILS]),
        }
        for event in range(rng.randint(1, 5)):
            at = utc(2025, 12, 1) + timedelta(seconds=rng.randrange(span))
            if rng.random() < 0.15:  # on the first instant of a UTC month, or just before it
                at = datetime(at.year, at.month, 1, tzinfo=at.tzinfo) - timedelta(
                    microseconds=rng.choice([0, 1])
                )
            rows.append(
                {
                    "idempotency_key": f"{code}-{lead_id}-{event}",
                    "account": code,
                    "lead_id": lead_id,
                    "event_type": "received" if event == 0 else rng.choice(TYPES),
                    "occurred_at": _z(at),
                    **(extra if event == 0 else {}),
                }
            )
    rng.shuffle(rows)  # out of order, in several batches
    return rows


def _customer(session: Session, code: str, time_zone: str, interval: str, start: datetime) -> None:
    customer = account(session, code, time_zone)
    on = plan(session, f"p-{code}", "100.00", 10, "1.00", ladder=None, interval=interval)
    create_subscription(session, account=customer, plan=on, start=start)
    for seat in ("s1", "s2"):
        create_seat(
            session,
            account=customer,
            code=seat,
            primary_name=seat,
            primary_email=f"{seat}@{code}.test",
            as_of=start,
        )


def _ingest(session: Session, rows: list[dict[str, str]]) -> None:
    for start in range(0, len(rows), 37):
        result = ingest_events(session, rows[start : start + 37], as_of=AS_OF)
        assert result.rejections == []


def _expected(session: Session, account_id: int, period: Period, wanted: CallReportFilter) -> list:
    """The definition, by a plain query: an activity event in the period (and the filter)."""
    types = ", ".join(f"'{t}'" for t in sorted(ACTIVITY_TYPES))
    sql = (
        "SELECT DISTINCT l.external_id FROM leads l JOIN lead_events e ON e.lead_id = l.id"
        " LEFT JOIN seats s ON s.id = l.seat_id"
        f" WHERE l.account_id = :account AND e.type IN ({types})"
        " AND e.occurred_at >= :start AND e.occurred_at < :end"
    )
    values: dict[str, object] = {"account": account_id, "start": period.start, "end": period.end}
    if wanted.seat is not None:
        sql += " AND s.code = :seat"
        values["seat"] = wanted.seat
    if wanted.phone is not None:
        sql += " AND l.phone_e164 = :phone"
        values["phone"] = wanted.phone
    if wanted.email is not None:
        sql += " AND l.email_key = :email"
        values["email"] = wanted.email
    return sorted(row[0] for row in session.execute(text(sql), values))


def _paged(session: Session, scope: ReportScope, wanted: CallReportFilter, limit: int) -> list:
    """Every lead id of the report, following the cursor page after page."""
    seen: list[str] = []
    after = None
    for _ in range(100):
        page = filtered_call_report_page(session, scope, wanted, after=after, limit=limit)
        seen += [row.lead_id for row in page.rows]
        if page.next_after is None:
            return seen
        after = page.next_after
    raise AssertionError("the cursor never ended")


FILTERS = [
    CallReportFilter(),
    CallReportFilter(seat="s1"),
    CallReportFilter(seat="s2"),
    CallReportFilter(phone=PHONES[0]),
    CallReportFilter(email=EMAILS[1]),
    CallReportFilter(seat="s1", phone=PHONES[1]),
]


@pytest.mark.parametrize(
    ("time_zone", "interval", "start", "periods"),
    [
        # A mid-month anchor in a zone west of UTC: every boundary is mid-month.
        ("America/New_York", "month", utc(2025, 11, 15, 17, 30), 7),
        # East of UTC, anchored on the 1st local: boundaries the evening before in UTC.
        ("Asia/Tokyo", "month", utc(2025, 11, 30, 15), 7),
        # UTC on the 1st: boundaries on month edges (the last month adds nothing).
        ("UTC", "month", utc(2025, 12, 1), 6),
        # An annual plan: thirteen UTC months in one period.
        ("Australia/Sydney", "year", utc(2025, 3, 19, 13), 2),
    ],
)
def test_r9_call_report_pages_hold_the_leads_active_in_the_period(
    session: Session, time_zone: str, interval: str, start: datetime, periods: int
) -> None:
    _customer(session, "acme", time_zone, interval, start)
    _ingest(session, _random_rows("acme", seed=len(time_zone)))
    customer = account_of(session, "acme")
    for index in range(periods):
        scope = report_scope(session, customer, as_of=AS_OF, period_index=index)
        for wanted in FILTERS:
            expected = _expected(session, scope.account_id, scope.period, wanted)
            assert _paged(session, scope, wanted, limit=3) == expected, (index, wanted)
        # Counted and reason are the core's verdicts on the same leads.
        every = _paged_rows(session, scope, CallReportFilter())
        assert [r.lead_id for r in every] == _expected(
            session, scope.account_id, scope.period, FILTERS[0]
        )
        for counted in (True, False):
            kept = _paged(session, scope, CallReportFilter(counted=counted), limit=2)
            assert kept == [r.lead_id for r in every if r.counted == counted]
        kept = _paged(session, scope, CallReportFilter(seat="s2", reason="called"), limit=2)
        assert kept == [r.lead_id for r in every if r.seat_code == "s2" and r.reason == "called"]


def account_of(session: Session, code: str) -> Account:
    return session.scalars(select(Account).where(Account.code == code)).one()


def _paged_rows(session: Session, scope: ReportScope, wanted: CallReportFilter) -> list:
    rows = []
    after = None
    while True:
        page = filtered_call_report_page(session, scope, wanted, after=after, limit=5)
        rows += page.rows
        if page.next_after is None:
            return rows
        after = page.next_after


def test_r9_a_period_inside_one_utc_month_checks_the_events(session: Session) -> None:
    """The earliest and latest instant of a month do not tell whether one lies between."""
    _customer(session, "acme", "UTC", "month", START)
    _ingest(session, _random_rows("acme", seed=7))
    scope = report_scope(session, account_of(session, "acme"), as_of=AS_OF, period_index=0)
    assert month_tests(utc(2026, 2, 10), utc(2026, 2, 20))[1] is False
    for start, end in [
        (utc(2026, 2, 10), utc(2026, 2, 20)),
        (utc(2026, 3, 1), utc(2026, 3, 31, 23)),
        (utc(2026, 1, 5, 12), utc(2026, 1, 5, 18)),
    ]:
        narrow = replace(scope, period=Period(0, start, end))
        for wanted in FILTERS:
            expected = _expected(session, scope.account_id, narrow.period, wanted)
            assert _paged(session, narrow, wanted, limit=2) == expected


def _events(code: str, lead_id: str, events: list[tuple[str, datetime]]) -> list[dict[str, str]]:
    return [
        {
            "idempotency_key": f"{code}-{lead_id}-{event_type}-{_z(at)}",
            "account": code,
            "lead_id": lead_id,
            "event_type": event_type,
            "occurred_at": _z(at),
        }
        for event_type, at in events
    ]


def _activity(session: Session) -> list[tuple]:
    rows = session.execute(
        text(
            "SELECT account_id, month, external_id, lead_id, first_at, last_at"
            " FROM lead_activity_months ORDER BY account_id, month, external_id"
        )
    )
    return [
        (a, str(month)[:10], ext, lead, _utc(first), _utc(last))
        for a, month, ext, lead, first, last in rows
    ]


def _utc(value: object) -> str:
    # SQLite hands back the stored text, PostgreSQL an aware datetime.
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    return str(value)[:19]


def test_r9_activity_rows_are_idempotent_and_widen_with_events_out_of_order(
    session: Session,
) -> None:
    _customer(session, "acme", "UTC", "month", START)
    late = _events("acme", "L1", [("call_attempted", utc(2026, 1, 20, 9))])
    _ingest(session, late)
    assert [(r[1], r[2], r[4], r[5]) for r in _activity(session)] == [
        ("2026-01-01", "L1", "2026-01-20 09:00:00", "2026-01-20 09:00:00")
    ]
    # An earlier and a later event of the same month widen the row; a recording does not.
    _ingest(
        session,
        _events(
            "acme",
            "L1",
            [
                ("received", utc(2026, 1, 3, 8)),
                ("call_answered", utc(2026, 1, 31, 23, 59)),
                ("recording_available", utc(2026, 1, 31, 23, 59, 30)),
                ("contact_found", utc(2026, 2, 1)),
            ],
        ),
    )
    rows = _activity(session)
    assert [(r[1], r[2], r[4], r[5]) for r in rows] == [
        ("2026-01-01", "L1", "2026-01-03 08:00:00", "2026-01-31 23:59:00"),
        ("2026-02-01", "L1", "2026-02-01 00:00:00", "2026-02-01 00:00:00"),
    ]
    # Sending everything again, in another order, changes nothing.
    again = _events(
        "acme",
        "L1",
        [
            ("contact_found", utc(2026, 2, 1)),
            ("received", utc(2026, 1, 3, 8)),
            ("call_answered", utc(2026, 1, 31, 23, 59)),
            ("recording_available", utc(2026, 1, 31, 23, 59, 30)),
        ],
    )
    result = ingest_events(session, again + late, as_of=AS_OF)
    assert result.duplicate == 5
    assert _activity(session) == rows


def test_r9_a_lead_received_again_in_a_later_period_is_in_that_periods_report(
    session: Session,
) -> None:
    """Membership follows every activity event: a lead received or found again in a later
    period is listed there too (not counted there: it counted in its first period)."""
    _customer(session, "acme", "UTC", "month", START)
    _ingest(
        session,
        _events("acme", "L1", [("received", utc(2026, 1, 5)), ("call_attempted", utc(2026, 1, 6))])
        + _events("acme", "L1", [("received", utc(2026, 3, 10))])
        + _events("acme", "L2", [("received", utc(2026, 1, 7))])
        + _events("acme", "L2", [("contact_found", utc(2026, 4, 2))])
        + _events("acme", "L3", [("received", utc(2026, 2, 7)), ("outcome", utc(2026, 3, 2))]),
    )
    customer = account_of(session, "acme")
    listed = {}
    for index in range(4):
        scope = report_scope(session, customer, as_of=AS_OF, period_index=index)
        listed[index] = {r.lead_id: r.counted for r in _paged_rows(session, scope, FILTERS[0])}
    assert listed == {
        0: {"L1": True, "L2": False},
        1: {"L3": False},
        2: {"L1": False},  # received again in March; an outcome alone places no lead
        3: {"L2": False},  # contact found in April
    }


def test_0015_fills_the_activity_of_a_database_from_before_it(engine: Engine) -> None:
    """Upgrading a database with leads and events gives the rows ingestion writes."""
    from tests.integration.test_migrations import _migrate_to

    sessions = session_factory(engine)
    with sessions.begin() as session:
        _customer(session, "acme", "America/New_York", "month", utc(2025, 11, 15, 17, 30))
        _ingest(session, _random_rows("acme", seed=3))
    with sessions.begin() as session:
        written = _activity(session)
        customer = account_of(session, "acme")
        scope = report_scope(session, customer, as_of=AS_OF, period_index=3)
        report = [r.lead_id for r in _paged_rows(session, scope, FILTERS[0])]
    assert len(written) > 40 and report
    _migrate_to(engine, "0014", "downgrade")
    _migrate_to(engine, "head", "upgrade")
    with sessions.begin() as session:
        assert _activity(session) == written
        assert [r.lead_id for r in _paged_rows(session, scope, FILTERS[0])] == report
