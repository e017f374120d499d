"""Explainability: the leads behind each invoice line, and why each counted or not (R2, R4, R9)."""

from __future__ import annotations

import csv
import io
from datetime import datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

import leadbill.console
from leadbill.accounts.models import Account
from leadbill.billing.commands import invoices_app
from leadbill.billing.explain import explain_invoice, iter_line_leads
from leadbill.billing.models import Invoice
from leadbill.billing.service import run_billing
from leadbill.errors import NotFound
from leadbill.seats.service import create_seat
from tests.conftest import utc
from tests.integration.usage_fixtures import ingest, lead_rows, plan, subscribed

# (lead, received, first call or None). Included 3: counted in January are L-01..L-05.
LEADS: list[tuple[str, datetime, datetime | None]] = [
    ("L-01", utc(2026, 1, 5, 9), utc(2026, 1, 5, 10)),
    ("L-02", utc(2026, 1, 3, 9), utc(2026, 1, 3, 10)),
    ("L-03", utc(2026, 1, 7, 9), utc(2026, 1, 7, 10)),
    ("L-04", utc(2026, 1, 7, 9), utc(2026, 1, 7, 10)),  # same instant as L-03: lead id decides
    ("L-05", utc(2026, 1, 20, 8), utc(2026, 1, 20, 9)),
    ("L-06", utc(2026, 1, 25), None),  # never called
    ("L-07", utc(2026, 1, 30), utc(2026, 2, 2)),  # counts in February
]


def _billed(sessions: sessionmaker[Session]) -> tuple[Account, str, str]:
    """The account, its January closing invoice number and its seat fee invoice number."""
    with sessions() as session, session.begin():
        customer = subscribed(session, "agent", plan(session, "pkg-3", "300.00", 3, "9.50"))
        other = subscribed(session, "other", plan(session, "pkg-3b", "300.00", 3, "9.50"))
        _seat, seat_invoice = create_seat(
            session,
            account=customer,
            code="north",
            primary_name="Pat Primary",
            primary_email="pat@agent.test",
            as_of=utc(2026, 1, 2),
        )
        rows = []
        for lead_id, received, called in LEADS:
            rows += lead_rows(customer, lead_id, received, [called] if called else [])
        # Another account's leads never appear on this account's invoice.
        rows += lead_rows(other, "L-01", utc(2026, 1, 4), [utc(2026, 1, 4, 1)])
        ingest(session, rows, utc(2026, 2, 3))
        seat_number = seat_invoice.number
    run_billing(sessions, utc(2026, 2, 1))
    with sessions() as session:
        number = session.scalar(
            select(Invoice.number).where(
                Invoice.account_id == customer.id, Invoice.boundary_index == 1
            )
        )
    assert number is not None and seat_number is not None
    return customer, number, seat_number


def test_r4_explain_lists_the_period_leads_and_marks_the_overage_ones(
    sessions: sessionmaker[Session],
) -> None:
    customer, number, _seat_number = _billed(sessions)
    with sessions() as session:
        found = explain_invoice(session, number, account_id=customer.id)
        overage, fee = found.lines
        assert (overage.kind, overage.quantity, str(overage.amount.amount)) == (
            "overage",
            2,
            "19.00",
        )
        assert (overage.counted_leads, overage.allowance) == (5, 3)
        leads = {lead.lead_id: lead for lead in iter_line_leads(session, overage)}
        assert sorted(leads) == ["L-01", "L-02", "L-03", "L-04", "L-05", "L-06", "L-07"]
        assert sorted(k for k, lead in leads.items() if lead.counted) == [
            "L-01",
            "L-02",
            "L-03",
            "L-04",
            "L-05",
        ]
        # Counting order L-02, L-01, L-03, L-04, L-05: the last two are the overage.
        assert sorted(k for k, lead in leads.items() if lead.overage) == ["L-04", "L-05"]
        assert leads["L-04"].counted_at == utc(2026, 1, 7, 10)
        assert (leads["L-06"].reason, leads["L-06"].counted) == ("never_called", False)
        assert leads["L-07"].counted is False
        assert "later period" in leads["L-07"].reason_text
        assert "the first 3 are within the allowance, the last 2 are overage" in (
            overage.explanation
        )
        # Paged reading gives the same leads.
        paged = [lead.lead_id for lead in iter_line_leads(session, overage, page_size=2)]
        assert paged == sorted(leads)
        assert fee.kind == "plan_fee"
        assert fee.scope is None
        assert fee.explanation.startswith("plan fee of pkg-3 for 2026-02-01 to 2026-02-28")


def test_explain_seat_fee_line_and_account_scope(sessions: sessionmaker[Session]) -> None:
    customer, number, seat_number = _billed(sessions)
    with sessions() as session:
        (line,) = explain_invoice(session, seat_number, account_id=customer.id).lines
        assert line.kind == "seat_fee"
        assert "one-time fee of seat north (primary Pat Primary)" in line.explanation
        other = session.scalar(select(Account.id).where(Account.code == "other"))
        assert other is not None
        with pytest.raises(NotFound):
            explain_invoice(session, number, account_id=other)


def test_explain_command_csv(
    sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    _customer, number, _seat_number = _billed(sessions)
    monkeypatch.setattr(leadbill.console, "sessions", lambda: sessions)
    result = CliRunner().invoke(invoices_app, ["explain", number, "--format", "csv"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    overage_leads = [r["lead_id"] for r in rows if r["overage"] == "yes"]
    assert overage_leads == ["L-04", "L-05"]
    counted = [r for r in rows if r["counted"] == "yes"]
    assert [r["counted_at"] for r in counted if r["lead_id"] == "L-02"] == ["2026-01-03T10:00:00Z"]
    assert {r["kind"] for r in rows} == {"overage", "plan_fee"}
    table = CliRunner().invoke(invoices_app, ["explain", number])
    assert table.exit_code == 0, table.output
    scoped = CliRunner().invoke(invoices_app, ["explain", number, "--account", "other"])
    assert scoped.exit_code == NotFound.exit_code
