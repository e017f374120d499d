"""Receivables on SQLite and PostgreSQL: the aging report, overdue days, uncollectible invoices."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from leadbill.billing.invoices import get_invoice, list_invoices, void_invoice
from leadbill.billing.models import Invoice
from leadbill.billing.payments import balance_due, record_payment
from leadbill.core.receivables import BUCKETS, AgingTotals
from leadbill.errors import Conflict, InvalidInput, NotFound
from leadbill.receivables.service import (
    AgingReport,
    aging_report,
    invoice_overdue_days,
    mark_uncollectible,
    overdue_days,
)
from leadbill.webhooks.models import WebhookEvent
from leadbill.webhooks.service import create_endpoint
from tests.conftest import utc
from tests.integration.receivables_world import (
    AS_OF,
    UNCOLLECTIBLE_REASON,
    ReceivablesWorld,
    build_receivables_world,
)


@pytest.fixture
def world(sessions: sessionmaker[Session]) -> ReceivablesWorld:
    """The invoices of receivables_world at different ages."""
    return build_receivables_world(sessions)


def figures(totals: AgingTotals) -> list[str]:
    """Each bucket, then the total, as text."""
    return [str(totals.amount(bucket)) for bucket in BUCKETS] + [str(totals.total)]


def rows(report: AgingReport) -> dict[tuple[str | None, str | None, str], list[str]]:
    """Every row of the report (entity, account, currency) with its figures and count."""
    found = {}
    for row in [*report.accounts, *report.entities]:
        found[(row.entity, row.account, row.currency)] = [*figures(row.totals), str(row.invoices)]
    return found


def test_aging_buckets_open_balances_by_days_past_due_per_entity_and_account(
    sessions: sessionmaker[Session], world: ReceivablesWorld
) -> None:
    with sessions() as session:
        report = aging_report(session, AS_OF)
    #            current       1-30          31-60         61-90           over 90       total
    assert rows(report) == {
        ("us", "acme", "USD"): [
            *("140.00 USD", "350.00 USD", "0.00 USD", "0.00 USD", "0.00 USD"),
            *("490.00 USD", "4"),
        ],
        ("us", "bolt", "USD"): [
            *("0.00 USD", "10.01 USD", "0.00 USD", "1,200.00 USD", "999.00 USD"),
            *("2,209.01 USD", "3"),
        ],
        ("nordic", "fjord", "EUR"): [
            *("250.00 EUR", "0.00 EUR", "400.00 EUR", "0.00 EUR", "0.00 EUR"),
            *("650.00 EUR", "2"),
        ],
        ("nordic", "lumen", "USD"): [
            *("0.00 USD", "0.00 USD", "60.00 USD", "75.50 USD", "0.00 USD"),
            *("135.50 USD", "2"),
        ],
        ("us", None, "USD"): [
            *("140.00 USD", "360.01 USD", "0.00 USD", "1,200.00 USD", "999.00 USD"),
            *("2,699.01 USD", "7"),
        ],
        ("nordic", None, "EUR"): [
            *("250.00 EUR", "0.00 EUR", "400.00 EUR", "0.00 EUR", "0.00 EUR"),
            *("650.00 EUR", "2"),
        ],
        ("nordic", None, "USD"): [
            *("0.00 USD", "0.00 USD", "60.00 USD", "75.50 USD", "0.00 USD"),
            *("135.50 USD", "2"),
        ],
    }
    # Entity rows sort by entity code, then currency; totals never mix currencies.
    assert [(r.entity, r.currency) for r in report.entities] == [
        ("nordic", "EUR"),
        ("nordic", "USD"),
        ("us", "USD"),
    ]
    assert [(t.currency, t.invoices) for t in report.totals] == [("EUR", 2), ("USD", 9)]
    assert [figures(t.totals) for t in report.totals] == [
        ["250.00 EUR", "0.00 EUR", "400.00 EUR", "0.00 EUR", "0.00 EUR", "650.00 EUR"],
        ["140.00 USD", "360.01 USD", "60.00 USD", "1,275.50 USD", "999.00 USD", "2,834.51 USD"],
    ]


def test_aging_report_of_one_entity_or_one_account(
    sessions: sessionmaker[Session], world: ReceivablesWorld
) -> None:
    with sessions() as session:
        nordic = aging_report(session, AS_OF, entity="nordic")
        bolt = aging_report(session, AS_OF, account="bolt")
        both = aging_report(session, AS_OF, entity="nordic", account="bolt")
        with pytest.raises(NotFound):
            aging_report(session, AS_OF, entity="ghost")
        with pytest.raises(NotFound):
            aging_report(session, AS_OF, account="ghost")
    assert {(r.entity, r.account) for r in nordic.accounts} == {
        ("nordic", "fjord"),
        ("nordic", "lumen"),
    }
    assert [figures(t.totals)[-1] for t in nordic.totals] == ["650.00 EUR", "135.50 USD"]
    assert [(r.entity, r.account) for r in bolt.accounts] == [("us", "bolt")]
    assert [figures(t.totals)[-1] for t in bolt.totals] == ["2,209.01 USD"]
    assert both.is_empty and both.accounts == [] and both.entities == []


def test_aging_report_is_as_of_its_instant_not_as_of_today(
    sessions: sessionmaker[Session], world: ReceivablesWorld
) -> None:
    with sessions() as session:
        before_write_off = aging_report(session, utc(2026, 6, 19), account="bolt")
        later = aging_report(session, utc(2026, 7, 3), account="lumen")
    # On June 19 B3 (700.00, due March 3) was still owed, 108 days late; the others were
    # younger: B1 49 days, B2 79 days, B4 18 days.
    (row,) = before_write_off.accounts
    assert figures(row.totals) == [
        *("0.00 USD", "10.01 USD", "1,200.00 USD", "999.00 USD", "700.00 USD"),
        "2,909.01 USD",
    ]
    assert row.invoices == 4
    # On July 3 the payment of July 2 counts and L3 (issued July 2) is owed, current.
    (lumen,) = later.accounts
    assert figures(lumen.totals) == [
        *("33.00 USD", "0.00 USD", "34.50 USD", "75.50 USD", "0.00 USD"),
        "143.00 USD",
    ]


def test_overdue_days_count_on_the_accounts_local_date(
    sessions: sessionmaker[Session], world: ReceivablesWorld
) -> None:
    with sessions() as session:
        invoices = list_invoices(session)
        days = overdue_days(session, invoices, AS_OF)
        shown = {i.number: days[i.id] for i in invoices}
        a3 = get_invoice(session, world.numbers["A3"])
        assert a3.due_on == date(2026, 6, 29)
        # June 30 in New York at AS_OF; a day later it is 2 days.
        assert invoice_overdue_days(session, a3, AS_OF) == 1
        assert invoice_overdue_days(session, a3, AS_OF + timedelta(days=1)) == 2
    expected = {
        "A1": 0, "A2": 14, "A3": 1, "A4": 0, "A5": 0,
        "B1": 61, "B2": 91, "B3": 0, "B4": 30,
        "F1": 31, "F2": 0, "F3": 0,
        "L1": 62, "L2": 31, "L3": 0,
    }  # fmt: skip
    assert {name: shown[number] for name, number in world.numbers.items()} == expected


def test_an_uncollectible_invoice_leaves_receivables_but_stays_in_the_ledger(
    sessions: sessionmaker[Session], world: ReceivablesWorld
) -> None:
    with sessions() as session:
        b3 = get_invoice(session, world.numbers["B3"])
        assert b3.status == "uncollectible"
        assert b3.uncollectible_at == utc(2026, 6, 20)
        assert b3.uncollectible_reason == UNCOLLECTIBLE_REASON
        assert b3 in list_invoices(session, status="uncollectible")
        # Still owed in the ledger, at its total; never overdue, never in the receivables.
        assert balance_due(session, b3) == Decimal("700.00")
        assert invoice_overdue_days(session, b3, AS_OF) == 0


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("A5", "is paid; nothing is left to collect"),
        ("F3", "is void; nothing is owed"),
        ("B3", "is already uncollectible since 2026-06-20: Customer went out of business"),
    ],
)
def test_only_an_open_invoice_with_a_balance_can_be_marked_uncollectible(
    sessions: sessionmaker[Session], world: ReceivablesWorld, name: str, message: str
) -> None:
    with sessions() as session, session.begin():
        invoice = get_invoice(session, world.numbers[name])
        with pytest.raises(Conflict) as refused:
            mark_uncollectible(session, invoice, "gone", AS_OF)
    assert message in refused.value.detail


def test_a_draft_cannot_be_marked_uncollectible(
    sessions: sessionmaker[Session], world: ReceivablesWorld
) -> None:
    with sessions() as session, session.begin():
        a1 = get_invoice(session, world.numbers["A1"])
        draft = Invoice(
            account_id=a1.account_id,
            kind="period",
            status="draft",
            currency="USD",
            total=a1.total,
            net_total=a1.total,
            tax_total=Decimal(0),
            issued_at=AS_OF,
        )
        session.add(draft)
        session.flush()
        with pytest.raises(Conflict) as refused:
            mark_uncollectible(session, draft, "gone", AS_OF)
    assert f"invoice draft {draft.id} is draft; a draft is not owed yet" in refused.value.detail


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        ("", "reason: is required"),
        ("   ", "reason: is required"),
        ("x" * 301, "reason: must be at most 300 characters"),
        ("bad\x00text", "reason: must not contain control characters"),
    ],
)
def test_the_reason_is_required_and_at_most_300_characters(
    sessions: sessionmaker[Session], world: ReceivablesWorld, reason: str, message: str
) -> None:
    with sessions() as session, session.begin():
        invoice = get_invoice(session, world.numbers["A2"])
        with pytest.raises(InvalidInput) as refused:
            mark_uncollectible(session, invoice, reason, AS_OF)
        assert refused.value.detail.startswith(message)
        assert invoice.status == "open"


def test_a_written_off_invoice_is_paid_when_the_money_comes_after_all(
    sessions: sessionmaker[Session], world: ReceivablesWorld
) -> None:
    with sessions() as session, session.begin():
        create_endpoint(
            session, url="https://crm.test/h", event_types=["invoice.paid"], as_of=AS_OF
        )
        a2 = get_invoice(session, world.numbers["A2"])
        mark_uncollectible(session, a2, "  Bankrupt,\n no reply  ", AS_OF)
        assert a2.uncollectible_reason == "Bankrupt, no reply"  # typed text on one line
    with sessions() as session:
        report = aging_report(session, AS_OF, account="acme")
        assert figures(report.totals[0].totals)[-1] == "190.00 USD"  # 490.00 less A2's 300.00
    with sessions() as session, session.begin():
        a2 = get_invoice(session, world.numbers["A2"])
        record_payment(
            session,
            invoice=a2,
            amount="100.00",
            currency="USD",
            reference="late-1",
            received_at=AS_OF + timedelta(days=1),
        )
        assert a2.status == "uncollectible"  # a part came in; the rest stays written off
        with pytest.raises(InvalidInput) as too_much:
            record_payment(
                session,
                invoice=a2,
                amount="200.01",
                currency="USD",
                reference="late-2",
                received_at=AS_OF + timedelta(days=2),
            )
        assert "exceeds the remaining balance 200.00 USD" in too_much.value.detail
    with sessions() as session, session.begin():
        a2 = get_invoice(session, world.numbers["A2"])
        record_payment(
            session,
            invoice=a2,
            amount="200.00",
            currency="USD",
            reference="late-2",
            received_at=AS_OF + timedelta(days=2),
        )
        assert a2.status == "paid" and a2.paid_at == AS_OF + timedelta(days=2)
        assert balance_due(session, a2) == 0
        # The write-off stays on record; invoice.paid is announced as for any invoice.
        assert a2.uncollectible_reason == "Bankrupt, no reply"
        paid = session.scalars(
            select(WebhookEvent.body).where(WebhookEvent.event_type == "invoice.paid")
        ).all()
        assert any(json.loads(body)["data"]["number"] == a2.number for body in paid)


def test_an_uncollectible_invoice_is_never_voided(
    sessions: sessionmaker[Session], world: ReceivablesWorld
) -> None:
    with sessions() as session, session.begin():
        b3 = get_invoice(session, world.numbers["B3"])
        with pytest.raises(Conflict) as refused:
            void_invoice(session, b3, AS_OF)
    assert "written off as uncollectible" in refused.value.detail


def test_marking_uncollectible_before_the_invoice_was_finalized_is_refused(
    sessions: sessionmaker[Session], world: ReceivablesWorld
) -> None:
    with sessions() as session, session.begin():
        a1 = get_invoice(session, world.numbers["A1"])
        with pytest.raises(InvalidInput) as refused:
            mark_uncollectible(session, a1, "gone", utc(2026, 6, 1))
    assert refused.value.field == "as_of"
