"""Plan advice ("Which plan should I choose?", seed 000): past periods priced on each plan."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

import leadbill.console
from leadbill.accounts.models import Account
from leadbill.billing.service import run_billing
from leadbill.errors import Conflict, InvalidInput
from leadbill.plans.advice import advise_account
from leadbill.plans.commands import app as plans_app
from tests.conftest import utc
from tests.integration.usage_fixtures import ingest, lead_rows, plan, subscribed

# Leads called in January, February and March 2026 (periods 0, 1, 2).
USAGE = {1: 190, 2: 221, 3: 205}


def _ladder_account(session: Session) -> Account:
    isa_100 = plan(session, "isa-100", "1000.00", 100, "9.50")
    plan(session, "isa-200", "1800.00", 200, "8.75")
    plan(session, "isa-300", "2500.00", 300, "8.00")
    # Not comparable: another currency, another interval, another ladder.
    plan(session, "isa-200-eur", "1700.00", 200, "8.00", currency="EUR")
    plan(session, "isa-200-year", "18000.00", 2400, "8.00", interval="year")
    plan(session, "other-200", "100.00", 200, "1.00", ladder="other")
    customer = subscribed(session, "agent", isa_100)
    rows: list[dict[str, str]] = []
    for month, count in USAGE.items():
        for number in range(count):
            at = utc(2026, month, 2) + timedelta(minutes=10 * number)
            rows += lead_rows(customer, f"L-{month}-{number:03d}", at, [at + timedelta(minutes=5)])
    # Received in March, never called: it never counts (R2).
    rows += lead_rows(customer, "L-uncalled", utc(2026, 3, 20))
    ingest(session, rows, utc(2026, 4, 1))
    return customer


def test_r4_r5_advice_prices_each_plan_of_the_ladder_to_the_cent(session: Session) -> None:
    customer = _ladder_account(session)
    result = advise_account(session, customer, as_of=utc(2026, 4, 15))
    advice = result.advice
    assert [p.period.index for p in advice.current.periods] == [0, 1, 2]
    assert [p.counted_leads for p in advice.current.periods] == [190, 221, 205]
    by_code = {option.plan.code: option for option in advice.options}
    assert set(by_code) == {"isa-100", "isa-200", "isa-300"}
    isa_100, isa_200, isa_300 = by_code["isa-100"], by_code["isa-200"], by_code["isa-300"]
    # isa-100: 1000 + 90, 121, 105 overage leads at 9.50.
    assert [p.overage.amount for p in isa_100.periods] == [
        Decimal("855.00"),
        Decimal("1149.50"),
        Decimal("997.50"),
    ]
    assert [p.total.amount for p in isa_100.periods] == [
        Decimal("1855.00"),
        Decimal("2149.50"),
        Decimal("1997.50"),
    ]
    assert isa_100.total.amount == Decimal("6002.00")
    assert isa_100.lost_leads == 0
    # isa-200: 1800 + 0, 21, 5 overage leads at 8.75; 10 leads lost in January.
    assert [p.total.amount for p in isa_200.periods] == [
        Decimal("1800.00"),
        Decimal("1983.75"),
        Decimal("1843.75"),
    ]
    assert [p.lost_leads for p in isa_200.periods] == [10, 0, 0]
    assert isa_200.total.amount == Decimal("5627.50")
    # isa-300: the fee only; 110 + 79 + 95 leads lost to expiry.
    assert isa_300.total.amount == Decimal("7500.00")
    assert isa_300.lost_leads == 284
    assert [o.plan.code for o in advice.options] == ["isa-200", "isa-100", "isa-300"]
    assert advice.recommended.plan.code == "isa-200"
    assert advice.reasoning == (
        "isa-200 would have cost 5,627.50 USD over 3 months, 374.50 USD less than your "
        "isa-100; you used 190\u2013221 leads a month"
    )


def test_r4_advice_counts_all_periods_with_the_billing_usage_query_once(
    session: Session,
) -> None:
    customer = _ladder_account(session)
    statements: list[str] = []
    bind = session.get_bind()

    def count(_conn: object, _cursor: object, sql: str, *_args: object) -> None:
        if "JOIN leads" in sql:
            statements.append(sql)

    event.listen(bind, "before_cursor_execute", count)
    try:
        advise_account(session, customer, as_of=utc(2026, 4, 15))
    finally:
        event.remove(bind, "before_cursor_execute", count)
    assert len(statements) == 1


def test_r4_advice_agrees_with_the_invoices_of_the_same_periods(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session, session.begin():
        customer = _ladder_account(session)
    run_billing(sessions, utc(2026, 4, 1))
    with sessions() as session, session.begin():
        from leadbill.billing.invoices import invoice_lines, list_invoices

        overage = [
            line.amount
            for invoice in list_invoices(session, account_id=customer.id)
            for line in invoice_lines(session, invoice.id)
            if line.kind == "overage"
        ]
        advice = advise_account(session, customer, as_of=utc(2026, 4, 1)).advice
        assert overage == [p.overage.amount for p in advice.current.periods]


def test_advice_uses_the_last_n_closed_periods(session: Session) -> None:
    customer = _ladder_account(session)
    advice = advise_account(session, customer, as_of=utc(2026, 4, 15), periods=2).advice
    assert [p.period.index for p in advice.current.periods] == [1, 2]
    # isa-100: 2149.50 + 1997.50; isa-200: 1983.75 + 1843.75.
    assert advice.current.total.amount == Decimal("4147.00")
    assert advice.recommended.total.amount == Decimal("3827.50")
    # Only January has closed by mid-February.
    one = advise_account(session, customer, as_of=utc(2026, 2, 15)).advice
    assert [p.period.index for p in one.current.periods] == [0]
    assert one.reasoning.endswith(
        "over 1 month, 55.00 USD less than your isa-100; you used 190 leads a month"
    )


def test_advice_without_a_closed_period_says_so(session: Session) -> None:
    customer = _ladder_account(session)
    with pytest.raises(Conflict, match="no closed period"):
        advise_account(session, customer, as_of=utc(2026, 1, 20))
    with pytest.raises(InvalidInput, match="periods"):
        advise_account(session, customer, as_of=utc(2026, 4, 15), periods=0)


def test_advise_command_prints_the_table_and_the_reasoning(
    sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    with sessions() as session, session.begin():
        _ladder_account(session)
    monkeypatch.setattr(leadbill.console, "sessions", lambda: sessions)
    monkeypatch.setattr(leadbill.console.out, "width", 200)
    result = CliRunner().invoke(plans_app, ["advise", "agent", "--as-of", "2026-04-15T00:00:00Z"])
    assert result.exit_code == 0, result.output
    assert "isa-200 would have cost 5,627.50 USD over 3 months" in result.output
    assert "recommended" in result.output
    failed = CliRunner().invoke(plans_app, ["advise", "agent", "--as-of", "2026-01-20"])
    assert failed.exit_code == Conflict.exit_code
