"""R7: an immediate downgrade is credited by a credit note, never a negative invoice.

On SQLite and PostgreSQL. The fee difference is `change_fee_line`, rounded once;
the credit note is applied by the billing run to the account's next invoice and
carried forward when larger than it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from leadbill.billing.explain import explain_invoice
from leadbill.billing.models import Invoice
from leadbill.billing.service import run_billing
from leadbill.credit_notes.models import CreditApplication, CreditNote, CreditNoteLine
from leadbill.credit_notes.service import get_credit_note
from leadbill.plans.models import Plan
from leadbill.subscriptions import service
from leadbill.webhooks import events
from leadbill.webhooks.models import WebhookEvent
from leadbill.webhooks.service import create_endpoint
from tests.conftest import utc
from tests.integration.test_billing_run import add_leads, amounts, boundary_invoices, spread
from tests.integration.test_subscription_changes import (
    APRIL,
    DAY_11,
    invoices_of,
    ladder_plan,
    on_package,
)

MAY = utc(2026, 5, 1)
JUNE = utc(2026, 6, 1)
DAY_21 = utc(2026, 4, 21)


def plan(session: Session, code: str) -> Plan:
    return session.scalars(select(Plan).filter_by(code=code)).one()


def notes(session: Session) -> list[CreditNote]:
    return list(session.scalars(select(CreditNote).order_by(CreditNote.id)))


def note_lines(session: Session, note: CreditNote) -> list[tuple[str, int, Decimal, Decimal]]:
    return [
        (line.kind, line.quantity, line.unit_price, line.amount)
        for line in session.scalars(
            select(CreditNoteLine)
            .where(CreditNoteLine.credit_note_id == note.id)
            .order_by(CreditNoteLine.position)
        )
    ]


def period_invoice(session: Session, subscription_id: int, index: int = 0) -> Invoice:
    return session.scalars(
        select(Invoice).filter_by(subscription_id=subscription_id, boundary_index=index)
    ).one()


def negative_invoices(session: Session) -> list[Invoice]:
    # Compared in Python: SQLite keeps money as text.
    return [invoice for invoice in session.scalars(select(Invoice)) if invoice.total < 0]


def test_r7_immediate_downgrade_issues_a_credit_note_applied_to_the_next_invoice(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        create_endpoint(
            session,
            url="https://receiver.test/hooks",
            event_types=[events.CREDIT_NOTE_ISSUED],
            account_code=None,
            as_of=datetime(2026, 3, 1, tzinfo=UTC),
        )
        account, subscription = on_package(session, "pkg-200")
        add_leads(session, account, spread(APRIL, 50, timedelta(hours=1)), prefix="before")
        add_leads(session, account, spread(DAY_11, 70, timedelta(hours=1)), prefix="after")
        april = period_invoice(session, subscription.id)
        assert april.total == Decimal("1800.00")
        result = service.change_plan(
            session, subscription, plan(session, "pkg-100"), DAY_11, immediate=True, key="dg-1"
        )
        assert result.immediate and result.invoice is None
        (note,) = result.credit_notes
        # (1000.00 - 1800.00) x 20/30 of April = -533.333... -> a credit of 533.33.
        assert (note.number, note.total, note.currency) == ("CN-000001", Decimal("533.33"), "USD")
        assert (note.invoice_id, note.issued_at) == (april.id, DAY_11)
        assert (note.review_id, note.lead_id) == (None, None)
        assert note.subscription_change_id == result.change.id
        assert note.reason == "plan_downgrade"
        assert note_lines(session, note) == [("proration", 1, Decimal("800.00"), Decimal("533.33"))]
        view = get_credit_note(session, "CN-000001")
        assert view.lead_id == ""
        assert view.subject.startswith("plan change pkg-200 -> pkg-100 at 2026-04-11 00:00 UTC")
        assert invoices_of(session, subscription.id, "change") == []

        again = service.change_plan(
            session, subscription, plan(session, "pkg-100"), DAY_11, immediate=True, key="dg-1"
        )
        assert again.replayed and again.invoice is None
        assert [n.id for n in again.credit_notes] == [note.id]
        assert len(notes(session)) == 1

        (issued,) = [json.loads(body) for body in session.scalars(select(WebhookEvent.body))]
        assert issued["type"] == "credit_note.issued"
        assert issued["data"]["number"] == "CN-000001"
        assert issued["data"]["invoice_number"] == april.number
        assert issued["data"]["total"] == {"amount": "533.33", "currency": "USD"}
        assert issued["data"]["review_id"] is None
        assert issued["data"]["subscription_change_id"] == result.change.id

    run_billing(sessions, MAY)

    with sessions.begin() as session:
        (may,) = boundary_invoices(session, subscription.id)
        # New allowance floor(100 x 2/3) = 66; 70 counted after the change: 4 over at 9.50.
        assert amounts(session, may) == [
            ("overage", 0, Decimal("0.00")),
            ("overage", 4, Decimal("38.00")),
            ("plan_fee", 1, Decimal("1000.00")),
            ("credit", 1, Decimal("-533.33")),
        ]
        assert may.total == Decimal("504.67")
        credit = explain_invoice(session, may.number or "").lines[-1]
        assert credit.description.startswith("Credit note CN-000001 (invoice INV-")
        assert "plan change on 2026-04-11" in credit.description
        assert "credit of an immediate downgrade" in credit.explanation
        (applied,) = session.scalars(select(CreditApplication)).all()
        assert (applied.invoice_id, applied.amount, applied.remaining_after) == (
            may.id,
            Decimal("533.33"),
            Decimal("0"),
        )
        assert negative_invoices(session) == []


def test_r7_downgrade_credit_larger_than_the_next_invoice_is_carried_forward(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        _account, subscription = on_package(session, "pkg-200")
        ladder_plan(session, "pkg-20", "100.00", 20, "9.50")
        result = service.change_plan(
            session, subscription, plan(session, "pkg-20"), DAY_11, immediate=True
        )
        (note,) = result.credit_notes
        # (100.00 - 1800.00) x 2/3 = -1133.333... -> 1133.33.
        assert note.total == Decimal("1133.33")

    run_billing(sessions, JUNE)

    with sessions.begin() as session:
        may, june = boundary_invoices(session, subscription.id)
        assert amounts(session, may)[-1] == ("credit", 1, Decimal("-100.00"))
        assert may.total == Decimal("0.00")
        assert amounts(session, june)[-1] == ("credit", 1, Decimal("-100.00"))
        view = get_credit_note(session, note.number)
        assert view.remaining.rounded().amount == Decimal("933.33")
        assert negative_invoices(session) == []


def test_r7_downgrade_after_an_upgrade_credits_the_change_invoice_first(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        _account, subscription = on_package(session, "pkg-100")
        ladder_plan(session, "pkg-20", "100.00", 20, "9.50")
        upgrade = service.change_plan(session, subscription, plan(session, "pkg-200"), DAY_11)
        assert upgrade.invoice is not None and upgrade.invoice.total == Decimal("533.33")
        april = period_invoice(session, subscription.id)
        # Back to pkg-100 at 04-21: (1000.00 - 1800.00) x 10/30 = -266.67, all of it
        # against the upgrade's change invoice, which charged 533.33 of that fee.
        back = service.change_plan(
            session, subscription, plan(session, "pkg-100"), DAY_21, immediate=True
        )
        (first,) = back.credit_notes
        assert (first.invoice_id, first.total) == (upgrade.invoice.id, Decimal("266.67"))
        # Down to pkg-20 at 04-26: (100.00 - 1000.00) x 5/30 = -150.00; the change
        # invoice has 533.33 - 266.67 = 266.66 left to credit: it takes it all.
        down = service.change_plan(
            session, subscription, plan(session, "pkg-20"), utc(2026, 4, 26), immediate=True
        )
        (second,) = down.credit_notes
        assert (second.invoice_id, second.total) == (upgrade.invoice.id, Decimal("150.00"))
        assert april.id != upgrade.invoice.id
        assert negative_invoices(session) == []


def test_r7_downgrade_below_the_period_plan_splits_over_the_invoices_that_charged_it(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        _account, subscription = on_package(session, "pkg-100")
        ladder_plan(session, "pkg-20", "100.00", 20, "9.50")
        upgrade = service.change_plan(session, subscription, plan(session, "pkg-200"), DAY_11)
        assert upgrade.invoice is not None
        april = period_invoice(session, subscription.id)
        # (100.00 - 1800.00) x 10/30 = -566.67: the change invoice charged 533.33 of the
        # fee, the period's invoice the rest: 33.34. Never more than an invoice charged.
        down = service.change_plan(
            session, subscription, plan(session, "pkg-20"), DAY_21, immediate=True
        )
        on_change, on_period = down.credit_notes
        assert (on_change.invoice_id, on_change.total) == (upgrade.invoice.id, Decimal("533.33"))
        assert (on_period.invoice_id, on_period.total) == (april.id, Decimal("33.34"))
        assert (on_change.number, on_period.number) == ("CN-000001", "CN-000002")
        (line,) = session.scalars(
            select(CreditNoteLine).where(CreditNoteLine.credit_note_id == on_period.id)
        ).all()
        assert line.description.endswith("; 33.34 of the 566.67 credited on this invoice")


def test_r7_immediate_change_without_fee_difference_issues_nothing(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        _account, subscription = on_package(session, "pkg-100")
        ladder_plan(session, "pkg-100-b", "1000.00", 120, "9.00")
        result = service.change_plan(
            session, subscription, plan(session, "pkg-100-b"), DAY_11, immediate=True
        )
        assert result.immediate
        assert (result.invoice, result.credit_notes) == (None, ())
        assert notes(session) == []
        assert invoices_of(session, subscription.id, "change") == []


def test_r7_a_credit_note_credits_a_review_or_a_change_never_neither(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        _account, subscription = on_package(session, "pkg-200")
        service.change_plan(session, subscription, plan(session, "pkg-100"), DAY_11, immediate=True)
    with sessions() as session:
        with pytest.raises(IntegrityError):
            session.execute(text("UPDATE credit_notes SET subscription_change_id = NULL"))
        session.rollback()
