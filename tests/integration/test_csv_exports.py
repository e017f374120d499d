"""CSV injection: every CSV the CLI writes neutralises text that starts like a formula.

One database per module (SQLite, then PostgreSQL): account fx-N is on a plan named
`formula(PREFIXES[N])` and has one lead whose id, name, phone, e-mail and source
are that formula; account agent was downgraded in April, so May's invoice has a
credit line. Each test reads a command's CSV back with the csv module.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import timedelta

import pytest
import typer
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

import leadbill.console
from leadbill.accounts.models import Account
from leadbill.billing.commands import invoices_app
from leadbill.billing.models import Invoice
from leadbill.billing.service import run_billing
from leadbill.plans.models import Plan
from leadbill.reports.commands import app as reports_app
from leadbill.subscriptions import service
from tests.formula_cells import (
    PREFIX_NAMES,
    PREFIXES,
    formula,
    neutralised,
    plant_lead,
    plant_plan_name,
)
from tests.integration.test_billing_run import make_plan, subscribed
from tests.integration.test_subscription_changes import APRIL, DAY_11, on_package

MAY = APRIL.replace(month=5)
LEAD_TEXT = ("lead_id", "name", "phone", "email", "source")
by_prefix = pytest.mark.parametrize(
    ("code", "prefix"),
    [(f"fx-{n}", prefix) for n, prefix in enumerate(PREFIXES)],
    ids=PREFIX_NAMES,
)
ReadCsv = Callable[..., list[dict[str, str]]]


@pytest.fixture(scope="module")
def may_invoices(module_sessions: sessionmaker[Session]) -> dict[str, str]:
    """The accounts' data, billed at MAY; the number of each account's May invoice."""
    with module_sessions.begin() as session:
        _agent, subscription = on_package(session, "pkg-200")
        smaller = session.scalars(select(Plan).filter_by(code="pkg-100")).one()
        service.change_plan(session, subscription, smaller, DAY_11, immediate=True, key="down")
        for n, prefix in enumerate(PREFIXES):
            plan = make_plan(session, f"fx-{n}")
            plant_plan_name(session, plan, prefix)
            subscribed(session, f"fx-{n}", start=APRIL, plan=plan)
            plant_lead(session, f"fx-{n}", "", prefix, APRIL + timedelta(days=4))
    run_billing(module_sessions, MAY)
    with module_sessions() as session:
        rows = session.execute(
            select(Account.code, Invoice.number)
            .join(Invoice, Invoice.account_id == Account.id)
            .where(Invoice.boundary_index == 1)
        )
        return {code: number for code, number in rows if number is not None}


@pytest.fixture
def read_csv(
    module_sessions: sessionmaker[Session],
    may_invoices: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> ReadCsv:
    """Run a command on the module's database and read its CSV output back as dicts."""
    monkeypatch.setattr(leadbill.console, "sessions", lambda: module_sessions)

    def read(app: typer.Typer, *args: str) -> list[dict[str, str]]:
        result = CliRunner().invoke(app, list(args))
        assert result.exit_code == 0, result.output
        return list(csv.DictReader(io.StringIO(result.output, newline="")))

    return read


@by_prefix
def test_call_report_csv_neutralises_a_lead_starting_with(
    read_csv: ReadCsv, code: str, prefix: str
) -> None:
    (row,) = read_csv(reports_app, "call-report", code, "--as-of", "2026-04-30", "--format", "csv")
    assert {column: row[column] for column in LEAD_TEXT} == dict.fromkeys(
        LEAD_TEXT, neutralised(formula(prefix))
    )
    assert (row["calls"], row["counted"], row["reason"]) == ("1", "yes", "called")


@by_prefix
def test_summary_csv_neutralises_a_plan_name_starting_with(
    read_csv: ReadCsv, code: str, prefix: str
) -> None:
    args = ("summary", code, "--as-of", "2026-04-21T00:00Z", "--format", "csv")
    fields = {row["field"]: row["value"] for row in read_csv(reports_app, *args)}
    assert fields["plan_name"] == neutralised(formula(prefix))
    assert (fields["plan"], fields["counted_leads"], fields["fee"]) == (code, "1", "1000.00 USD")


@by_prefix
def test_invoice_export_neutralises_a_line_description_starting_with(
    read_csv: ReadCsv, may_invoices: dict[str, str], code: str, prefix: str
) -> None:
    rows = read_csv(invoices_app, "export", "--account", code)
    fee = f"{neutralised(formula(prefix))}: 100 leads"
    overage = "Overage 2026-04-01 to 2026-04-30: 1 lead counted, 100 included, 0 over"
    assert [
        (r["kind"], r["description"], r["quantity"], r["unit_price"], r["amount"]) for r in rows
    ] == [
        ("plan_fee", f"{fee}, 2026-04-01 to 2026-04-30", "1", "1000.00", "1000.00"),
        ("overage", overage, "0", "9.50", "0.00"),
        ("plan_fee", f"{fee}, 2026-05-01 to 2026-05-31", "1", "1000.00", "1000.00"),
    ]
    assert [(r["invoice"], r["invoice_total"]) for r in rows[1:]] == [
        (may_invoices[code], "1000.00")
    ] * 2


def test_invoice_export_writes_a_credit_line_as_a_negative_number(
    read_csv: ReadCsv, may_invoices: dict[str, str]
) -> None:
    rows = read_csv(invoices_app, "export", may_invoices["agent"])
    # The fee of pkg-100 less 20/30 of the fee difference (1800.00 - 1000.00) credited.
    assert [(r["kind"], r["unit_price"], r["amount"], r["invoice_total"]) for r in rows[-2:]] == [
        ("plan_fee", "1000.00", "1000.00", "466.67"),
        ("credit", "-533.33", "-533.33", "466.67"),
    ]


@by_prefix
def test_explain_csv_neutralises_a_lead_starting_with(
    read_csv: ReadCsv, may_invoices: dict[str, str], code: str, prefix: str
) -> None:
    rows = read_csv(invoices_app, "explain", may_invoices[code], "--format", "csv")
    (lead,) = [row for row in rows if row["lead_id"]]
    assert lead["lead_id"] == neutralised(formula(prefix))
    assert (lead["kind"], lead["amount"], lead["counted"]) == ("overage", "0.00", "yes")
    assert [(row["kind"], row["amount"]) for row in rows if not row["lead_id"]] == [
        ("overage", "0.00"),
        ("plan_fee", "1000.00"),
    ]


def test_explain_csv_writes_a_credit_line_as_a_negative_number(
    read_csv: ReadCsv, may_invoices: dict[str, str]
) -> None:
    rows = read_csv(invoices_app, "explain", may_invoices["agent"], "--format", "csv")
    assert [(row["kind"], row["amount"]) for row in rows if row["kind"] == "credit"] == [
        ("credit", "-533.33")
    ]
