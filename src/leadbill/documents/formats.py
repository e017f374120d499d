"""Amounts and dates as documents and pages print them: in the account's time zone."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from leadbill.core.money import format_money


def money(amount: Any, currency: str | None = None) -> str:
    """An amount with its currency, as people read it (1,203.29 USD)."""
    if currency is None:  # a Money
        amount, currency = amount.amount, amount.currency
    return format_money(Decimal(amount) if isinstance(amount, int) else amount, currency)


def local(value: datetime | None, time_zone: str = "UTC", fmt: str = "%Y-%m-%d %H:%M") -> str:
    """An instant in a time zone (the account's), or a dash."""
    if value is None:
        return "—"
    return value.astimezone(ZoneInfo(time_zone)).strftime(fmt)


def last_day(end: datetime | None, time_zone: str = "UTC") -> str:
    """The last local date of a half-open period that ends at `end`."""
    if end is None:
        return "—"
    return local(end - timedelta(microseconds=1), time_zone, "%Y-%m-%d")
