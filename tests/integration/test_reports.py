"""R9: the master call report, and the billing summary of a period."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

import leadbill.console
from leadbill.accounts.models import Account
from leadbill.accounts.service import create_account
from leadbill.billing.models import Invoice, InvoiceLine
from leadbill.billing.repository import ClosingPeriod, called_leads
from leadbill.billing.service import run_billing
from leadbill.core.billability import REASON_TEXT, Reason
from leadbill.core.money import Money
from leadbill.errors import InvalidInput
from leadbill.leads.service import ingest_events
from leadbill.plans.service import create_plan
from leadbill.reports import service as reports
from leadbill.reports.commands import app as reports_app
from leadbill.seats.models import Seat
from leadbill.seats.service import create_seat
from leadbill.subscriptions.service import create_subscription
from tests.conftest import utc

START = utc(2026, 1, 1)  # period 0 is January 2026 (UTC), period 1 February
INGESTED_AT = utc(2026, 3, 1)
Call = tuple[str, datetime, str | None, int | None]


def _account(session: Session, code: str) -> Account:
    account = create_account(
        session,
        code=code,
        name=code.title(),
        currency="USD",
        time_zone="UTC",
        billing_email=f"billing@{code}.test",
        as_of=START,
    )
    plan = create_plan(
        session,
        code=f"pkg-100-{code}",
        name="Package 100",
        currency="USD",
        interval="month",
        fee="1000.00",
        included_leads=100,
        per_lead_rate="9.50",
        seat_fee="57.00",
        as_of=START,
    )
    create_subscription(session, account=account, plan=plan, start=START)
    return account


def _seat(session: Session, account: Account, code: str) -> Seat:
    seat, _invoice = create_seat(
        session,
        account=account,
        code=code,
        primary_name=f"Agent {code}",
        primary_email=f"{code}@{account.code}.test",
        as_of=START,
    )
    return seat


def _event_rows(
    account: Account,
    external_id: str,
    *,
    received_at: datetime,
    seat: Seat | str | None = None,
    calls: Sequence[Call] = (),
) -> list[dict[str, str]]:
    """The rows an operator's systems send for one lead: received, then its calls."""
    seat_code = seat.code if isinstance(seat, Seat) else seat
    lead = {
        "account": account.code,
        "lead_id": external_id,
        "seat": seat_code or "",
        "name": f"Prospect {external_id}",
        "phone": "+1 617 555 0100",
        "email": f"{external_id.lower()}@example.test",
        "postal_code": "02139",
        "source": "phone",
        "detail": "",
    }
    events = [("received", received_at, None, None), *calls]
    return [
        {
            **lead,
            "idempotency_key": f"{account.code}-{external_id}-{number}",
            "event_type": event_type,
            "occurred_at": at.isoformat().replace("+00:00", "Z"),
            "call_result": result or "",
            "duration_seconds": "" if duration is None else str(duration),
        }
        for number, (event_type, at, result, duration) in enumerate(events)
    ]


def _ingest(session: Session, rows: list[dict[str, str]]) -> None:
    result = ingest_events(session, rows, as_of=INGESTED_AT)
    assert (result.accepted, result.rejections) == (len(rows), [])


def _lead(
    session: Session,
    account: Account,
    external_id: str,
    *,
    received_at: datetime,
    seat: Seat | None = None,
    calls: Sequence[Call] = (),
) -> None:
    """One lead, through the ingestion service like the operator's events."""
    _ingest(
        session,
        _event_rows(account, external_id, received_at=received_at, seat=seat, calls=calls),
    )


def _brokerage(session: Session) -> Account:
    """A brokerage with three seats (one idle), and a second account with look-alike leads."""
    account = _account(session, "brokerage")
    s1, s2 = _seat(session, account, "s1"), _seat(session, account, "s2")
    _seat(session, account, "s3-idle")
    _lead(
        session,
        account,
        "L-001",
        seat=s1,
        received_at=utc(2026, 1, 3, 10),
        calls=[
            ("call_missed", utc(2026, 1, 3, 10, 5), "no_answer", 0),
            ("call_answered", utc(2026, 1, 3, 14, 5), "answered", 183),
        ],
    )
    _lead(session, account, "L-002", seat=s2, received_at=utc(2026, 1, 5, 9))
    _lead(
        session,
        account,
        "L-003",
        received_at=utc(2026, 1, 6, 8),
        calls=[("call_attempted", utc(2026, 1, 7, 16, 30, 15), "voicemail", 31)],
    )
    # Received in January, first called in February: it counts in February.
    _lead(
        session,
        account,
        "L-004",
        seat=s2,
        received_at=utc(2026, 1, 30, 12),
        calls=[("call_answered", utc(2026, 2, 2, 9), "answered", 60)],
    )
    # Counted in January, called again in February: listed in both, counted in January.
    _lead(
        session,
        account,
        "L-005",
        seat=s1,
        received_at=utc(2026, 1, 20, 12),
        calls=[
            ("call_answered", utc(2026, 1, 20, 13), "answered", 95),
            ("call_missed", utc(2026, 2, 3, 11), None, None),
        ],
    )
    _lead(session, account, "L-006", seat=s1, received_at=utc(2026, 2, 10, 12))
    other = _account(session, "other")
    other_seat = _seat(session, other, "s1")
    for external_id in ("L-001", "X-900"):
        _lead(
            session,
            other,
            external_id,
            seat=other_seat,
            received_at=utc(2026, 1, 4, 10),
            calls=[("call_answered", utc(2026, 1, 4, 11), "answered", 30)],
        )
    return account


def test_r9_call_report_lists_leads_of_all_seats_with_history_and_reason(
    session: Session,
) -> None:
    account = _brokerage(session)
    report = reports.call_report(session, account, as_of=utc(2026, 1, 31, 23))
    assert report.scope.period.index == 0
    assert [row.lead_id for row in report.rows] == ["L-001", "L-002", "L-003", "L-004", "L-005"]
    rows = {row.lead_id: row for row in report.rows}

    called = rows["L-001"]
    assert called.seat_code == "s1"
    assert called.name == "Prospect L-001"
    assert called.phone == "+1 617 555 0100"
    assert called.email == "l-001@example.test"
    assert called.postal_code == "02139"
    assert called.source == "phone"
    assert called.received_at == utc(2026, 1, 3, 10)
    assert called.calls == 2
    assert called.last_call_result == "answered"
    assert called.last_call_at == utc(2026, 1, 3, 14, 5)
    assert called.call_history == (
        reports.CallEvent("call_missed", utc(2026, 1, 3, 10, 5), "no_answer", 0),
        reports.CallEvent("call_answered", utc(2026, 1, 3, 14, 5), "answered", 183),
    )
    assert called.counted is True
    assert called.reason == "called"
    assert called.reason_text == REASON_TEXT[Reason.CALLED]
    assert called.counted_at == utc(2026, 1, 3, 10, 5)

    never = rows["L-002"]
    assert never.seat_code == "s2"
    assert (never.calls, never.last_call_result, never.call_history) == (0, None, ())
    assert never.counted is False
    assert never.reason == "never_called"
    assert never.reason_text == REASON_TEXT[Reason.NEVER_CALLED]
    assert never.counted_at is None

    assert rows["L-003"].seat_code is None
    assert rows["L-003"].counted is True
    assert rows["L-003"].last_call_result == "voicemail"

    later = rows["L-004"]
    assert later.billable is True
    assert later.counted is False
    assert later.reason == "called"
    assert later.reason_text.startswith("not counted in this period: it counts in a later")
    assert later.counted_at == utc(2026, 2, 2, 9)
    assert rows["L-005"].counted is True
    assert report.counted_leads == 3


def test_r9_call_report_of_another_period_by_index_and_by_date(session: Session) -> None:
    account = _brokerage(session)
    as_of = utc(2026, 2, 20)
    by_default = reports.call_report(session, account, as_of=as_of)
    by_index = reports.call_report(session, account, as_of=as_of, period_index=1)
    by_date = reports.call_report(session, account, as_of=as_of, in_period=utc(2026, 2, 1))
    assert by_default == by_index == by_date
    assert by_index.scope.period.start == utc(2026, 2, 1)
    assert by_index.scope.period.end == utc(2026, 3, 1)
    rows = {row.lead_id: row for row in by_index.rows}
    assert sorted(rows) == ["L-004", "L-005", "L-006"]
    assert rows["L-004"].counted is True
    assert rows["L-004"].reason_text == REASON_TEXT[Reason.CALLED]
    # Called again in February but it counted in January: listed, not counted twice.
    assert rows["L-005"].counted is False
    assert rows["L-005"].calls == 2
    assert rows["L-005"].last_call_result == "call_missed"
    assert rows["L-005"].reason_text.startswith("not counted in this period: it counts in an")
    assert rows["L-006"].reason == "never_called"
    assert by_index.counted_leads == 1

    january = reports.call_report(session, account, as_of=as_of, period_index=0)
    assert january.counted_leads == 3
    with pytest.raises(InvalidInput, match="period"):
        reports.call_report(session, account, as_of=as_of, period_index=0, in_period=as_of)
    with pytest.raises(InvalidInput, match="as_of"):
        reports.call_report(session, account, as_of=utc(2025, 12, 31))


def test_r9_report_counted_total_equals_billing_usage(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        account = _brokerage(session)
        subscription_id = reports.report_scope(session, account, as_of=START).subscription_id
    with sessions.begin() as session:
        for index in (0, 1):
            report = reports.call_report(session, account, as_of=START, period_index=index)
            period = report.scope.period
            usage = called_leads(
                session,
                [ClosingPeriod(subscription_id, index, account.id, period.start, period.end)],
            ).get((subscription_id, index), 0)
            assert report.counted_leads == usage == (3, 1)[index]
            summary = reports.billing_summary(session, account, period.start + timedelta(days=1))
            assert summary.counted_leads == usage
    # The invoice the billing run issues for January charges exactly those leads.
    run_billing(sessions, utc(2026, 2, 1))
    with sessions.begin() as session:
        description = session.scalar(
            select(InvoiceLine.description)
            .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
            .where(Invoice.account_id == account.id, InvoiceLine.kind == "overage")
        )
    assert description is not None
    assert "3 leads counted" in description


def _many_leads(session: Session, account: Account, seats: dict[str | None, int]) -> None:
    """`count` called leads per seat code, called during the first half of January."""
    rows = []
    number = 0
    for code, count in seats.items():
        for _ in range(count):
            number += 1
            at = utc(2026, 1, 2) + timedelta(hours=3 * number)
            rows += _event_rows(
                account,
                f"{account.code}-{number:04d}",
                seat=code,
                received_at=at,
                calls=[("call_answered", at + timedelta(minutes=5), "answered", 120)],
            )
    _ingest(session, rows)


def test_r9_summary_figures_to_the_cent(session: Session) -> None:
    account = _account(session, "brokerage")
    for code in ("s1", "s2", "s3-idle"):
        _seat(session, account, code)
    _many_leads(session, account, {"s1": 70, "s2": 50, None: 10})  # 130 counted
    for number in range(5):  # received, never called: not counted
        _lead(session, account, f"N-{number}", received_at=utc(2026, 1, 10))
    other = _account(session, "other")
    _seat(session, other, "s1")
    _many_leads(session, other, {"s1": 20})

    # Half of January (31 days) has elapsed at Jan 16 12:00 UTC.
    summary = reports.billing_summary(session, account, utc(2026, 1, 16, 12))
    usd = "USD"
    assert (summary.period_start, summary.period_end) == (utc(2026, 1, 1), utc(2026, 2, 1))
    assert summary.plan_code == "pkg-100-brokerage"
    assert summary.counted_leads == 130
    assert summary.included_leads == 100
    assert summary.remaining_leads == 0
    assert summary.overage_leads == 30
    assert summary.overage_so_far == Money(Decimal("285.00"), usd)
    assert summary.elapsed_share == Fraction(1, 2)
    assert summary.projected_leads == 260
    assert summary.projected_overage == Money(Decimal("1520.00"), usd)  # 160 x 9.50
    assert summary.projected_cost == Money(Decimal("2520.00"), usd)  # 1000.00 + 1520.00
    assert list(summary.counted_by_seat) == [("s1", 70), ("s2", 50), ("s3-idle", 0), (None, 10)]

    other_summary = reports.billing_summary(session, other, utc(2026, 1, 16, 12))
    assert other_summary.counted_leads == 20
    assert other_summary.remaining_leads == 80
    assert other_summary.overage_so_far == Money(Decimal("0.00"), usd)
    assert other_summary.projected_cost == Money(Decimal("1000.00"), usd)


def test_r9_report_pages_with_keyset_pagination(session: Session) -> None:
    account = _brokerage(session)
    scope = reports.report_scope(session, account, as_of=utc(2026, 1, 31))
    first = reports.call_report_page(session, scope, limit=2)
    assert [row.lead_id for row in first.rows] == ["L-001", "L-002"]
    assert first.next_after == "L-002"
    second = reports.call_report_page(session, scope, after=first.next_after, limit=2)
    assert [row.lead_id for row in second.rows] == ["L-003", "L-004"]
    last = reports.call_report_page(session, scope, after=second.next_after, limit=2)
    assert [row.lead_id for row in last.rows] == ["L-005"]
    assert last.next_after is None
    paged = list(reports.iter_call_report(session, scope, page_size=1))
    assert paged == reports.call_report(session, account, as_of=utc(2026, 1, 31)).rows
    with pytest.raises(InvalidInput, match="limit"):
        reports.call_report_page(session, scope, limit=0)


@pytest.fixture
def cli(sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """The reports commands, on the test database."""
    monkeypatch.setattr(leadbill.console, "sessions", lambda: sessions)
    with sessions.begin() as session:
        _brokerage(session)
    return CliRunner()


def test_r9_call_report_csv_parses_back(cli: CliRunner, tmp_path: Path) -> None:
    output = tmp_path / "report.csv"
    args = ["call-report", "brokerage", "--as-of", "2026-01-31T23:00Z", "--format", "csv"]
    result = cli.invoke(reports_app, [*args, "--output", str(output)])
    assert result.exit_code == 0, result.output
    with output.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["lead_id"] for row in rows] == ["L-001", "L-002", "L-003", "L-004", "L-005"]
    first = rows[0]
    assert first["seat"] == "s1"
    assert first["calls"] == "2"
    assert first["last_call_result"] == "answered"
    assert first["last_call_at"] == "2026-01-03T14:05:00Z"
    assert first["counted"] == "yes"
    assert first["reason"] == "called"
    assert first["counted_at"] == "2026-01-03T10:05:00Z"
    assert first["call_history"] == (
        "2026-01-03T10:05Z call_missed no_answer 0s; 2026-01-03T14:05Z call_answered answered 183s"
    )
    assert rows[2]["call_history"] == "2026-01-07T16:30:15Z call_attempted voicemail 31s"
    assert (rows[1]["counted"], rows[1]["reason"], rows[1]["call_history"]) == (
        "no",
        "never_called",
        "",
    )
    assert [row["counted"] for row in rows].count("yes") == 3

    stdout = cli.invoke(reports_app, args)
    assert stdout.exit_code == 0, stdout.output
    assert list(csv.DictReader(io.StringIO(stdout.output))) == rows


def test_r9_call_report_table_and_period_option(cli: CliRunner) -> None:
    result = cli.invoke(
        reports_app, ["call-report", "brokerage", "--as-of", "2026-02-20", "--period", "0"]
    )
    assert result.exit_code == 0, result.output
    assert "L-001" in result.output
    assert "X-900" not in result.output
    assert "5 leads, 3 counted in this period" in result.output
    february = cli.invoke(
        reports_app, ["call-report", "brokerage", "--as-of", "2026-02-20", "--format", "csv"]
    )
    assert [row["lead_id"] for row in csv.DictReader(io.StringIO(february.output))] == [
        "L-004",
        "L-005",
        "L-006",
    ]
    missing = cli.invoke(reports_app, ["call-report", "nobody", "--as-of", "2026-01-31"])
    assert missing.exit_code == 4


def test_r9_summary_csv_prints_money_with_currency(cli: CliRunner) -> None:
    result = cli.invoke(
        reports_app, ["summary", "brokerage", "--as-of", "2026-01-31T00:00Z", "--format", "csv"]
    )
    assert result.exit_code == 0, result.output
    fields = dict(csv.reader(io.StringIO(result.output)))
    assert fields["counted_leads"] == "3"
    assert fields["remaining_leads"] == "97"
    assert fields["fee"] == "1000.00 USD"
    assert fields["per_lead_rate"] == "9.50 USD"
    assert fields["overage_so_far"] == "0.00 USD"
    assert fields["projected_leads"] == "3"  # 3 leads in 30 of 31 days, whole leads down
    assert fields["projected_cost"] == "1000.00 USD"
    assert fields["seat:s1"] == "2"
    assert fields["seat:s2"] == "0"
    assert fields["seat:(no seat)"] == "1"
    table = cli.invoke(reports_app, ["summary", "brokerage", "--as-of", "2026-01-31T00:00Z"])
    assert table.exit_code == 0, table.output
    assert "1000.00 USD" in table.output


def test_r9_report_queries_do_not_grow_with_leads(session: Session) -> None:
    account = _brokerage(session)
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    def queries_of_report() -> int:
        session.expire_all()
        statements.clear()
        reports.call_report(session, account, as_of=utc(2026, 1, 31))
        return len(statements)

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        few = queries_of_report()
        session.expire_all()
        _many_leads(session, account, {"s1": 40, "s2": 40})
        many = queries_of_report()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    # The account, its subscription, plan (and its category prices) and segment, one page of
    # leads, all their events.
    assert many == few == 7


def test_r9_plan_without_counting_policy_counts_no_lead(session: Session) -> None:
    account = create_account(
        session,
        code="sales-team",
        name="Sales Team",
        currency="USD",
        time_zone="UTC",
        billing_email="billing@sales.test",
        as_of=START,
    )
    plan = create_plan(
        session,
        code="licence-monthly",
        name="Licence, monthly",
        currency="USD",
        interval="month",
        fee="0",
        included_leads=0,
        per_lead_rate="0",
        counting_policy="none",
        as_of=START,
    )
    create_subscription(session, account=account, plan=plan, start=START)
    _lead(
        session,
        account,
        "L-1",
        received_at=utc(2026, 1, 3),
        calls=[("call_answered", utc(2026, 1, 3, 1), "answered", 10)],
    )
    report = reports.call_report(session, account, as_of=utc(2026, 1, 20))
    (row,) = report.rows
    assert (row.counted, row.reason) == (False, "no_counting_policy")
    assert row.reason_text == REASON_TEXT[Reason.NO_COUNTING_POLICY]
    summary = reports.billing_summary(session, account, utc(2026, 1, 20))
    assert summary.counted_leads == report.counted_leads == 0
    assert summary.counted_by_seat == ()
    assert summary.projected_cost == Money(Decimal("0.00"), "USD")
