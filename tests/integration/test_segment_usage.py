"""A period split by an upgrade (R7): summary, thresholds and explain agree with the invoice.

The worked example of docs/plan-changes.md: pkg-100 (1000.00, 100 leads, 9.50) to
pkg-200 (1800.00, 200 leads, 8.00) at 2026-04-11, 120 leads counted before and 150
after. The billing run gives the old segment the full 100 leads and the new one
200 x 2/3 = 133; every figure below is checked against that, to the cent.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from leadbill.accounts.models import Account
from leadbill.billing.explain import explain_invoice, iter_line_leads
from leadbill.billing.models import Invoice
from leadbill.billing.service import run_billing
from leadbill.plans.models import Plan
from leadbill.reports.commands import summary_rows
from leadbill.reports.service import billing_summary
from leadbill.subscriptions import service
from leadbill.subscriptions.models import Subscription
from leadbill.usage.models import UsageThresholdCrossing
from tests.conftest import utc
from tests.integration.test_subscription_changes import APRIL, DAY_11, on_package
from tests.integration.usage_fixtures import ingest, lead_rows

MAY = utc(2026, 5, 1)
# When the dialler sends each group: after its last call (an event may not be dated
# more than a day after it is received), before the upgrade and before May.
RECEIVED_BEFORE = APRIL + timedelta(days=6)
RECEIVED_AFTER = DAY_11 + timedelta(days=7)


def _called(account: Account, prefix: str, first: datetime, count: int) -> list[dict[str, str]]:
    """`count` leads called an hour apart from `first` (received five minutes before)."""
    rows: list[dict[str, str]] = []
    for number in range(count):
        at = first + timedelta(hours=number)
        rows += lead_rows(account, f"{prefix}-{number:03d}", at - timedelta(minutes=5), [at])
    return rows


def _upgrade(session: Session, subscription: Subscription) -> None:
    large = session.scalars(select(Plan).filter_by(code="pkg-200")).one()
    assert service.change_plan(session, subscription, large, DAY_11).immediate


def _crossings(session: Session) -> list[tuple[int, int, int, datetime]]:
    table = UsageThresholdCrossing
    rows = session.execute(
        select(table.period_index, table.threshold, table.leads, table.crossed_at).order_by(
            table.threshold
        )
    )
    return [(int(p), int(t), int(n), at) for p, t, n, at in rows]


def test_r7_summary_rates_each_segment_as_the_invoice_does(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        account, subscription = on_package(session)
        ingest(session, _called(account, "before", APRIL, 120), RECEIVED_BEFORE)
        _upgrade(session, subscription)
        ingest(session, _called(account, "after", DAY_11, 150), RECEIVED_AFTER)
    with sessions.begin() as session:
        account = session.scalars(select(Account).filter_by(code="agent")).one()
        summary = billing_summary(session, account, utc(2026, 4, 30))
        assert summary.plan_code == "pkg-200"
        assert [
            (s.plan_code, s.counted_leads, s.allowance, s.overage_leads, s.overage.amount)
            for s in summary.segments
        ] == [
            ("pkg-100", 120, 100, 20, Decimal("190.00")),
            ("pkg-200", 150, 133, 17, Decimal("136.00")),
        ]
        assert (summary.counted_leads, summary.included_leads, summary.remaining_leads) == (
            270,
            233,
            0,
        )
        assert (summary.overage_leads, summary.overage_so_far.amount) == (37, Decimal("326.00"))
        # The new segment's pace (150 leads in 19 of its 20 days) gives 157 leads, 24 over
        # at 8.00; April's cost is the fee, the change invoice and both overage lines.
        assert summary.projected_overage.amount == Decimal("382.00")
        assert summary.projected_cost.amount == Decimal("1915.33")
        rows = dict(summary_rows(summary))
        assert rows["segment:2026-04-11T00:00:00Z"] == (
            "pkg-200 to 2026-05-01T00:00:00Z: 150 counted, 133 included, 17 over (136.00 USD)"
        )
        # Both thresholds were first reached inside the old segment (100 leads).
        assert _crossings(session) == [
            (0, 80, 80, APRIL + timedelta(hours=79)),
            (0, 100, 100, APRIL + timedelta(hours=99)),
        ]
    run_billing(sessions, MAY)
    with sessions.begin() as session:
        invoice = session.scalars(
            select(Invoice)
            .where(Invoice.subscription_id == subscription.id)
            .filter_by(boundary_index=1)
        ).one()
        assert invoice.total == Decimal("2126.00")
        # 190.00 + 136.00: what the summary said the overage would be.
        assert sum(
            line.amount.amount
            for line in explain_invoice(session, str(invoice.number)).lines
            if line.kind == "overage"
        ) == Decimal("326.00")


def test_r7_explain_lists_each_segment_leads_and_its_overage(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        account, subscription = on_package(session)
        ingest(session, _called(account, "before", APRIL, 120), RECEIVED_BEFORE)
        _upgrade(session, subscription)
        ingest(session, _called(account, "after", DAY_11, 150), RECEIVED_AFTER)
    run_billing(sessions, MAY)
    with sessions.begin() as session:
        number = session.scalar(
            select(Invoice.number).where(
                Invoice.subscription_id == subscription.id, Invoice.boundary_index == 1
            )
        )
        old, new, fee = explain_invoice(session, str(number)).lines
        assert (old.kind, old.quantity, old.amount.amount) == ("overage", 20, Decimal("190.00"))
        assert (old.counted_leads, old.allowance) == (120, 100)
        assert "under plan pkg-100, 100 included" in old.explanation
        old_leads = list(iter_line_leads(session, old))
        # after-000 was received before the change but counts (is called) after it.
        assert len(old_leads) == 121
        assert [lead.lead_id for lead in old_leads if not lead.counted] == ["after-000"]
        assert [lead.lead_id for lead in old_leads if lead.overage] == [
            f"before-{n:03d}" for n in range(100, 120)
        ]
        assert (new.kind, new.quantity, new.amount.amount) == ("overage", 17, Decimal("136.00"))
        assert (new.counted_leads, new.allowance) == (150, 133)
        assert "under plan pkg-200, 133 included" in new.explanation
        new_leads = list(iter_line_leads(session, new))
        assert {lead.lead_id[:5] for lead in new_leads} == {"after"}
        assert [lead.lead_id for lead in new_leads if lead.overage] == [
            f"after-{n:03d}" for n in range(133, 150)
        ]
        assert fee.scope is None and fee.explanation.endswith("no lead is charged on this line")
        (change,) = session.scalars(
            select(Invoice.number).where(
                Invoice.subscription_id == subscription.id, Invoice.kind == "change"
            )
        )
        (proration,) = explain_invoice(session, str(change)).lines
        assert proration.amount.amount == Decimal("533.33")
        assert proration.scope is None
        assert "no lead is charged on this line" in proration.explanation


def test_r7_thresholds_follow_the_new_segment_allowance(session: Session) -> None:
    account, subscription = on_package(session)
    # 50 leads before the upgrade: below 80 % of the old segment's 100.
    ingest(session, _called(account, "before", APRIL, 50), RECEIVED_BEFORE)
    assert _crossings(session) == []
    _upgrade(session, subscription)
    # The new segment has 133 leads: 80 % is its 107th lead (not the period's 160th).
    ingest(session, _called(account, "after", DAY_11, 110), MAY)
    assert _crossings(session) == [(0, 80, 107, DAY_11 + timedelta(hours=106))]
    summary = billing_summary(session, account, utc(2026, 4, 20))
    flags = [(f.threshold, f.leads, f.reached, f.lead_id) for f in summary.thresholds]
    assert flags == [(80, 107, True, "after-106"), (100, 133, False, None)]
    assert summary.remaining_leads == 133 - 110


def test_r7_thresholds_of_a_new_segment_below_the_new_plan_s_full_threshold(
    session: Session,
) -> None:
    account, subscription = on_package(session)
    _upgrade(session, subscription)
    # 110 leads in the period: short of 80 % of pkg-200's full 200 leads (160), but
    # past 80 % of the new segment's 133 (the 107th lead): the crossing is recorded
    # by the ingestion itself.
    ingest(session, _called(account, "after", DAY_11, 110), MAY)
    assert _crossings(session) == [(0, 80, 107, DAY_11 + timedelta(hours=106))]


def test_r7_thresholds_of_a_period_after_a_scheduled_downgrade(session: Session) -> None:
    account, subscription = on_package(session, "pkg-200")
    small = session.scalars(select(Plan).filter_by(code="pkg-100")).one()
    assert not service.change_plan(session, subscription, small, DAY_11).immediate
    # May has not been opened by a billing run: it will open on pkg-100 (100 leads).
    ingest(session, _called(account, "may", MAY, 85), utc(2026, 5, 20))
    assert _crossings(session) == [(1, 80, 80, MAY + timedelta(hours=79))]
