"""Usage thresholds: 80 % and 100 % of the included leads, recorded once per period."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from leadbill.accounts.models import Account
from leadbill.billing.service import run_billing
from leadbill.reports.commands import summary_rows
from leadbill.reports.service import billing_summary
from leadbill.usage.models import UsageThresholdCrossing
from leadbill.usage.service import crossings_of, record_threshold_crossings
from tests.conftest import utc
from tests.integration.usage_fixtures import ingest, lead_rows, plan, subscribed

INGESTED_AT = utc(2026, 2, 1)


def _called(customer: Account, number: int, at: datetime) -> list[dict[str, str]]:
    return lead_rows(customer, f"L-{number:02d}", at - timedelta(minutes=30), [at])


def _stored(session: Session) -> list[tuple[int, int, int, datetime]]:
    table = UsageThresholdCrossing
    rows = session.execute(
        select(table.period_index, table.threshold, table.leads, table.crossed_at).order_by(
            table.period_index, table.threshold
        )
    )
    return [tuple(row) for row in rows]  # type: ignore[misc]


def test_thresholds_recorded_once_at_80_and_100_percent_with_the_crossing_instants(
    session: Session,
) -> None:
    customer = subscribed(session, "agent", plan(session, "pkg-10", "500.00", 10, "9.50"))
    # Seven leads called on January 3..9: below 80 % of 10.
    first = [row for n in range(1, 8) for row in _called(customer, n, utc(2026, 1, 2 + n, 9))]
    ingest(session, first, INGESTED_AT)
    assert _stored(session) == []
    # The 8th counted lead (January 12, 15:00) reaches 80 %; a never-called lead does not count.
    second = _called(customer, 8, utc(2026, 1, 12, 15)) + lead_rows(
        customer, "L-uncalled", utc(2026, 1, 12)
    )
    ingest(session, second, INGESTED_AT)
    assert _stored(session) == [(0, 80, 8, utc(2026, 1, 12, 15))]
    # Re-sending the same events records nothing new, and neither does a rerun.
    again = ingest(session, first + second, INGESTED_AT)
    assert again.accepted == 0
    assert record_threshold_crossings(session, [customer.id], INGESTED_AT) == []
    # Leads 9..12 arrive in one chunk, out of order: 100 % is the 10th in counting order.
    late = [
        *_called(customer, 12, utc(2026, 1, 28, 8)),
        *_called(customer, 10, utc(2026, 1, 20, 10)),
        *_called(customer, 11, utc(2026, 1, 20, 10)),  # same instant: lead id decides
        *_called(customer, 9, utc(2026, 1, 19, 11)),
    ]
    ingest(session, late, INGESTED_AT)
    assert _stored(session) == [
        (0, 80, 8, utc(2026, 1, 12, 15)),
        (0, 100, 10, utc(2026, 1, 20, 10)),
    ]
    (_eighty, hundred) = crossings_of(session, customer_subscription(session, customer), 0)
    assert hundred.external_id == "L-10"
    assert record_threshold_crossings(session, [customer.id], INGESTED_AT) == []


def customer_subscription(session: Session, customer: Account) -> int:
    from leadbill.subscriptions.service import current_subscription

    return current_subscription(session, customer).id


def test_thresholds_newly_recorded_are_returned_once(session: Session) -> None:
    customer = subscribed(session, "agent", plan(session, "pkg-5", "250.00", 5, "9.50"))
    rows = [row for n in range(1, 6) for row in _called(customer, n, utc(2026, 1, 10, n))]
    # Ingested "before" the calls happened: nothing has crossed yet at that instant.
    ingest(session, rows, utc(2026, 1, 10))
    assert _stored(session) == []
    new = record_threshold_crossings(session, [customer.id], INGESTED_AT)
    # 80 % of 5 is the 4th lead; 100 % the 5th.
    assert [(c.threshold, c.leads, c.external_id, c.crossed_at) for c in new] == [
        (80, 4, "L-04", utc(2026, 1, 10, 4)),
        (100, 5, "L-05", utc(2026, 1, 10, 5)),
    ]
    assert record_threshold_crossings(session, [customer.id], INGESTED_AT) == []
    count = session.scalar(select(func.count(UsageThresholdCrossing.id)))
    assert count == 2


def test_thresholds_per_period_and_none_without_included_leads(session: Session) -> None:
    customer = subscribed(session, "agent", plan(session, "pkg-5", "250.00", 5, "9.50"))
    payg = subscribed(session, "payg", plan(session, "payg", "0.00", 0, "12.00"))
    rows = [row for n in range(1, 5) for row in _called(customer, n, utc(2026, 1, 10, n))]
    rows += [row for n in range(1, 9) for row in _called(payg, n, utc(2026, 1, 10, n))]
    ingest(session, rows, INGESTED_AT)
    assert _stored(session) == [(0, 80, 4, utc(2026, 1, 10, 4))]
    # February is a new period with its own thresholds; the billing run has not opened it
    # yet, so ingestion follows the subscription's calendar past the stored period.
    february = [row for n in range(21, 25) for row in _called(customer, n, utc(2026, 2, 3, n - 20))]
    ingest(session, february, utc(2026, 3, 1))
    assert _stored(session) == [
        (0, 80, 4, utc(2026, 1, 10, 4)),
        (1, 80, 4, utc(2026, 2, 3, 4)),
    ]


def test_summary_records_crossings_that_ingestion_could_not_yet(
    sessions: object,
) -> None:
    from sqlalchemy.orm import sessionmaker

    assert isinstance(sessions, sessionmaker)
    with sessions() as session, session.begin():
        customer = subscribed(session, "agent", plan(session, "pkg-5", "250.00", 5, "9.50"))
        # Events sent ahead of the ingestion instant: they had not crossed yet when ingested.
        rows = [row for n in range(1, 6) for row in _called(customer, n, utc(2026, 2, 10, n))]
        ingest(session, rows, utc(2026, 2, 10))
        assert _stored(session) == []
    run_billing(sessions, utc(2026, 2, 1))
    with sessions() as session, session.begin():
        summary = billing_summary(session, customer, utc(2026, 2, 20))
        flags = [
            (f.threshold, f.leads, f.reached, f.crossed_at, f.lead_id) for f in summary.thresholds
        ]
        assert flags == [
            (80, 4, True, utc(2026, 2, 10, 4), "L-04"),
            (100, 5, True, utc(2026, 2, 10, 5), "L-05"),
        ]
        assert ("threshold_80", "reached at 2026-02-10T04:00:00Z (lead L-04, 4 leads)") in (
            summary_rows(summary)
        )
        assert _stored(session) == [
            (1, 80, 4, utc(2026, 2, 10, 4)),
            (1, 100, 5, utc(2026, 2, 10, 5)),
        ]
    with sessions() as session, session.begin():
        again = billing_summary(session, customer, utc(2026, 2, 21))
        assert [f.crossed_at for f in again.thresholds] == [
            utc(2026, 2, 10, 4),
            utc(2026, 2, 10, 5),
        ]
        assert len(_stored(session)) == 2


def test_summary_flags_not_reached(session: Session) -> None:
    customer = subscribed(session, "agent", plan(session, "pkg-10", "500.00", 10, "9.50"))
    rows = [row for n in range(1, 8) for row in _called(customer, n, utc(2026, 1, 3, n))]
    ingest(session, rows, utc(2026, 1, 15))
    summary = billing_summary(session, customer, utc(2026, 1, 15))
    assert [(f.threshold, f.leads, f.reached, f.crossed_at) for f in summary.thresholds] == [
        (80, 8, False, None),
        (100, 10, False, None),
    ]
    assert ("threshold_80", "not reached (8 leads)") in summary_rows(summary)
