"""Receivables: days past due, aging buckets and their totals per currency.

An invoice is receivable while it is open with a balance due; once paid, void or
written off as uncollectible it is not. It is overdue on a date (the account's
local date of the instant asked about) after its due date; on the due date itself
it is still current. The aging buckets are current, 1-30, 31-60, 61-90 and over
90 days past due. Totals are kept per currency and never mix two.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from leadbill.core.errors import RuleViolation
from leadbill.core.money import Money

RECEIVABLE_STATUS = "open"


class Bucket(enum.StrEnum):
    """An aging bucket, by days past due."""

    CURRENT = "current"
    DAYS_1_30 = "days_1_30"
    DAYS_31_60 = "days_31_60"
    DAYS_61_90 = "days_61_90"
    OVER_90 = "over_90"

    @property
    def label(self) -> str:
        """The bucket as a column heading reads it (1–30)."""
        return BUCKET_LABELS[self]


BUCKETS: tuple[Bucket, ...] = tuple(Bucket)
BUCKET_LABELS = {
    Bucket.CURRENT: "Current",
    Bucket.DAYS_1_30: "1–30",
    Bucket.DAYS_31_60: "31–60",
    Bucket.DAYS_61_90: "61–90",
    Bucket.OVER_90: "Over 90",
}


def is_receivable(status: str, balance: Money) -> bool:
    """Whether an invoice is owed: open with a positive balance due."""
    return status == RECEIVABLE_STATUS and balance.amount > 0


def days_past_due(status: str, due_on: date | None, balance: Money, on: date) -> int:
    """Days after `due_on` on the local date `on`; 0 when not overdue or not receivable."""
    if due_on is None or not is_receivable(status, balance) or on <= due_on:
        return 0
    return (on - due_on).days


def bucket_of(days: int) -> Bucket:
    """The aging bucket of a number of days past due (0 is current)."""
    if days < 0:
        raise RuleViolation("days", "days past due are never negative")
    if days == 0:
        return Bucket.CURRENT
    if days <= 30:
        return Bucket.DAYS_1_30
    if days <= 60:
        return Bucket.DAYS_31_60
    if days <= 90:
        return Bucket.DAYS_61_90
    return Bucket.OVER_90


@dataclass(frozen=True, slots=True)
class AgedBalance:
    """One receivable balance and its days past due."""

    balance: Money
    days_past_due: int


@dataclass(frozen=True, slots=True)
class AgingTotals:
    """Balances of one currency summed per bucket; `total` is their sum."""

    currency: str
    amounts: tuple[Money, ...]  # in BUCKETS order

    def amount(self, bucket: Bucket) -> Money:
        """The sum of the balances in one bucket."""
        return self.amounts[BUCKETS.index(bucket)]

    @property
    def total(self) -> Money:
        """Every bucket together."""
        result = Money.zero(self.currency).rounded()
        for amount in self.amounts:
            result = result + amount
        return result


def empty_totals(currency: str) -> AgingTotals:
    """Zero in every bucket, shown to the currency's minor unit."""
    return AgingTotals(currency, tuple(Money.zero(currency).rounded() for _ in BUCKETS))


def add_balance(totals: AgingTotals, item: AgedBalance) -> AgingTotals:
    """The totals with one more balance in its bucket; another currency is refused."""
    if item.balance.currency != totals.currency:
        raise RuleViolation(
            "currency", f"cannot add {item.balance.currency} to {totals.currency} totals"
        )
    index = BUCKETS.index(bucket_of(item.days_past_due))
    amounts = list(totals.amounts)
    amounts[index] = amounts[index] + item.balance
    return AgingTotals(totals.currency, tuple(amounts))


def aging_totals(items: Iterable[AgedBalance]) -> list[AgingTotals]:
    """The balances summed per bucket, one AgingTotals per currency, by currency code."""
    found: dict[str, AgingTotals] = {}
    for item in items:
        currency = item.balance.currency
        found[currency] = add_balance(found.get(currency) or empty_totals(currency), item)
    return [found[currency] for currency in sorted(found)]
