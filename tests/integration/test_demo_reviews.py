"""The demo's contractor (seed 002): its disputes end as the README says, on both databases."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from leadbill.billing.invoices import get_invoice, invoice_lines
from leadbill.credit_notes.service import get_credit_note
from leadbill.demo import run_demo
from leadbill.reviews.models import Review


def test_demo_contractor_disputes(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    run_demo(sessions, tmp_path)
    with sessions() as session:
        statuses = dict(session.execute(select(Review.id, Review.status).order_by(Review.id)).all())
        assert statuses == {1: "approved", 2: "rejected", 3: "approved", 4: "open"}
        note = get_credit_note(session, "CN-000001")
        assert (note.invoice_number, note.lead_id, note.note.total) == (
            "INV-000022",
            "pp-dispute-after",
            Decimal("65.00"),
        )
        assert note.remaining.amount == 0
        november = get_invoice(session, "INV-000028")
        credit = invoice_lines(session, november.id)[-1]
        assert (credit.kind, credit.amount) == ("credit", Decimal("-65.00"))
        assert november.total == Decimal("1055.00")
