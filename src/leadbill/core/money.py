"""Money: an exact Decimal amount with an ISO 4217 currency.

Rounding happens in exactly one place, `Money.rounded`, half up to the
currency's minor unit, once per invoice line. Totals are sums of rounded lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache

from babel.numbers import get_currency_precision, is_currency

from leadbill.core.errors import RuleViolation


def check_currency(code: str) -> str:
    """Return the upper-case ISO 4217 code, or raise if it is not one."""
    upper = code.strip().upper()
    if len(upper) != 3 or not is_currency(upper):
        raise RuleViolation("currency", f"{code!r} is not an ISO 4217 currency code")
    return upper


@lru_cache(maxsize=512)
def minor_unit(currency: str) -> int:
    """Number of decimal places of the currency's minor unit (USD 2, JPY 0, KWD 3)."""
    return int(get_currency_precision(currency))


@lru_cache(maxsize=512)
def _quantum(currency: str) -> Decimal:
    """The currency's minor unit as a Decimal: 0.01 for USD, 1 for JPY."""
    return Decimal(1).scaleb(-minor_unit(currency))


def round_amount(amount: Decimal, currency: str) -> Decimal:
    """Round half up to the currency's minor unit: the one rounding of a line."""
    return amount.quantize(_quantum(currency), rounding=ROUND_HALF_UP)


def parse_decimal(value: object, field: str) -> Decimal:
    """Parse a decimal amount from a string, int or Decimal; floats are refused."""
    if isinstance(value, float):
        raise RuleViolation(field, "floats are not accepted for money; use a decimal string")
    if isinstance(value, bool):
        raise RuleViolation(field, "not a decimal amount")
    try:
        result = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise RuleViolation(field, f"{value!r} is not a decimal amount") from None
    if not result.is_finite():
        raise RuleViolation(field, f"{value!r} is not a finite amount")
    return result


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount in one currency; arithmetic never mixes currencies."""

    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, Decimal):
            raise TypeError("Money.amount must be a Decimal")
        if not self.amount.is_finite():
            raise RuleViolation("amount", "must be finite")

    @classmethod
    def of(cls, amount: object, currency: str) -> Money:
        """Build Money from a decimal string, int or Decimal and a currency code."""
        return cls(parse_decimal(amount, "amount"), check_currency(currency))

    @classmethod
    def zero(cls, currency: str) -> Money:
        """Zero in the given currency."""
        return cls(Decimal(0), currency)

    def _same(self, other: Money) -> None:
        if self.currency != other.currency:
            raise RuleViolation("currency", f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __mul__(self, factor: int | Decimal) -> Money:
        if isinstance(factor, float):
            raise TypeError("multiply Money by int or Decimal, never float")
        return Money(self.amount * factor, self.currency)

    __rmul__ = __mul__

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount <= other.amount

    def rounded(self) -> Money:
        """Round half up to the currency's minor unit: the one rounding of a line."""
        return Money(round_amount(self.amount, self.currency), self.currency)

    def is_zero(self) -> bool:
        """True when the amount is zero."""
        return self.amount == 0

    def __str__(self) -> str:
        return format_money(self.amount, self.currency)


def format_money(amount: Decimal, currency: str, *, code: bool = True) -> str:
    """An amount as people read it, with its currency unless `code` is False: 1,203.29 USD.

    The one format of money in messages, CLI output, pages and PDFs. It shows the
    currency's minor unit and drops no digit: 500.000000 (how PostgreSQL reads back a
    money column) is 500.00, JPY 1203 is 1,203, and an exact rate of 0.125 stays 0.125.
    """
    quantum = _quantum(currency)
    exact = amount.quantize(quantum) if amount == amount.quantize(quantum) else amount.normalize()
    text = f"{exact:,f}"
    return f"{text} {currency}" if code else text


def total(lines: list[Money], currency: str) -> Money:
    """Sum already-rounded line amounts; a total is never rounded again."""
    # Start from zero in minor units so that even an empty total reads 0.00 USD.
    result = Money.zero(currency).rounded()
    for line in lines:
        result = result + line
    return result
