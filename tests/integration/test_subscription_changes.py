"""R7 plan changes inside a period and R19-R22 licences, on SQLite and PostgreSQL.

test_r7_worked_example reproduces docs/plan-changes.md to the cent.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from leadbill.accounts.models import Account
from leadbill.billing.models import Invoice
from leadbill.billing.service import run_billing
from leadbill.errors import Conflict, Forbidden, InvalidInput
from leadbill.plans.models import Plan
from leadbill.plans.service import create_plan
from leadbill.subscriptions import service
from leadbill.subscriptions.models import Subscription, SubscriptionSegment
from leadbill.subscriptions.service import create_subscription
from tests.conftest import utc
from tests.integration.test_billing_run import (
    add_leads,
    amounts,
    boundary_invoices,
    make_account,
    reload,
    spread,
)

APRIL = utc(2026, 4, 1)  # a 30-day period: [2026-04-01, 2026-05-01)
DAY_11 = utc(2026, 4, 11)
YEAR = utc(2026, 1, 1)


def ladder_plan(
    session: Session, code: str, fee: str, included: int, rate: str, **extra: object
) -> Plan:
    """A monthly package on the `agent` ladder."""
    options: dict[str, object] = {
        "interval": "month",
        "ladder": "agent",
        "counting_policy": "called",
        **extra,
    }
    return create_plan(
        session,
        code=code,
        name=f"Package {included}",
        currency="USD",
        fee=fee,
        included_leads=included,
        per_lead_rate=rate,
        as_of=YEAR,
        **options,  # type: ignore[arg-type]
    )


def on_package(session: Session, plan_code: str = "pkg-100") -> tuple[Account, Subscription]:
    small = ladder_plan(session, "pkg-100", "1000.00", 100, "9.50")
    large = ladder_plan(session, "pkg-200", "1800.00", 200, "8.00")
    account = make_account(session, "agent")
    plan = small if plan_code == "pkg-100" else large
    return account, create_subscription(session, account=account, plan=plan, start=APRIL)


def plan_code(session: Session, plan_id: int) -> str:
    return session.get_one(Plan, plan_id).code


def invoices_of(session: Session, subscription_id: int, kind: str) -> list[Invoice]:
    return list(
        session.scalars(
            select(Invoice)
            .where(Invoice.subscription_id == subscription_id, Invoice.kind == kind)
            .order_by(Invoice.id)
        )
    )


def test_r7_worked_example(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        account, subscription = on_package(session)
        add_leads(session, account, spread(APRIL, 120, timedelta(hours=1)), prefix="before")
        add_leads(session, account, spread(DAY_11, 150, timedelta(hours=1)), prefix="after")
        result = service.change_plan(
            session,
            subscription,
            session.scalars(select(Plan).filter_by(code="pkg-200")).one(),
            DAY_11,
        )
        assert result.immediate
        assert result.invoice is not None
        change = result.invoice
        assert (change.kind, change.issued_at, change.total) == (
            "change",
            DAY_11,
            Decimal("533.33"),
        )
        assert change.number is not None
        assert amounts(session, change) == [("proration", 1, Decimal("533.33"))]
        spans = [
            (plan_code(session, s.plan_id), s.start, s.end)
            for s in service.segments(session, subscription.id)
        ]
        assert spans == [("pkg-100", APRIL, DAY_11), ("pkg-200", DAY_11, utc(2026, 5, 1))]

    run_billing(sessions, utc(2026, 5, 1))

    with sessions.begin() as session:
        (invoice,) = boundary_invoices(session, subscription.id)
        assert amounts(session, invoice) == [
            ("overage", 20, Decimal("190.00")),
            ("overage", 17, Decimal("136.00")),
            ("plan_fee", 1, Decimal("1800.00")),
        ]
        assert invoice.total == Decimal("2126.00")
        stored = reload(session, subscription.id)
        assert plan_code(session, stored.plan_id) == "pkg-200"
        may = session.scalars(
            select(SubscriptionSegment).filter_by(subscription_id=subscription.id, period_index=1)
        ).one()
        assert plan_code(session, may.plan_id) == "pkg-200"


def test_r7_change_is_idempotent_per_instant(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        _account, subscription = on_package(session)
        large = session.scalars(select(Plan).filter_by(code="pkg-200")).one()
        first = service.change_plan(session, subscription, large, DAY_11)
        again = service.change_plan(session, subscription, large, DAY_11)
        assert again.replayed
        assert again.invoice is not None and first.invoice is not None
        assert again.invoice.id == first.invoice.id
        assert len(invoices_of(session, subscription.id, "change")) == 1


def test_r7_downgrade_waits_for_the_period_end(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        account, subscription = on_package(session, "pkg-200")
        add_leads(session, account, spread(APRIL, 210, timedelta(hours=2)))
        small = session.scalars(select(Plan).filter_by(code="pkg-100")).one()
        result = service.change_plan(session, subscription, small, DAY_11)
        assert not result.immediate
        assert result.invoice is None
        assert result.change.effective_at == utc(2026, 5, 1)
        assert plan_code(session, reload(session, subscription.id).plan_id) == "pkg-200"

    run_billing(sessions, utc(2026, 6, 1))

    with sessions.begin() as session:
        may, june = boundary_invoices(session, subscription.id)
        # April closes on pkg-200 (210 - 200 = 10 over at 8.00); May opens on pkg-100.
        assert amounts(session, may) == [
            ("overage", 10, Decimal("80.00")),
            ("plan_fee", 1, Decimal("1000.00")),
        ]
        assert amounts(session, june) == [
            ("overage", 0, Decimal("0.00")),
            ("plan_fee", 1, Decimal("1000.00")),
        ]
        stored = reload(session, subscription.id)
        assert (plan_code(session, stored.plan_id), stored.scheduled_plan_id) == ("pkg-100", None)
        assert invoices_of(session, subscription.id, "change") == []


def test_r7_downgrade_immediate_by_setting(
    sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEADBILL_DOWNGRADE_IMMEDIATE", "true")
    with sessions.begin() as session:
        account, subscription = on_package(session, "pkg-200")
        add_leads(session, account, spread(APRIL, 50, timedelta(hours=1)), prefix="before")
        add_leads(session, account, spread(DAY_11, 70, timedelta(hours=1)), prefix="after")
        small = session.scalars(select(Plan).filter_by(code="pkg-100")).one()
        result = service.change_plan(session, subscription, small, DAY_11)
        assert result.immediate
        # R7: the negative fee difference is a credit note, not an invoice.
        assert result.invoice is None
        assert [note.total for note in result.credit_notes] == [Decimal("533.33")]

    run_billing(sessions, utc(2026, 5, 1))

    with sessions.begin() as session:
        (invoice,) = boundary_invoices(session, subscription.id)
        # New allowance floor(100 x 2/3) = 66; 70 counted after the change: 4 over at 9.50.
        assert amounts(session, invoice) == [
            ("overage", 0, Decimal("0.00")),
            ("overage", 4, Decimal("38.00")),
            ("plan_fee", 1, Decimal("1000.00")),
            ("credit", 1, Decimal("-533.33")),
        ]


def test_r7_explicit_immediate_overrides_the_setting(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        _account, subscription = on_package(session, "pkg-200")
        small = session.scalars(select(Plan).filter_by(code="pkg-100")).one()
        result = service.change_plan(session, subscription, small, DAY_11, immediate=True)
        assert result.invoice is None
        assert [note.total for note in result.credit_notes] == [Decimal("533.33")]


def test_r7_refuses_plans_off_the_ladder(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        _account, subscription = on_package(session)
        other = ladder_plan(session, "team-500", "3000.00", 500, "7.00", ladder="team")
        yearly = ladder_plan(session, "pkg-y", "9000.00", 1200, "8.00", interval="year")
        with pytest.raises(InvalidInput, match="ladder"):
            service.change_plan(session, subscription, other, DAY_11)
        with pytest.raises(InvalidInput, match="interval"):
            service.change_plan(session, subscription, yearly, DAY_11)
        with pytest.raises(Conflict, match="run billing"):
            service.change_plan(session, subscription, yearly, utc(2026, 5, 2))


def licence_plan(session: Session, cap: int | None = 5) -> Plan:
    return create_plan(
        session,
        code="enterprise-annual",
        name="Enterprise annual",
        currency="USD",
        interval="year",
        fee="0",
        included_leads=0,
        per_lead_rate="0",
        counting_policy="none",
        licence_price="1200.00",
        licence_cap=cap,
        as_of=YEAR,
    )


def on_licences(session: Session, licences: int = 3) -> Subscription:
    account = make_account(session, "team")
    return create_subscription(
        session, account=account, plan=licence_plan(session), start=YEAR, licences=licences
    )


def test_r19_licences_charged_in_advance_each_period(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        subscription = on_licences(session, 3)
        (first,) = invoices_of(session, subscription.id, "period")
        assert amounts(session, first) == [("licences", 3, Decimal("3600.00"))]

    run_billing(sessions, utc(2027, 1, 1))

    with sessions.begin() as session:
        (renewal,) = boundary_invoices(session, subscription.id)
        assert amounts(session, renewal) == [("licences", 3, Decimal("3600.00"))]


def test_r20_added_licences_prorated_183_365(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        subscription = on_licences(session, 3)
        result = service.add_licences(session, subscription, 2, utc(2026, 7, 2), actor="customer")
        assert result.invoice is not None
        assert (result.invoice.kind, result.invoice.total) == ("licences", Decimal("1203.29"))
        assert amounts(session, result.invoice) == [("licences", 2, Decimal("1203.29"))]
        assert reload(session, subscription.id).licences == 5
        # The same request again (same instant) charges nothing more.
        again = service.add_licences(session, subscription, 2, utc(2026, 7, 2), actor="customer")
        assert again.replayed
        assert len(invoices_of(session, subscription.id, "licences")) == 1
        assert reload(session, subscription.id).licences == 5

    run_billing(sessions, utc(2027, 1, 1))

    with sessions.begin() as session:
        (renewal,) = boundary_invoices(session, subscription.id)
        assert amounts(session, renewal) == [("licences", 5, Decimal("6000.00"))]


def test_r21_removal_at_period_end_without_refund(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        subscription = on_licences(session, 3)
        result = service.remove_licences(
            session, subscription, 1, utc(2026, 7, 2), actor="customer"
        )
        assert result.invoice is None
        assert result.change.effective_at == utc(2027, 1, 1)
        stored = reload(session, subscription.id)
        assert (stored.licences, stored.scheduled_licences) == (3, 2)
        assert invoices_of(session, subscription.id, "licences") == []

    run_billing(sessions, utc(2027, 1, 1))

    with sessions.begin() as session:
        (renewal,) = boundary_invoices(session, subscription.id)
        assert amounts(session, renewal) == [("licences", 2, Decimal("2400.00"))]
        stored = reload(session, subscription.id)
        assert (stored.licences, stored.scheduled_licences) == (2, None)


def test_r22_customer_only_up_to_the_cap(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        subscription = on_licences(session, 3)
        with pytest.raises(Forbidden, match="staff"):
            service.add_licences(session, subscription, 3, utc(2026, 3, 1), actor="customer")
        with pytest.raises(Forbidden, match="staff"):
            service.preview_licence_change(
                session, subscription, 3, utc(2026, 3, 1), actor="customer"
            )
        service.add_licences(session, subscription, 2, utc(2026, 3, 1), actor="customer")
        staff = service.add_licences(session, subscription, 1, utc(2026, 3, 2), actor="staff")
        assert staff.invoice is not None
        # 1 x 1200 x 305/365 = 1002.739... -> 1002.74
        assert staff.invoice.total == Decimal("1002.74")
        assert reload(session, subscription.id).licences == 6


def test_r20_preview_writes_nothing(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        subscription = on_licences(session, 3)
        before = session.scalar(select(func.count(Invoice.id)))
        preview = service.preview_licence_change(
            session, subscription, 2, utc(2026, 7, 2), actor="customer"
        )
        assert preview.total_due_today.amount == Decimal("1203.29")
        assert preview.next_renewal_amount.amount == Decimal("6000.00")
        removal = service.preview_licence_change(
            session, subscription, -1, utc(2026, 7, 2), actor="customer"
        )
        assert removal.total_due_today.amount == Decimal("0.00")
        assert removal.next_renewal_amount.amount == Decimal("2400.00")
        assert session.scalar(select(func.count(Invoice.id))) == before
        stored = reload(session, subscription.id)
        assert (stored.licences, stored.scheduled_licences) == (3, None)


def test_r7_split_periods_rated_in_small_batches(sessions: sessionmaker[Session]) -> None:
    # Three agents, two of them upgraded at different instants; batches of two.
    with sessions.begin() as session:
        small = ladder_plan(session, "pkg-100", "1000.00", 100, "9.50")
        large = ladder_plan(session, "pkg-200", "1800.00", 200, "8.00")
        subscriptions = []
        for number, change_at in enumerate([DAY_11, None, utc(2026, 4, 16)]):
            account = make_account(session, f"agent{number}")
            subscription = create_subscription(session, account=account, plan=small, start=APRIL)
            add_leads(session, account, spread(APRIL, 110, timedelta(hours=1)), prefix="a")
            add_leads(session, account, spread(utc(2026, 4, 20), 160, timedelta(hours=1)))
            if change_at is not None:
                service.change_plan(session, subscription, large, change_at)
            subscriptions.append(subscription.id)

    run_billing(sessions, utc(2026, 5, 1), batch_size=2)

    with sessions.begin() as session:
        totals = [boundary_invoices(session, sid)[0] for sid in subscriptions]
        # Day 11: allowance 133, 160 after -> 27 x 8.00; 110 before -> 10 x 9.50.
        assert amounts(session, totals[0]) == [
            ("overage", 10, Decimal("95.00")),
            ("overage", 27, Decimal("216.00")),
            ("plan_fee", 1, Decimal("1800.00")),
        ]
        # No change: 270 counted, 170 over at 9.50.
        assert amounts(session, totals[1]) == [
            ("overage", 170, Decimal("1615.00")),
            ("plan_fee", 1, Decimal("1000.00")),
        ]
        # Day 16 leaves 15/30: allowance 100, 160 after -> 60 x 8.00.
        assert amounts(session, totals[2]) == [
            ("overage", 10, Decimal("95.00")),
            ("overage", 60, Decimal("480.00")),
            ("plan_fee", 1, Decimal("1800.00")),
        ]
        (change,) = invoices_of(session, subscriptions[2], "change")
        assert change.total == Decimal("400.00")  # 800.00 x 15/30


def test_r22_beyond_the_cap_only_staff_change_the_count(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        subscription = on_licences(session, 6)  # set by staff, beyond the cap of 5
        with pytest.raises(Forbidden, match="operator staff"):
            service.remove_licences(session, subscription, 1, utc(2026, 3, 1), actor="customer")
        service.remove_licences(session, subscription, 1, utc(2026, 3, 1), actor="staff")
        assert reload(session, subscription.id).scheduled_licences == 5


def test_r19_licence_plan_changes_plan_at_the_period_end(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        options = {"interval": "year", "counting_policy": "none", "ladder": "seats"}
        basic = ladder_plan(session, "basic", "0", 0, "0", licence_price="600.00", **options)
        pro = ladder_plan(session, "pro", "100.00", 0, "0", licence_price="900.00", **options)
        account = make_account(session, "team")
        subscription = create_subscription(
            session, account=account, plan=basic, start=YEAR, licences=2
        )
        with pytest.raises(InvalidInput, match="period end"):
            service.change_plan(session, subscription, pro, utc(2026, 6, 1))
        result = service.change_plan(session, subscription, pro, utc(2026, 6, 1), immediate=False)
        assert result.invoice is None

    run_billing(sessions, utc(2027, 1, 1))

    with sessions.begin() as session:
        (renewal,) = boundary_invoices(session, subscription.id)
        assert amounts(session, renewal) == [
            ("plan_fee", 1, Decimal("100.00")),
            ("licences", 2, Decimal("1800.00")),
        ]
