"""The accounting export: one row a document line, and its sums are the documents' totals."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from leadbill import console
from leadbill.billing.ledger import COLUMNS, ledger_rows, write_ledger
from leadbill.billing.models import Invoice, Payment
from leadbill.billing.payments import record_payment
from leadbill.billing.service import run_billing
from leadbill.cli import app
from leadbill.credit_notes.models import CreditNote
from leadbill.errors import InvalidInput
from tests.conftest import utc
from tests.integration.test_invoice_tax import _world

runner = CliRunner()
SPAN = (utc(2026, 9, 1), utc(2027, 1, 1))


def _ledger(session: Session, entity: str | None = None) -> list[dict[str, str]]:
    buffer = io.StringIO()
    write_ledger(buffer, ledger_rows(session, *SPAN, entity=entity))
    return list(csv.DictReader(io.StringIO(buffer.getvalue())))


@pytest.fixture
def billed(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """Three Swedish-entity customers billed twice, one invoice paid in part."""
    with sessions.begin() as session:
        _world(session)
    run_billing(sessions, utc(2026, 11, 2))
    with sessions.begin() as session:
        invoice = session.scalars(select(Invoice).order_by(Invoice.id)).first()
        assert invoice is not None
        record_payment(
            session,
            invoice=invoice,
            amount=Decimal("200.00"),
            currency=invoice.currency,
            reference="bank-77",
            received_at=utc(2026, 10, 10),
        )
    return sessions


def test_ledger_sums_equal_the_documents_totals(billed: sessionmaker[Session]) -> None:
    with billed() as session:
        rows = _ledger(session)
        invoices = session.scalars(select(Invoice)).all()
        payments = session.scalars(select(Payment)).all()
    assert list(rows[0]) == list(COLUMNS)
    gross: dict[str, Decimal] = defaultdict(Decimal)
    net: dict[str, Decimal] = defaultdict(Decimal)
    tax: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        gross[row["number"]] += Decimal(row["gross"])
        if row["document_type"] != "payment":
            net[row["number"]] += Decimal(row["net"])
            tax[row["number"]] += Decimal(row["tax"])
            assert Decimal(row["net"]) + Decimal(row["tax"]) == Decimal(row["gross"])
    for invoice in invoices:
        assert gross[str(invoice.number)] == invoice.total
        assert tax[str(invoice.number)] == invoice.tax_total
    assert [gross[f"PAY-{p.id}"] for p in payments] == [Decimal("200.00")]
    assert sum(gross[str(i.number)] for i in invoices) == sum(i.total for i in invoices)
    first = next(row for row in rows if row["number"] == "SE-000001")
    assert (first["entity"], first["tax_category"], first["tax_rate"]) == ("nordic", "S", "25")
    assert first["issue_date"] == "2026-10-01" and first["due_date"] == "2026-10-31"
    assert first["customer"] == "Fjord Analytics AB"
    assert first["customer_tax_id"] == "SE556036079301"
    payment = next(row for row in rows if row["document_type"] == "payment")
    assert (payment["related_invoice"], payment["reference"]) == ("SE-000001", "bank-77")


def test_ledger_credit_notes_carry_their_tax(sessions: sessionmaker[Session]) -> None:
    from tests.integration.test_invoice_tax import (
        test_tax_credit_note_carries_the_tax_of_the_invoice_it_corrects as credited,
    )

    credited(sessions)
    with sessions() as session:
        rows = _ledger(session)
        note = session.scalars(select(CreditNote)).one()
    (line,) = [row for row in rows if row["document_type"] == "credit_note"]
    assert (line["number"], line["net"], line["tax"], line["gross"]) == (
        note.number,
        "40.00",
        "10.00",
        "50.00",
    )
    assert Decimal(line["gross"]) == note.total
    assert line["related_invoice"].startswith("SE-")


def test_ledger_of_one_entity_and_bad_spans(billed: sessionmaker[Session]) -> None:
    with billed() as session:
        assert {row["entity"] for row in _ledger(session, "nordic")} == {"nordic"}
        assert _ledger(session, "us") == []
        with pytest.raises(InvalidInput) as error:
            list(ledger_rows(session, SPAN[1], SPAN[0]))
        assert error.value.field == "to"
        with pytest.raises(InvalidInput) as error:
            list(ledger_rows(session, *SPAN, entity="nowhere"))
        assert error.value.field == "entity"


def test_ledger_export_from_the_command_line(
    billed: sessionmaker[Session],
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("LEADBILL_DATABASE_URL", database_url)
    console.sessions.cache_clear()
    target = tmp_path / "ledger.csv"
    try:
        done = runner.invoke(
            app,
            ["export", "ledger", "--from", "2026-09-01", "--to", "2027-01-01", "-o", str(target)],
        )
        assert done.exit_code == 0, done.output
        bad = runner.invoke(app, ["export", "ledger", "--from", "2027-01-01", "--to", "2026-09-01"])
        assert bad.exit_code == 2
        assert "to: must be after from" in bad.output
    finally:
        console.sessions().kw["bind"].dispose()
        console.sessions.cache_clear()
    with billed() as session, target.open(encoding="utf-8", newline="") as written:
        assert written.read() == _csv_text(session)


def _csv_text(session: Session) -> str:
    buffer = io.StringIO()
    write_ledger(buffer, ledger_rows(session, *SPAN))
    return buffer.getvalue()
