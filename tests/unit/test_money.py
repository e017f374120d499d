"""Money: Decimal with an ISO 4217 currency, rounded half up once per line."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from leadbill.core.errors import RuleViolation
from leadbill.core.money import (
    Money,
    check_currency,
    format_money,
    minor_unit,
    parse_decimal,
    total,
)


def usd(amount: str) -> Money:
    return Money.of(amount, "USD")


# --- Decimal only -------------------------------------------------------------------------


def test_money_of_refuses_float_naming_the_field() -> None:
    with pytest.raises(RuleViolation) as error:
        Money.of(9.5, "USD")
    assert error.value.field == "amount"
    assert "float" in error.value.reason


def test_money_constructor_refuses_float_amount() -> None:
    with pytest.raises(TypeError, match="Decimal"):
        Money(9.5, "USD")  # type: ignore[arg-type]


def test_money_multiplication_by_float_is_refused() -> None:
    with pytest.raises(TypeError, match="float"):
        usd("9.50") * 1.5  # type: ignore[operator]


def test_parse_decimal_refuses_float_with_the_callers_field() -> None:
    with pytest.raises(RuleViolation) as error:
        parse_decimal(0.1, "per_lead_rate")
    assert error.value.field == "per_lead_rate"


@pytest.mark.parametrize("value", ["abc", "", "1,5", "NaN", "Infinity", "-inf", True])
def test_parse_decimal_refuses_non_amounts(value: object) -> None:
    with pytest.raises(RuleViolation) as error:
        parse_decimal(value, "fee")
    assert error.value.field == "fee"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("9.50", Decimal("9.50")),
        (" 12 ", Decimal("12")),
        (7, Decimal("7")),
        (Decimal("0.1"), Decimal("0.1")),
    ],
)
def test_parse_decimal_accepts_strings_ints_and_decimals(value: object, expected: Decimal) -> None:
    assert parse_decimal(value, "fee") == expected


def test_money_of_keeps_the_exact_decimal() -> None:
    # 0.1 + 0.2 is exactly 0.3 in Decimal, unlike binary floating point.
    assert (usd("0.1") + usd("0.2")).amount == Decimal("0.3")


def test_money_constructor_refuses_non_finite_amount() -> None:
    with pytest.raises(RuleViolation) as error:
        Money(Decimal("NaN"), "USD")
    assert error.value.field == "amount"


# --- ISO 4217 currency --------------------------------------------------------------------


@pytest.mark.parametrize("code", ["ZZZ", "ABC", "US", "USDX", "", "12$"])
def test_unknown_currency_is_refused_naming_the_field(code: str) -> None:
    with pytest.raises(RuleViolation) as error:
        Money.of("1.00", code)
    assert error.value.field == "currency"
    assert "ISO 4217" in error.value.reason


def test_check_currency_normalises_case_and_spaces() -> None:
    assert check_currency(" usd ") == "USD"
    assert Money.of("1", "eur").currency == "EUR"


# --- Minor units and rounding half up -----------------------------------------------------


@pytest.mark.parametrize(("currency", "places"), [("USD", 2), ("EUR", 2), ("JPY", 0), ("KWD", 3)])
def test_minor_unit_per_currency(currency: str, places: int) -> None:
    assert minor_unit(currency) == places


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("2.345", "USD", "2.35"),
        ("2.344", "USD", "2.34"),
        ("2.3449999", "USD", "2.34"),
        ("0.005", "USD", "0.01"),
        ("0.5", "JPY", "1"),
        ("1.4", "JPY", "1"),
        ("2.5", "JPY", "3"),
        ("1.0005", "KWD", "1.001"),
        ("1.0004", "KWD", "1.000"),
        ("285", "USD", "285.00"),
    ],
)
def test_rounded_half_up_to_the_minor_unit(amount: str, currency: str, expected: str) -> None:
    rounded = Money.of(amount, currency).rounded()
    assert rounded.amount == Decimal(expected)
    # The exponent is the currency's: 285 USD is 285.00, not 285.
    assert str(rounded.amount) == expected
    assert rounded.currency == currency


@pytest.mark.parametrize(
    ("amount", "expected"), [("-2.345", "-2.35"), ("-2.344", "-2.34"), ("-0.005", "-0.01")]
)
def test_negative_half_rounds_away_from_zero(amount: str, expected: str) -> None:
    # ROUND_HALF_UP in Decimal rounds a tie away from zero, so a credit of -2.345
    # mirrors a charge of 2.345 exactly: -2.35 (not -2.34 as "towards +inf" would).
    assert usd(amount).rounded().amount == Decimal(expected)
    assert (-usd(amount[1:])).rounded() == -(usd(amount[1:]).rounded())


def test_rounding_is_idempotent() -> None:
    once = usd("2.345").rounded()
    assert once.rounded() == once
    assert str(once.rounded().amount) == "2.35"


# --- No mixing of currencies --------------------------------------------------------------


@pytest.mark.parametrize(
    "combine",
    [
        lambda a, b: a + b,
        lambda a, b: a - b,
        lambda a, b: a < b,
        lambda a, b: a <= b,
    ],
)
def test_currencies_never_mix(combine: Callable[[Money, Money], object]) -> None:
    with pytest.raises(RuleViolation) as error:
        combine(usd("1.00"), Money.of("1.00", "EUR"))
    assert error.value.field == "currency"
    assert "USD" in error.value.reason and "EUR" in error.value.reason


def test_total_refuses_a_line_in_another_currency() -> None:
    with pytest.raises(RuleViolation):
        total([usd("1.00"), Money.of("1", "JPY")], "USD")


# --- Totals are sums of rounded lines -----------------------------------------------------


def test_total_is_the_sum_of_rounded_lines_not_the_rounded_sum() -> None:
    # Three lines of 0.005 each round to 0.01: the total is 0.03, whereas
    # rounding the exact sum (0.015) would give 0.02. The invoice shows lines, so
    # the total must add up to what the customer reads.
    lines = [usd("0.005").rounded() for _ in range(3)]
    assert total(lines, "USD").amount == Decimal("0.03")
    assert usd("0.015").rounded().amount == Decimal("0.02")


@pytest.mark.parametrize(
    ("currency", "expected"), [("USD", "0.00 USD"), ("JPY", "0 JPY"), ("KWD", "0.000 KWD")]
)
def test_total_of_no_lines_is_zero_in_minor_units(currency: str, expected: str) -> None:
    empty = total([], currency)
    assert empty.is_zero()
    assert str(empty) == expected


def test_arithmetic_and_comparison_in_one_currency() -> None:
    assert usd("10.00") - usd("2.50") == usd("7.50")
    assert usd("9.50") * 30 == usd("285.00")
    assert 30 * usd("9.50") == usd("285.00")
    assert usd("9.50") * Decimal("0.5") == usd("4.75")
    assert usd("1.00") < usd("1.01")
    assert usd("1.00") <= usd("1.00")
    assert str(usd("57.00")) == "57.00 USD"


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        ("500.000000", "USD", "500.00 USD"),  # PostgreSQL reads money back at scale 6
        ("1040", "USD", "1,040.00 USD"),
        ("-1234567.5", "USD", "-1,234,567.50 USD"),
        ("0.125", "USD", "0.125 USD"),  # an exact rate keeps its digits
        ("1203.000000", "JPY", "1,203 JPY"),
        ("12.3456", "KWD", "12.3456 KWD"),
    ],
)
def test_money_is_printed_at_the_minor_unit_with_no_digit_dropped(
    amount: str, currency: str, text: str
) -> None:
    assert format_money(Decimal(amount), currency) == text
    assert str(Money.of(amount, currency)) == text
    assert format_money(Decimal(amount), currency, code=False) == text.removesuffix(f" {currency}")
