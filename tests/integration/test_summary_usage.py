"""R3, R9: the billing summary reads a period's usage per seat, category and day at once.

The summary, the dashboard's chart and the usage-threshold check used to count
the period's leads in four statements (per seat, per category, per day, the
threshold total). They now read them in one (`billing.repository.
counted_by_seat_and_category` over the days of the period and its rest). These
tests compare every figure with the separate counting queries on the same leads.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta

from sqlalchemy import delete, event, select
from sqlalchemy.orm import Session

from leadbill.accounts.models import Account
from leadbill.accounts.service import create_account
from leadbill.billing.repository import ClosingPeriod, counted_by_category, counted_leads
from leadbill.core.plans import CountingPolicy
from leadbill.leads.decisions import exclude_leads
from leadbill.leads.service import ingest_events
from leadbill.mail.models import MailMessage
from leadbill.notifications.models import MailNotification
from leadbill.plans.service import create_plan
from leadbill.portal.usage import daily_counts
from leadbill.reports import repository
from leadbill.reports import service as reports
from leadbill.seats.service import create_seat
from leadbill.subscriptions.service import create_subscription
from leadbill.usage.models import UsageThresholdCrossing
from leadbill.usage.service import record_threshold_crossings
from tests.conftest import utc

START = utc(2026, 1, 1)
AS_OF = utc(2026, 1, 16, 12)  # period 0 is January 2026 in New York
ZONE = "America/New_York"


def _account(session: Session, code: str, included: int) -> Account:
    account = create_account(
        session,
        code=code,
        name=code.title(),
        currency="USD",
        time_zone=ZONE,
        billing_email=f"billing@{code}.test",
        as_of=START,
    )
    plan = create_plan(
        session,
        code=f"pkg-{code}",
        name="Package",
        currency="USD",
        interval="month",
        fee="1000.00",
        included_leads=included,
        per_lead_rate="9.50",
        seat_fee="57.00",
        as_of=START,
    )
    create_subscription(session, account=account, plan=plan, start=START)
    for seat in ("s1", "s2", "s3-idle"):
        create_seat(
            session,
            account=account,
            code=seat,
            primary_name=f"Agent {seat}",
            primary_email=f"{seat}@{code}.test",
            as_of=START,
        )
    return account


def _lead(
    account: Account,
    number: int,
    *,
    seat: str | None,
    category: str | None,
    received: datetime,
    called: datetime | None,
) -> list[dict[str, str]]:
    lead = {
        "account": account.code,
        "lead_id": f"L-{number:03d}",
        "seat": seat or "",
        "category": category or "",
        "phone": f"+1617555{number:04d}",
    }
    events = [("received", received)] + ([("call_answered", called)] if called else [])
    return [
        {
            **lead,
            "idempotency_key": f"{account.code}-{number}-{kind}",
            "event_type": kind,
            "occurred_at": at.isoformat().replace("+00:00", "Z"),
        }
        for kind, at in events
    ]


def _leads(session: Session, account: Account) -> None:
    """Leads called over January (New York days), some outside it, one decided."""
    rows: list[dict[str, str]] = []
    seats = ["s1", "s2", None]
    categories = ["roofing", None]
    for number in range(40):
        # 05:00 UTC is midnight in New York: days and UTC dates differ for early calls.
        called = utc(2026, 1, 1, 4) + timedelta(hours=9 * number)  # Jan 1 04:00 .. Jan 15 19:00
        rows += _lead(
            account,
            number,
            seat=seats[number % 3],
            category=categories[number % 2],
            received=called - timedelta(hours=1),
            called=called,
        )
    # Counted in January after as_of (the period's rest), in February, and never called.
    rows += _lead(
        account, 40, seat="s1", category=None, received=AS_OF, called=AS_OF + timedelta(days=3)
    )
    rows += _lead(
        account,
        41,
        seat="s2",
        category="roofing",
        received=utc(2026, 1, 30),
        called=utc(2026, 2, 2),
    )
    rows += _lead(account, 42, seat="s1", category=None, received=utc(2026, 1, 5), called=None)
    result = ingest_events(session, rows, as_of=AS_OF + timedelta(days=20))
    assert result.rejections == []
    exclude_leads(
        session,
        account.code,
        ["L-007"],
        reason="wrong_number",
        decided_by="qa@operator.test",
        as_of=AS_OF,
    )


def test_r9_summary_usage_per_seat_category_and_day_matches_the_separate_queries(
    session: Session,
) -> None:
    account = _account(session, "brokerage", included=100)
    _leads(session, account)
    other = _account(session, "other", included=100)
    _leads(session, other)  # the same lead ids in another account: never mixed in

    summary = reports.billing_summary(session, account, AS_OF)
    scope = reports.report_scope(session, account, as_of=AS_OF)
    policy = CountingPolicy.CALLED
    span = ClosingPeriod(scope.subscription_id, 0, account.id, scope.period.start, scope.period.end)

    # 40 leads called in January before as_of, one of them decided (R16), and one after.
    assert summary.counted_leads == 40
    by_category = counted_by_category(session, [span], policy)[(scope.subscription_id, 0)]
    assert by_category == {"roofing": 20, None: 20}
    assert summary.counted_leads == sum(by_category.values())
    by_seat = repository.counted_leads_by_seat(session, account.id, scope.period, policy)
    seat_ids = dict(repository.seat_codes(session, account.id))
    assert list(summary.counted_by_seat) == [
        (seat_ids[seat_id], by_seat.get(seat_id, 0)) for seat_id in seat_ids
    ] + [(None, by_seat[None])]
    assert list(summary.counted_by_seat) == [("s1", 15), ("s2", 12), ("s3-idle", 0), (None, 13)]

    # Each New York day from the period start (Jan 1 00:00 UTC, Dec 31 19:00 in New York)
    # to as_of, as the per-day counting query gives it.
    days = reports.day_spans(scope.period, AS_OF, ZONE)
    assert (days[0][0], days[-1][0]) == (date(2025, 12, 31), date(2026, 1, 16))
    assert (days[0][1], days[0][2], days[1][2]) == (START, utc(2026, 1, 1, 5), utc(2026, 1, 2, 5))
    per_day = counted_leads(
        session,
        [
            ClosingPeriod(scope.subscription_id, -10 - n, account.id, start, end)
            for n, (_day, start, end) in enumerate(days)
        ],
        policy,
    )
    expected = [per_day.get((scope.subscription_id, -10 - n), 0) for n in range(len(days))]
    assert summary.counted_by_day is not None
    assert [usage.counted_leads for usage in summary.counted_by_day] == expected
    assert sum(expected) == 39  # the lead counted after as_of is in no day so far
    assert expected[:3] == [1, 2, 3]

    # The chart's days: from the summary, and counted by the chart's own query: the same.
    chart_args = {
        "account_id": account.id,
        "subscription_id": scope.subscription_id,
        "time_zone": ZONE,
        "policy": policy,
    }
    from_summary = daily_counts(session, summary=summary, **chart_args)  # type: ignore[arg-type]
    counted_again = daily_counts(
        session,
        summary=dataclasses.replace(summary, counted_by_day=None),
        **chart_args,  # type: ignore[arg-type]
    )
    assert from_summary == counted_again
    assert from_summary[-1].cumulative == 39


def test_r9_summary_reads_the_period_leads_in_one_statement(session: Session) -> None:
    account = _account(session, "brokerage", included=100)
    _leads(session, account)
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", seen)
    try:
        reports.billing_summary(session, account, AS_OF)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    # One statement counts the period's leads (the recorded crossings are read with
    # their lead's id, not counted).
    counting = [s for s in statements if "leads.first_called_at" in s]
    assert len(counting) == 1


def _forget_crossings(session: Session, account: Account) -> None:
    # Ingestion recorded the crossings already (before the staff decision): start again,
    # with the usage alerts it queued for them.
    alerts = select(MailNotification.mail_message_id).where(
        MailNotification.account_id == account.id,
        MailNotification.threshold_crossing_id.is_not(None),
    )
    queued = list(session.scalars(alerts))
    session.execute(delete(MailNotification).where(MailNotification.mail_message_id.in_(queued)))
    session.execute(delete(MailMessage).where(MailMessage.id.in_(queued)))
    session.execute(
        delete(UsageThresholdCrossing).where(UsageThresholdCrossing.account_id == account.id)
    )


def test_r9_summary_thresholds_record_the_same_crossing_from_known_counts(
    session: Session,
) -> None:
    # 40 counted of 45 included: 80 % (36 leads) reached, 100 % (45) not.
    account = _account(session, "brokerage", included=45)
    _leads(session, account)
    twin = _account(session, "twin", included=45)
    _leads(session, twin)
    _forget_crossings(session, account)
    _forget_crossings(session, twin)

    summary = reports.billing_summary(session, account, AS_OF)
    flags = {flag.threshold: flag for flag in summary.thresholds}
    assert (flags[80].reached, flags[80].leads, flags[100].reached) == (True, 36, False)
    # The 36th lead counted: L-000 .. L-036 less the decided L-007.
    assert flags[80].lead_id == "L-036"
    assert flags[80].crossed_at == utc(2026, 1, 1, 4) + timedelta(hours=9 * 36)

    # The same crossing as the check that counts for itself records for the twin.
    counted_itself = record_threshold_crossings(session, [twin.id], AS_OF)
    assert [(c.threshold, c.leads, c.external_id, c.crossed_at) for c in counted_itself] == [
        (80, 36, "L-036", flags[80].crossed_at)
    ]
