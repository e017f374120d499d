"""Invoices (draft, open, paid, void; gapless numbers; immutable once final) and payments."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from leadbill import console
from leadbill.billing import payments
from leadbill.billing.invoices import (
    add_line,
    finalize_invoice,
    get_invoice,
    invoice_lines,
    list_invoices,
    replace_lines,
    void_invoice,
)
from leadbill.billing.models import Invoice, Payment
from leadbill.billing.service import run_billing
from leadbill.cli import app
from leadbill.core.money import Money
from leadbill.core.rating import Line, LineKind
from leadbill.errors import Conflict, InvalidInput
from leadbill.seats.service import create_seat
from tests.conftest import utc
from tests.integration.test_billing_run import add_leads, boundary_invoices, spread, subscribed

FEB = utc(2026, 2, 1)


def billed(sessions: sessionmaker[Session], *, finalize: bool = True) -> int:
    """One subscription with 130 called leads in January, billed on Feb 1: 1285.00 due."""
    with sessions.begin() as session:
        account, subscription = subscribed(session)
        add_leads(session, account, spread(utc(2026, 1, 2), 130))
    run_billing(sessions, FEB, finalize=finalize)
    with sessions.begin() as session:
        (invoice,) = boundary_invoices(session, subscription.id)
        return invoice.id


def credit(amount: str) -> Line:
    """A manual line for draft editing tests."""
    money = Money.of(amount, "USD")
    return Line(LineKind.SEAT_FEE, "Manual adjustment", 1, money, money)


def test_numbers_are_gapless_and_only_given_at_finalization(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        for code in ("a", "b", "c"):
            account, _ = subscribed(session, code)
            create_seat(
                session,
                account=account,
                code="s1",
                primary_name="Agent",
                primary_email=f"agent@{code}.test",
                as_of=utc(2026, 1, 5),
            )
    run_billing(sessions, utc(2026, 2, 1), finalize=False)
    run_billing(sessions, utc(2026, 3, 1))
    with sessions.begin() as session:
        drafts = list_invoices(session, status="draft")
        assert len(drafts) == 3
        assert all(draft.number is None for draft in drafts)
        numbered = sorted(n for n in session.scalars(select(Invoice.number)) if n is not None)
        assert numbered == [f"INV-{value:06d}" for value in range(1, 10)]
        for draft in drafts:
            finalize_invoice(session, draft, utc(2026, 3, 2))
        numbered = sorted(session.scalars(select(Invoice.number)).all())
        assert numbered == [f"INV-{value:06d}" for value in range(1, 13)]


def test_finalized_invoice_is_immutable(sessions: sessionmaker[Session]) -> None:
    invoice_id = billed(sessions)
    with sessions() as session, session.begin():
        invoice = session.get_one(Invoice, invoice_id)
        with pytest.raises(Conflict, match="immutable"):
            add_line(session, invoice, credit("-10.00"))
        with pytest.raises(Conflict, match="immutable"):
            replace_lines(session, invoice, [])
        with pytest.raises(Conflict, match="finalized"):
            finalize_invoice(session, invoice, FEB)
    with sessions() as session, session.begin(), pytest.raises(Conflict, match="total"):
        invoice = session.get_one(Invoice, invoice_id)
        invoice.total = Decimal("1.00")
        session.flush()
    with sessions() as session, session.begin(), pytest.raises(Conflict, match="lines"):
        line = invoice_lines(session, invoice_id)[0]
        line.amount = Decimal("0.00")
        session.flush()
    with sessions() as session, session.begin(), pytest.raises(Conflict, match="lines"):
        session.delete(invoice_lines(session, invoice_id)[0])
        session.flush()
    with sessions.begin() as session:
        invoice = session.get_one(Invoice, invoice_id)
        assert invoice.total == Decimal("1285.00")
        assert [line.amount for line in invoice_lines(session, invoice_id)] == [
            Decimal("285.00"),
            Decimal("1000.00"),
        ]


def test_draft_lines_change_until_finalized(sessions: sessionmaker[Session]) -> None:
    invoice_id = billed(sessions, finalize=False)
    with sessions.begin() as session:
        draft = session.get_one(Invoice, invoice_id)
        add_line(session, draft, credit("-85.00"))
        assert draft.total == Decimal("1200.00")
        finalize_invoice(session, draft, utc(2026, 2, 2))
        assert (draft.number, draft.status, draft.finalized_at) == (
            "INV-000002",
            "open",
            utc(2026, 2, 2),
        )
        assert [line.position for line in invoice_lines(session, invoice_id)] == [1, 2, 3]


def test_void_open_invoice(sessions: sessionmaker[Session]) -> None:
    invoice_id = billed(sessions)
    with sessions.begin() as session:
        invoice = void_invoice(session, session.get_one(Invoice, invoice_id), utc(2026, 2, 3))
        assert (invoice.status, invoice.voided_at) == ("void", utc(2026, 2, 3))
        assert invoice.number == "INV-000002"
        assert invoice.total == Decimal("1285.00")
        with pytest.raises(Conflict, match="already void"):
            void_invoice(session, invoice, utc(2026, 2, 4))
        with pytest.raises(InvalidInput, match="invoice: INV-000002 is void"):
            payments.record_payment(
                session,
                invoice=invoice,
                amount="10.00",
                currency="USD",
                reference="r1",
                received_at=utc(2026, 2, 5),
            )


def test_void_refused_for_paid_draft_and_partly_paid(sessions: sessionmaker[Session]) -> None:
    invoice_id = billed(sessions)
    with sessions.begin() as session:
        invoice = session.get_one(Invoice, invoice_id)
        payments.record_payment(
            session,
            invoice=invoice,
            amount="100.00",
            currency="USD",
            reference="part",
            received_at=utc(2026, 2, 2),
        )
        with pytest.raises(Conflict, match="has payments"):
            void_invoice(session, invoice, utc(2026, 2, 3))
        payments.record_payment(
            session,
            invoice=invoice,
            amount="1185.00",
            currency="USD",
            reference="rest",
            received_at=utc(2026, 2, 4),
        )
        with pytest.raises(Conflict, match="never voided"):
            void_invoice(session, invoice, utc(2026, 2, 5))
        assert invoice.status == "paid"
    draft_id = billed_draft_elsewhere(sessions)
    with sessions.begin() as session, pytest.raises(Conflict, match="draft"):
        void_invoice(session, session.get_one(Invoice, draft_id), utc(2026, 2, 5))


def billed_draft_elsewhere(sessions: sessionmaker[Session]) -> int:
    """A draft boundary invoice of a second account."""
    with sessions.begin() as session:
        _, subscription = subscribed(session, "drafty", start=utc(2026, 1, 10))
    run_billing(sessions, utc(2026, 2, 10), finalize=False)
    with sessions.begin() as session:
        (draft,) = boundary_invoices(session, subscription.id)
        assert draft.status == "draft"
        return draft.id


def test_partial_then_full_payment_marks_paid(sessions: sessionmaker[Session]) -> None:
    invoice_id = billed(sessions)
    with sessions.begin() as session:
        invoice = session.get_one(Invoice, invoice_id)
        first = payments.record_payment(
            session,
            invoice=invoice,
            amount="285.00",
            currency="usd",
            reference="wire-1",
            received_at=utc(2026, 2, 3, 10),
        )
        assert first.amount == Decimal("285.00")
        assert (invoice.status, invoice.paid_at) == ("open", None)
        assert payments.balance_due(session, invoice) == Decimal("1000.00")
        payments.record_payment(
            session,
            invoice=invoice,
            amount=Decimal("1000.00"),
            currency="USD",
            reference="wire-2",
            received_at=utc(2026, 2, 9, 16),
        )
        assert (invoice.status, invoice.paid_at) == ("paid", utc(2026, 2, 9, 16))
        assert payments.amount_paid(session, invoice) == Decimal("1285.00")
        assert payments.balance_due(session, invoice) == Decimal("0")
    with sessions.begin() as session:
        stored = get_invoice(session, "INV-000002")
        assert (stored.status, stored.paid_at) == ("paid", utc(2026, 2, 9, 16))


def test_overpayment_refused(sessions: sessionmaker[Session]) -> None:
    invoice_id = billed(sessions)
    with sessions.begin() as session:
        invoice = session.get_one(Invoice, invoice_id)
        payments.record_payment(
            session,
            invoice=invoice,
            amount="1000.00",
            currency="USD",
            reference="p1",
            received_at=utc(2026, 2, 3),
        )
        with pytest.raises(
            InvalidInput, match=r"amount: 285\.01 USD exceeds the remaining balance 285\.00"
        ):
            payments.record_payment(
                session,
                invoice=invoice,
                amount="285.01",
                currency="USD",
                reference="p2",
                received_at=utc(2026, 2, 4),
            )
        assert invoice.status == "open"
        assert payments.balance_due(session, invoice) == Decimal("285.00")


@pytest.mark.parametrize(
    ("amount", "currency", "field"),
    [
        ("0", "USD", "amount"),
        ("-5.00", "USD", "amount"),
        ("10.001", "USD", "amount"),
        ("ten", "USD", "amount"),
        ("10.00", "EUR", "currency"),
        ("10.00", "XXQ", "currency"),
    ],
)
def test_payment_input_refused_naming_the_field(
    sessions: sessionmaker[Session], amount: str, currency: str, field: str
) -> None:
    invoice_id = billed(sessions)
    with sessions.begin() as session:
        with pytest.raises(InvalidInput) as caught:
            payments.record_payment(
                session,
                invoice=session.get_one(Invoice, invoice_id),
                amount=amount,
                currency=currency,
                reference="bad",
                received_at=utc(2026, 2, 3),
            )
        assert caught.value.field == field
        assert session.scalar(select(func.count(Payment.id))) == 0


def test_payment_on_draft_refused(sessions: sessionmaker[Session]) -> None:
    invoice_id = billed(sessions, finalize=False)
    with sessions.begin() as session, pytest.raises(InvalidInput, match=r"invoice: draft \d+"):
        payments.record_payment(
            session,
            invoice=session.get_one(Invoice, invoice_id),
            amount="10.00",
            currency="USD",
            reference="early",
            received_at=utc(2026, 2, 3),
        )


def test_duplicate_payment_reference(sessions: sessionmaker[Session]) -> None:
    invoice_id = billed(sessions)
    sent = {
        "amount": "1285.00",
        "currency": "USD",
        "reference": "ach-77",
        "received_at": utc(2026, 2, 3),
    }
    with sessions.begin() as session:
        invoice = session.get_one(Invoice, invoice_id)
        first = payments.record_payment(session, invoice=invoice, **sent)  # type: ignore[arg-type]
    with sessions.begin() as session:
        invoice = session.get_one(Invoice, invoice_id)
        again = payments.record_payment(session, invoice=invoice, **sent)  # type: ignore[arg-type]
        assert again.id == first.id
        with pytest.raises(Conflict, match="ach-77"):
            payments.record_payment(
                session,
                invoice=invoice,
                amount="1285.00",
                currency="USD",
                reference="ach-77",
                received_at=utc(2026, 2, 4),
            )
        assert session.scalar(select(func.count(Payment.id))) == 1
        assert invoice.status == "paid"


# CLI smoke tests: the real commands against the test database.


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """A CLI runner whose commands use the test database."""
    monkeypatch.setenv("LEADBILL_DATABASE_URL", database_url)
    console.sessions.cache_clear()
    yield CliRunner()
    console.sessions().kw["bind"].dispose()
    console.sessions.cache_clear()


def test_cli_bill_show_pay_export(
    sessions: sessionmaker[Session], cli: CliRunner, tmp_path: Path
) -> None:
    with sessions.begin() as session:
        account, _ = subscribed(session)
        add_leads(session, account, spread(utc(2026, 1, 2), 130))

    result = cli.invoke(app, ["bill", "--as-of", "2026-02-01T00:00:00Z"])
    assert result.exit_code == 0, result.output
    assert "1 invoices issued" in result.output
    assert "INV-000002  acme" in result.output
    assert "1,285.00 USD" in result.output

    again = cli.invoke(app, ["bill", "--as-of", "2026-02-01T00:00:00Z"])
    assert again.exit_code == 0, again.output
    assert "0 invoices issued" in again.output

    paid = cli.invoke(
        app,
        [
            *("payments", "record", "INV-000002", "--amount", "285.00"),
            *("--reference", "chk-1", "--received-at", "2026-02-05T12:00:00Z"),
        ],
    )
    assert paid.exit_code == 0, paid.output
    assert "balance due 1,000.00 USD" in paid.output

    shown = cli.invoke(app, ["invoices", "show", "INV-000002"])
    assert shown.exit_code == 0, shown.output
    for expected in ("INV-000002", "open", "Overage", "285.00", "1,000.00", "chk-1"):
        assert expected in shown.output
    assert "balance due 1,000.00 USD" in shown.output

    listed = cli.invoke(app, ["invoices", "list", "--account", "acme", "--status", "open"])
    assert listed.exit_code == 0, listed.output
    assert "INV-000002" in listed.output and "INV-000001" in listed.output

    target = tmp_path / "acme.csv"
    exported = cli.invoke(
        app, ["invoices", "export", "--account", "acme", "--format", "csv", "--output", str(target)]
    )
    assert exported.exit_code == 0, exported.output
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert [(row["invoice"], row["kind"], row["amount"]) for row in rows] == [
        ("INV-000001", "plan_fee", "1000.00"),
        ("INV-000002", "overage", "285.00"),
        ("INV-000002", "plan_fee", "1000.00"),
    ]

    one = cli.invoke(app, ["invoices", "export", "INV-000002"])
    assert one.exit_code == 0, one.output
    assert one.output.splitlines()[1].startswith("INV-000002,acme,open,2026-02-01T00:00:00Z")

    listed_payments = cli.invoke(app, ["payments", "list", "--account", "acme"])
    assert "chk-1" in listed_payments.output

    overpay = cli.invoke(
        app, ["payments", "record", "INV-000002", "--amount", "1000.01", "--reference", "x"]
    )
    assert overpay.exit_code == InvalidInput.exit_code
    assert "amount" in overpay.output

    voided = cli.invoke(app, ["invoices", "void", "INV-000001"])
    assert voided.exit_code == 0, voided.output
    refused = cli.invoke(app, ["invoices", "void", "INV-000001"])
    assert refused.exit_code == Conflict.exit_code


def test_cli_draft_run_and_finalize(sessions: sessionmaker[Session], cli: CliRunner) -> None:
    with sessions.begin() as session:
        subscribed(session)
    result = cli.invoke(app, ["bill", "--as-of", "2026-02-01", "--draft"])
    assert result.exit_code == 0, result.output
    with sessions.begin() as session:
        (draft_id,) = session.scalars(select(Invoice.id).where(Invoice.status == "draft")).all()
    finalized = cli.invoke(app, ["invoices", "finalize", str(draft_id)])
    assert finalized.exit_code == 0, finalized.output
    assert "INV-000002" in finalized.output
    missing = cli.invoke(app, ["invoices", "show", "INV-999999"])
    assert missing.exit_code == 4
    bad = cli.invoke(app, ["bill", "--as-of", "2026-02-01T00:00:00"])
    assert bad.exit_code == InvalidInput.exit_code


def test_paid_at_is_received_at_of_covering_payment(sessions: sessionmaker[Session]) -> None:
    invoice_id = billed(sessions)
    received = FEB + timedelta(days=10, hours=3)
    with sessions.begin() as session:
        invoice = session.get_one(Invoice, invoice_id)
        payments.record_payment(
            session,
            invoice=invoice,
            amount="1285.00",
            currency="USD",
            reference="one-shot",
            received_at=received,
        )
        assert invoice.paid_at == received
