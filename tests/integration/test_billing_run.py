"""The billing run on the prepaid lead package model (seeds 000/001, R1–R6).

Leads are inserted directly with their `first_called_at` (the column ingestion
maintains); every amount is checked to the cent on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from leadbill.accounts.models import Account
from leadbill.accounts.service import create_account
from leadbill.billing.invoices import finalize_invoice, invoice_lines
from leadbill.billing.models import Invoice, InvoiceLine
from leadbill.billing.service import run_billing
from leadbill.errors import InvalidInput
from leadbill.leads.models import Lead
from leadbill.plans.models import Plan
from leadbill.plans.service import create_plan
from leadbill.seats.service import create_seat
from leadbill.subscriptions.models import Subscription, SubscriptionPeriod
from leadbill.subscriptions.service import cancel_subscription, create_subscription
from tests.conftest import utc

START = utc(2026, 1, 1)


def make_plan(
    session: Session,
    code: str = "pkg-100",
    *,
    fee: str = "1000.00",
    included: int = 100,
    rate: str = "9.50",
) -> Plan:
    """A monthly prepaid package with the `called` counting policy."""
    return create_plan(
        session,
        code=code,
        name=f"Package {included}",
        currency="USD",
        interval="month",
        fee=fee,
        included_leads=included,
        per_lead_rate=rate,
        seat_fee="57.00",
        counting_policy="called",
        as_of=START,
    )


def make_account(session: Session, code: str = "acme", time_zone: str = "UTC") -> Account:
    """A USD account."""
    return create_account(
        session,
        code=code,
        name=code.title(),
        currency="USD",
        time_zone=time_zone,
        billing_email=f"billing@{code}.test",
        as_of=START,
    )


def subscribed(
    session: Session,
    code: str = "acme",
    *,
    start: datetime = START,
    time_zone: str = "UTC",
    plan: Plan | None = None,
) -> tuple[Account, Subscription]:
    """An account subscribed from `start` (the boundary-0 fee invoice is issued)."""
    account = make_account(session, code, time_zone)
    plan = plan or session.scalar(select(Plan).where(Plan.code == "pkg-100")) or make_plan(session)
    subscription = create_subscription(session, account=account, plan=plan, start=start)
    return account, subscription


def add_leads(
    session: Session,
    account: Account,
    called_at: Sequence[datetime | None],
    *,
    seat_id: int | None = None,
    prefix: str = "L",
) -> None:
    """Test data: leads of the account, each first called at the given instant (or never)."""
    existing = session.scalar(select(func.count(Lead.id)).where(Lead.account_id == account.id))
    session.execute(
        insert(Lead),
        [
            {
                "account_id": account.id,
                "external_id": f"{prefix}-{existing + number}",
                "seat_id": seat_id,
                "received_at": (at or START) - timedelta(minutes=5),
                "first_called_at": at,
                "created_at": START,
            }
            for number, at in enumerate(called_at)
        ],
    )


def spread(first: datetime, count: int, step: timedelta = timedelta(hours=3)) -> list[datetime]:
    """`count` instants from `first`, `step` apart."""
    return [first + step * number for number in range(count)]


def boundary_invoices(session: Session, subscription_id: int) -> list[Invoice]:
    """The subscription's invoices issued by billing runs (boundary 1 onwards)."""
    return list(
        session.scalars(
            select(Invoice)
            .where(Invoice.subscription_id == subscription_id, Invoice.boundary_index > 0)
            .order_by(Invoice.boundary_index)
        )
    )


def amounts(session: Session, invoice: Invoice) -> list[tuple[str, int, Decimal]]:
    """(kind, quantity, amount) of each line, in order."""
    return [(line.kind, line.quantity, line.amount) for line in invoice_lines(session, invoice.id)]


def reload(session: Session, subscription_id: int) -> Subscription:
    """The subscription as stored now."""
    return session.execute(
        select(Subscription).where(Subscription.id == subscription_id),
        execution_options={"populate_existing": True},
    ).scalar_one()


def test_r1_fee_invoiced_at_period_start(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        _, subscription = subscribed(session)
        first = session.scalars(
            select(Invoice).where(Invoice.subscription_id == subscription.id)
        ).one()
        assert first.issued_at == START
        assert amounts(session, first) == [("plan_fee", 1, Decimal("1000.00"))]

    result = run_billing(sessions, utc(2026, 2, 1))

    assert result.invoices_issued == 1
    with sessions.begin() as session:
        (invoice,) = boundary_invoices(session, subscription.id)
        assert invoice.issued_at == utc(2026, 2, 1)
        assert invoice.status == "open"
        assert invoice.total == Decimal("1000.00")
        fee = invoice_lines(session, invoice.id)[1]
        assert fee.kind == "plan_fee"
        assert (fee.period_start, fee.period_end) == (utc(2026, 2, 1), utc(2026, 3, 1))
        assert fee.amount == Decimal("1000.00")
        stored = reload(session, subscription.id)
        assert stored.current_period_index == 1
        assert stored.current_period_start == utc(2026, 2, 1)
        assert stored.current_period_end == utc(2026, 3, 1)


def test_period_not_billed_before_it_ends(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        _, subscription = subscribed(session)
    result = run_billing(sessions, utc(2026, 1, 31, 23, 59, 59))
    assert result.invoices_issued == 0
    with sessions.begin() as session:
        assert boundary_invoices(session, subscription.id) == []


def test_r2_only_called_leads_count(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        account, subscription = subscribed(session)
        add_leads(session, account, spread(utc(2026, 1, 2), 130))
        add_leads(session, account, [None] * 40, prefix="never-called")
        # Received in January but first called in February: counts in February.
        add_leads(session, account, spread(utc(2026, 2, 3), 15), prefix="called-later")

    run_billing(sessions, utc(2026, 2, 1))

    with sessions.begin() as session:
        (invoice,) = boundary_invoices(session, subscription.id)
        overage = invoice_lines(session, invoice.id)[0]
        assert overage.kind == "overage"
        assert overage.quantity == 30
        assert overage.amount == Decimal("285.00")
        assert "130 leads counted" in overage.description


def test_r3_usage_summed_across_seats(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        account, subscription = subscribed(session)
        seat_ids = []
        for code in ("north", "south", "idle"):
            seat, _fee = create_seat(
                session,
                account=account,
                code=code,
                primary_name=f"Agent {code}",
                primary_email=f"{code}@acme.test",
                as_of=START,
            )
            seat_ids.append(seat.id)
        add_leads(session, account, spread(utc(2026, 1, 2), 70), seat_id=seat_ids[0], prefix="n")
        add_leads(session, account, spread(utc(2026, 1, 3), 45), seat_id=seat_ids[1], prefix="s")
        add_leads(session, account, spread(utc(2026, 1, 4), 15), prefix="unassigned")
        other, _ = subscribed(session, "other")
        add_leads(session, other, spread(utc(2026, 1, 2), 90))

    run_billing(sessions, utc(2026, 2, 1))

    with sessions.begin() as session:
        (invoice,) = boundary_invoices(session, subscription.id)
        assert amounts(session, invoice)[0] == ("overage", 30, Decimal("285.00"))
        assert invoice.total == Decimal("1285.00")


def test_r4_overage_at_plan_rate(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        account, subscription = subscribed(session)
        add_leads(session, account, spread(utc(2026, 1, 1), 130))

    run_billing(sessions, utc(2026, 2, 1))

    with sessions.begin() as session:
        (invoice,) = boundary_invoices(session, subscription.id)
        overage = invoice_lines(session, invoice.id)[0]
        assert overage.unit_price == Decimal("9.50")
        assert (overage.period_start, overage.period_end) == (START, utc(2026, 2, 1))
        assert amounts(session, invoice) == [
            ("overage", 30, Decimal("285.00")),
            ("plan_fee", 1, Decimal("1000.00")),
        ]
        assert invoice.total == Decimal("1285.00")


@pytest.mark.parametrize(("called", "overage"), [(100, "0.00"), (101, "9.50"), (99, "0.00")])
def test_r4_no_other_penalty(sessions: sessionmaker[Session], called: int, overage: str) -> None:
    with sessions.begin() as session:
        account, subscription = subscribed(session)
        add_leads(session, account, spread(utc(2026, 1, 2), called))

    run_billing(sessions, utc(2026, 2, 1))

    with sessions.begin() as session:
        (invoice,) = boundary_invoices(session, subscription.id)
        assert [kind for kind, _, _ in amounts(session, invoice)] == ["overage", "plan_fee"]
        assert invoice.total == Decimal("1000.00") + Decimal(overage)


def test_r5_unused_leads_expire(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        account, subscription = subscribed(session)
        add_leads(session, account, spread(utc(2026, 1, 2), 60), prefix="jan")
        add_leads(session, account, spread(utc(2026, 2, 2), 120), prefix="feb")

    run_billing(sessions, utc(2026, 3, 1))

    with sessions.begin() as session:
        january, february = boundary_invoices(session, subscription.id)
        # 40 unused January leads give no credit and do not roll over into February.
        assert amounts(session, january) == [
            ("overage", 0, Decimal("0.00")),
            ("plan_fee", 1, Decimal("1000.00")),
        ]
        assert amounts(session, february)[0] == ("overage", 20, Decimal("190.00"))
        assert february.total == Decimal("1190.00")


def test_r6_auto_renewal(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        _, subscription = subscribed(session)

    result = run_billing(sessions, utc(2026, 4, 15))

    assert result.invoices_issued == 3
    assert result.subscriptions_renewed == 3
    assert result.subscriptions_ended == 0
    with sessions.begin() as session:
        invoices = boundary_invoices(session, subscription.id)
        assert [invoice.issued_at for invoice in invoices] == [
            utc(2026, 2, 1),
            utc(2026, 3, 1),
            utc(2026, 4, 1),
        ]
        assert all(invoice.total == Decimal("1000.00") for invoice in invoices)
        stored = reload(session, subscription.id)
        assert stored.status == "active"
        assert stored.current_period_index == 3
        assert (stored.current_period_start, stored.current_period_end) == (
            utc(2026, 4, 1),
            utc(2026, 5, 1),
        )
        periods = session.scalars(
            select(SubscriptionPeriod)
            .where(SubscriptionPeriod.subscription_id == subscription.id)
            .order_by(SubscriptionPeriod.period_index)
        ).all()
        assert [(p.period_index, p.start) for p in periods] == [
            (0, utc(2026, 1, 1)),
            (1, utc(2026, 2, 1)),
            (2, utc(2026, 3, 1)),
            (3, utc(2026, 4, 1)),
        ]


def test_r6_cancel_final_invoice_carries_overage(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        account, subscription = subscribed(session)
        add_leads(session, account, spread(utc(2026, 1, 2), 130))
        cancel_subscription(session, subscription, utc(2026, 1, 20))

    result = run_billing(sessions, utc(2026, 3, 15))

    assert (result.invoices_issued, result.subscriptions_ended) == (1, 1)
    assert result.subscriptions_renewed == 0
    with sessions.begin() as session:
        (final,) = boundary_invoices(session, subscription.id)
        assert final.issued_at == utc(2026, 2, 1)
        assert amounts(session, final) == [("overage", 30, Decimal("285.00"))]
        assert final.total == Decimal("285.00")
        stored = reload(session, subscription.id)
        assert stored.status == "ended"
        assert stored.ended_at == utc(2026, 2, 1)
    later = run_billing(sessions, utc(2027, 1, 1))
    assert later.invoices_issued == 0
    with sessions.begin() as session:
        assert len(boundary_invoices(session, subscription.id)) == 1


def test_r6_cancel_during_catch_up_ends_at_end_of_the_period_it_was_made_in(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        account, subscription = subscribed(session)
        add_leads(session, account, spread(utc(2026, 3, 2), 104))
        # Billing has not run since January; the customer cancels on March 20.
        cancel_subscription(session, subscription, utc(2026, 3, 20))

    run_billing(sessions, utc(2026, 6, 1))

    with sessions.begin() as session:
        invoices = boundary_invoices(session, subscription.id)
        assert [invoice.issued_at for invoice in invoices] == [
            utc(2026, 2, 1),
            utc(2026, 3, 1),
            utc(2026, 4, 1),
        ]
        assert [invoice.total for invoice in invoices] == [
            Decimal("1000.00"),
            Decimal("1000.00"),
            Decimal("38.00"),
        ]
        stored = reload(session, subscription.id)
        assert (stored.status, stored.ended_at) == ("ended", utc(2026, 4, 1))


def test_r6_cancel_without_overage_ends_with_zero_invoice(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        account, subscription = subscribed(session)
        add_leads(session, account, spread(utc(2026, 1, 2), 80))
        cancel_subscription(session, subscription, utc(2026, 1, 20))

    run_billing(sessions, utc(2026, 2, 1))

    with sessions.begin() as session:
        (final,) = boundary_invoices(session, subscription.id)
        assert amounts(session, final) == [("overage", 0, Decimal("0.00"))]
        # Nothing is due, so it is paid at once.
        assert (final.status, final.paid_at) == ("paid", utc(2026, 2, 1))


def test_month_end_anchor_clamps(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        account, subscription = subscribed(session, start=utc(2026, 1, 31))
        add_leads(session, account, spread(utc(2026, 2, 27), 110, timedelta(minutes=30)))

    run_billing(sessions, utc(2026, 5, 1))

    with sessions.begin() as session:
        invoices = boundary_invoices(session, subscription.id)
        assert [invoice.issued_at for invoice in invoices] == [
            utc(2026, 2, 28),
            utc(2026, 3, 31),
            utc(2026, 4, 30),
        ]
        # 110 leads from Feb 27 00:00, every 30 minutes: 48 before Feb 28, 62 after.
        assert [amounts(session, invoice)[0][1] for invoice in invoices] == [0, 0, 0]
        fees = [invoice_lines(session, invoice.id)[1] for invoice in invoices]
        assert [(fee.period_start, fee.period_end) for fee in fees] == [
            (utc(2026, 2, 28), utc(2026, 3, 31)),
            (utc(2026, 3, 31), utc(2026, 4, 30)),
            (utc(2026, 4, 30), utc(2026, 5, 31)),
        ]
        assert "48 leads counted" in invoice_lines(session, invoices[0].id)[0].description
        assert "62 leads counted" in invoice_lines(session, invoices[1].id)[0].description


def test_dst_time_zone_boundaries_at_local_midnight(sessions: sessionmaker[Session]) -> None:
    new_york_march = utc(2026, 3, 1, 5)  # midnight EST
    with sessions.begin() as session:
        account, subscription = subscribed(
            session, start=new_york_march, time_zone="America/New_York"
        )
        # 101 leads before local midnight of April 1 (04:00 UTC, EDT) and 1 exactly at it.
        last_march = utc(2026, 4, 1, 3, 59, 59)
        add_leads(session, account, [last_march - timedelta(minutes=n) for n in range(101)])
        add_leads(session, account, [utc(2026, 4, 1, 4)], prefix="april")

    run_billing(sessions, utc(2026, 12, 2))

    with sessions.begin() as session:
        invoices = boundary_invoices(session, subscription.id)
        issued = [invoice.issued_at for invoice in invoices]
        assert issued[0] == utc(2026, 4, 1, 4)  # EDT: UTC-4
        assert issued[7] == utc(2026, 11, 1, 4)  # still EDT at midnight Nov 1
        assert issued[8] == utc(2026, 12, 1, 5)  # EST: UTC-5
        assert len(invoices) == 9
        assert amounts(session, invoices[0])[0] == ("overage", 1, Decimal("9.50"))
        assert "1 lead counted" in invoice_lines(session, invoices[1].id)[0].description


def test_lead_at_boundary_instant_belongs_to_later_period(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        account, subscription = subscribed(session)
        add_leads(session, account, spread(utc(2026, 1, 2), 100))
        add_leads(session, account, [utc(2026, 2, 1)], prefix="edge")
        add_leads(session, account, [utc(2026, 1, 31, 23, 59, 59, 999999)], prefix="last")

    run_billing(sessions, utc(2026, 3, 1))

    with sessions.begin() as session:
        january, february = boundary_invoices(session, subscription.id)
        assert amounts(session, january)[0] == ("overage", 1, Decimal("9.50"))
        assert "101 leads counted" in invoice_lines(session, january.id)[0].description
        assert "1 lead counted" in invoice_lines(session, february.id)[0].description


def test_multi_period_catch_up(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        account, subscription = subscribed(session)
        add_leads(session, account, spread(utc(2026, 1, 2), 110), prefix="jan")
        add_leads(session, account, spread(utc(2026, 2, 2), 50), prefix="feb")
        add_leads(session, account, spread(utc(2026, 3, 2), 125), prefix="mar")
        later, late_subscription = subscribed(session, "later", start=utc(2026, 2, 15))

    result = run_billing(sessions, utc(2026, 4, 1))

    assert result.invoices_issued == 4
    with sessions.begin() as session:
        invoices = boundary_invoices(session, subscription.id)
        assert [invoice.boundary_index for invoice in invoices] == [1, 2, 3]
        assert [invoice.total for invoice in invoices] == [
            Decimal("1095.00"),
            Decimal("1000.00"),
            Decimal("1237.50"),
        ]
        (late,) = boundary_invoices(session, late_subscription.id)
        # Numbers follow the run's order: the subscription whose open period ended first
        # (acme, Feb 1) with its whole catch-up, oldest first, then `later` (Mar 15).
        ordered = sorted([*invoices, late], key=lambda invoice: invoice.number or "")
        assert [(invoice.number, invoice.issued_at) for invoice in ordered] == [
            ("INV-000003", utc(2026, 2, 1)),
            ("INV-000004", utc(2026, 3, 1)),
            ("INV-000005", utc(2026, 4, 1)),
            ("INV-000006", utc(2026, 3, 15)),
        ]
        assert reload(session, subscription.id).current_period_index == 3
        assert later.code == "later"


def test_rerun_is_idempotent(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        for code in ("a", "b", "c"):
            account, _ = subscribed(session, code)
            add_leads(session, account, spread(utc(2026, 1, 2), 120))

    first = run_billing(sessions, utc(2026, 3, 2), batch_size=2)
    with sessions.begin() as session:
        before = (
            session.scalar(select(func.count(Invoice.id))),
            session.scalar(select(func.count(InvoiceLine.id))),
            session.scalar(select(func.count(SubscriptionPeriod.id))),
        )
    second = run_billing(sessions, utc(2026, 3, 2), batch_size=2)

    assert first.invoices_issued == 6
    assert first.batches == 2
    assert second.invoices_issued == 0
    assert second.invoice_numbers == []
    with sessions.begin() as session:
        after = (
            session.scalar(select(func.count(Invoice.id))),
            session.scalar(select(func.count(InvoiceLine.id))),
            session.scalar(select(func.count(SubscriptionPeriod.id))),
        )
        assert after == before == (9, 15, 9)


def test_gapless_numbers_across_batches(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        ids = [
            subscribed(session, f"acct-{number}", start=utc(2026, 1, 1 + number))[1].id
            for number in range(7)
        ]

    result = run_billing(sessions, utc(2026, 3, 31), batch_size=3)

    assert result.invoices_issued == 14
    with sessions.begin() as session:
        numbers = sorted(session.scalars(select(Invoice.number)).all())
        assert numbers == [f"INV-{value:06d}" for value in range(1, 22)]
        ordered = session.execute(
            select(Invoice.issued_at, Invoice.subscription_id)
            .where(Invoice.boundary_index > 0)
            .order_by(Invoice.number)
        ).all()
        # One batch per three subscriptions, both boundaries of each in the batch; the
        # numbers follow the subscriptions (open period's end), each one's boundaries in turn.
        assert ordered == [
            (utc(2026, month, 1 + number), ids[number]) for number in range(7) for month in (2, 3)
        ]


def test_same_run_gives_same_invoices(
    sessions: sessionmaker[Session],
) -> None:
    def load(session: Session, prefix: str) -> Subscription:
        account, subscription = subscribed(session, prefix, start=utc(2026, 1, 15, 9, 30))
        add_leads(session, account, spread(utc(2026, 1, 15, 10), 137, timedelta(hours=4)))
        return subscription

    with sessions.begin() as session:
        first = load(session, "first")
        second = load(session, "second")
    run_billing(sessions, utc(2026, 3, 20))
    with sessions.begin() as session:
        a = [amounts(session, invoice) for invoice in boundary_invoices(session, first.id)]
        b = [amounts(session, invoice) for invoice in boundary_invoices(session, second.id)]
        assert a == b
        assert a[0][0] == ("overage", 37, Decimal("351.50"))


def test_draft_run_then_finalize(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        _, subscription = subscribed(session)

    result = run_billing(sessions, utc(2026, 2, 1), finalize=False)

    assert result.invoice_numbers == []
    with sessions.begin() as session:
        (draft,) = boundary_invoices(session, subscription.id)
        assert (draft.status, draft.number, draft.finalized_at) == ("draft", None, None)
        finalize_invoice(session, draft, utc(2026, 2, 2))
        assert (draft.status, draft.number) == ("open", "INV-000002")


def test_run_refuses_naive_as_of(sessions: sessionmaker[Session]) -> None:
    with pytest.raises(InvalidInput, match="as_of"):
        run_billing(sessions, datetime(2026, 2, 1))


def test_plan_without_counting_policy_renews_fee_only(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        plan = create_plan(
            session,
            code="licence",
            name="Licence",
            currency="USD",
            interval="month",
            fee="49.00",
            included_leads=0,
            per_lead_rate="0",
            counting_policy="none",
            as_of=START,
        )
        account, subscription = subscribed(session, plan=plan)
        add_leads(session, account, spread(utc(2026, 1, 2), 30))

    run_billing(sessions, utc(2026, 2, 1))

    with sessions.begin() as session:
        (invoice,) = boundary_invoices(session, subscription.id)
        assert amounts(session, invoice) == [
            ("overage", 0, Decimal("0.00")),
            ("plan_fee", 1, Decimal("49.00")),
        ]
