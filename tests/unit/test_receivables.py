"""Receivables in the core: days past due, aging buckets at their boundaries, totals."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from leadbill.core.errors import RuleViolation
from leadbill.core.money import Money
from leadbill.core.receivables import (
    BUCKETS,
    AgedBalance,
    AgingTotals,
    Bucket,
    add_balance,
    aging_totals,
    bucket_of,
    days_past_due,
    empty_totals,
    is_receivable,
)
from leadbill.receivables.export import csv_text, write_csv
from leadbill.receivables.service import AgingReport, AgingRow

DUE = date(2026, 3, 15)


def usd(amount: str) -> Money:
    return Money(Decimal(amount), "USD")


def test_on_the_due_date_an_invoice_is_not_yet_overdue() -> None:
    assert days_past_due("open", DUE, usd("10.00"), DUE) == 0
    assert days_past_due("open", DUE, usd("10.00"), DUE - timedelta(days=3)) == 0


def test_days_past_due_count_the_days_after_the_due_date() -> None:
    assert days_past_due("open", DUE, usd("10.00"), DUE + timedelta(days=1)) == 1
    assert days_past_due("open", DUE, usd("0.01"), date(2026, 4, 14)) == 30
    assert days_past_due("open", DUE, usd("10.00"), date(2027, 3, 15)) == 365


@pytest.mark.parametrize("status", ["draft", "paid", "void", "uncollectible"])
def test_only_an_open_invoice_is_ever_overdue(status: str) -> None:
    assert days_past_due(status, DUE, usd("10.00"), DUE + timedelta(days=40)) == 0
    assert not is_receivable(status, usd("10.00"))


def test_an_open_invoice_with_nothing_left_to_pay_or_no_due_date_is_not_overdue() -> None:
    late = DUE + timedelta(days=40)
    assert days_past_due("open", DUE, usd("0.00"), late) == 0
    assert days_past_due("open", None, usd("10.00"), late) == 0
    assert is_receivable("open", usd("0.01"))
    assert not is_receivable("open", usd("0"))


@pytest.mark.parametrize(
    ("days", "bucket"),
    [
        (0, Bucket.CURRENT),
        (1, Bucket.DAYS_1_30),
        (30, Bucket.DAYS_1_30),
        (31, Bucket.DAYS_31_60),
        (60, Bucket.DAYS_31_60),
        (61, Bucket.DAYS_61_90),
        (90, Bucket.DAYS_61_90),
        (91, Bucket.OVER_90),
        (4000, Bucket.OVER_90),
    ],
)
def test_aging_bucket_boundaries(days: int, bucket: Bucket) -> None:
    assert bucket_of(days) is bucket


def test_negative_days_past_due_are_refused() -> None:
    with pytest.raises(RuleViolation) as raised:
        bucket_of(-1)
    assert raised.value.field == "days"


def test_bucket_labels_read_as_column_headings() -> None:
    assert [bucket.label for bucket in BUCKETS] == ["Current", "1–30", "31–60", "61–90", "Over 90"]


def test_aging_totals_sum_each_bucket_to_the_cent_per_currency() -> None:
    items = [
        AgedBalance(usd("100.10"), 0),
        AgedBalance(usd("0.05"), 0),
        AgedBalance(usd("250.00"), 1),
        AgedBalance(usd("49.95"), 30),
        AgedBalance(usd("10.00"), 31),
        AgedBalance(usd("20.00"), 61),
        AgedBalance(usd("30.01"), 90),
        AgedBalance(usd("1000.00"), 91),
        AgedBalance(Money(Decimal("400.00"), "EUR"), 45),
    ]
    eur, usd_totals = aging_totals(items)
    assert eur.currency == "EUR" and usd_totals.currency == "USD"
    assert [str(usd_totals.amount(b)) for b in BUCKETS] == [
        "100.15 USD",
        "299.95 USD",
        "10.00 USD",
        "50.01 USD",
        "1,000.00 USD",
    ]
    assert usd_totals.total == usd("1460.11")
    assert [str(eur.amount(b)) for b in BUCKETS] == [
        "0.00 EUR",
        "0.00 EUR",
        "400.00 EUR",
        "0.00 EUR",
        "0.00 EUR",
    ]
    assert eur.total == Money(Decimal("400.00"), "EUR")


def test_aging_totals_never_mix_currencies() -> None:
    with pytest.raises(RuleViolation) as raised:
        add_balance(empty_totals("USD"), AgedBalance(Money(Decimal("1.00"), "EUR"), 3))
    assert raised.value.field == "currency"


def test_no_balances_give_no_totals_and_empty_totals_read_zero() -> None:
    assert aging_totals([]) == []
    totals = empty_totals("JPY")
    assert isinstance(totals, AgingTotals)
    assert str(totals.total) == "0 JPY"
    assert [str(totals.amount(b)) for b in BUCKETS] == ["0 JPY"] * 5


def test_the_aging_csv_writes_amounts_as_numbers_and_never_a_formula() -> None:
    # A credit balance is negative; a code stored before codes were checked may start
    # with "=": the first must stay a number a spreadsheet sums, the second must not run.
    totals = AgingTotals("USD", (usd("-5.00"), *(usd("0.00") for _ in BUCKETS[1:])))
    row = AgingRow(entity="us", account="=HYPERLINK(1)", invoices=1, totals=totals)
    report = AgingReport(
        as_of=datetime(2026, 7, 1, tzinfo=UTC),
        entity=None,
        account=None,
        accounts=[row],
        entities=[],
        totals=[],
    )
    text = csv_text(report)
    assert text.splitlines()[1] == (
        "2026-07-01T00:00:00Z,account,us,'=HYPERLINK(1),USD,1,-5.00,0.00,0.00,0.00,0.00,-5.00"
    )
    written = io.StringIO()
    write_csv(report, written)  # the CLI's path writes the same bytes as the downloads
    assert written.getvalue() == text
