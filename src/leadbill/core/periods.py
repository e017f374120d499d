"""Billing periods: half-open `[start, end)` intervals in UTC.

A subscription's periods are anchored on its start, read as a wall-clock time in
the account's time zone. Period k starts at the anchor plus k months (or k
years); a day of month the target month lacks clamps to its last day, always
measured from the anchor, so Jan 31 -> Feb 28 -> Mar 31. Converting each
boundary from local wall time to UTC keeps periods correct across DST changes.
"""

from __future__ import annotations

import calendar
import enum
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from leadbill.core.errors import RuleViolation


class Interval(enum.StrEnum):
    """How long one billing period lasts."""

    MONTH = "month"
    YEAR = "year"

    @property
    def months(self) -> int:
        """Length of the interval in calendar months."""
        return 1 if self is Interval.MONTH else 12


@dataclass(frozen=True, slots=True)
class Period:
    """One billing period `[start, end)` in UTC, numbered from 0 at the anchor."""

    index: int
    start: datetime
    end: datetime

    def contains(self, instant: datetime) -> bool:
        """True when `start <= instant < end`."""
        return self.start <= instant < self.end

    @property
    def seconds(self) -> int:
        """Length of the period in whole seconds."""
        return int((self.end - self.start).total_seconds())


def check_time_zone(name: str) -> ZoneInfo:
    """Return the IANA time zone, or raise naming the field."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise RuleViolation("time_zone", f"{name!r} is not an IANA time zone") from None


def require_utc(instant: datetime, field: str = "instant") -> datetime:
    """Return the instant in UTC; a naive datetime is refused, never guessed."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise RuleViolation(
            field, "must carry a time zone offset (for example 2026-01-01T00:00:00Z)"
        )
    return instant.astimezone(UTC)


def _add_months(local: datetime, months: int, anchor_day: int) -> datetime:
    total = local.year * 12 + (local.month - 1) + months
    year, month0 = divmod(total, 12)
    day = min(anchor_day, calendar.monthrange(year, month0 + 1)[1])
    return local.replace(year=year, month=month0 + 1, day=day)


def _wall_to_utc(wall: datetime, zone: ZoneInfo) -> datetime:
    """Wall-clock time in `zone` to UTC; a time skipped by DST moves forward."""
    # fold=0 reads the wall time with the offset in force before a transition, as
    # RFC 5545 does: a repeated time (fall back) is its first occurrence, and a
    # skipped time (spring forward) moves forward by the length of the gap, so
    # 02:30 on the New York spring-forward day is 03:30 EDT and a midnight that
    # DST skips (America/Sao_Paulo, 2018-11-04) is 01:00 of that same day.
    # (fold=1 would move a skipped time backwards, onto the previous day.)
    return wall.replace(tzinfo=zone, fold=0).astimezone(UTC)


# Pure functions of their arguments, called for every subscription of a billing run,
# whose subscriptions share a few anchors and time zones: each result is kept.
@lru_cache(maxsize=65536)
def period_at(anchor: datetime, time_zone: str, interval: Interval, index: int) -> Period:
    """The period number `index` of a subscription anchored at `anchor`."""
    if index < 0:
        raise RuleViolation("index", "period index must be zero or more")
    zone = check_time_zone(time_zone)
    local_anchor = require_utc(anchor, "anchor").astimezone(zone).replace(tzinfo=None)
    step = interval.months
    start_wall = _add_months(local_anchor, index * step, local_anchor.day)
    end_wall = _add_months(local_anchor, (index + 1) * step, local_anchor.day)
    start = anchor.astimezone(UTC) if index == 0 else _wall_to_utc(start_wall, zone)
    return Period(index, start, _wall_to_utc(end_wall, zone))


def period_containing(
    anchor: datetime, time_zone: str, interval: Interval, instant: datetime
) -> Period:
    """The period that contains `instant` (which must not precede the anchor)."""
    instant = require_utc(instant)
    anchor = require_utc(anchor, "anchor")
    if instant < anchor:
        raise RuleViolation("instant", "precedes the subscription start")
    # Estimate from elapsed days, then step to the exact period.
    approx_days = 31 if interval is Interval.MONTH else 366
    index = max(0, int((instant - anchor) / timedelta(days=approx_days)) - 1)
    period = period_at(anchor, time_zone, interval, index)
    while not period.contains(instant):
        index += 1
        period = period_at(anchor, time_zone, interval, index)
    return period


@lru_cache(maxsize=65536)
def describe_period(period: Period, time_zone: str) -> str:
    """The period as the customer reads it: first and last local day, inclusive."""
    zone = check_time_zone(time_zone)
    first = period.start.astimezone(zone).date()
    last = (period.end - timedelta(microseconds=1)).astimezone(zone).date()
    return f"{first:%Y-%m-%d} to {last:%Y-%m-%d}"


def remaining_share(period: Period, instant: datetime) -> Fraction:
    """Exact share of the period left at `instant`, as a ratio of seconds."""
    instant = require_utc(instant)
    if not period.start <= instant <= period.end:
        raise RuleViolation("instant", "is outside the period")
    remaining = int((period.end - instant).total_seconds())
    return Fraction(remaining, period.seconds)


# How far ahead of the clock staff may date a billing run, a cancellation or a seat:
# a run dated later would close periods that have not ended and issue immutable
# invoices on incomplete usage.
HORIZON = timedelta(days=1)


def require_not_ahead(instant: datetime, clock: datetime, field: str) -> datetime:
    """Return `instant`, refused when it is more than HORIZON ahead of `clock`."""
    if instant > clock + HORIZON:
        raise RuleViolation(
            field,
            f"{instant:%Y-%m-%d %H:%M} UTC is more than a day ahead of the clock "
            f"({clock:%Y-%m-%d %H:%M} UTC)",
        )
    return instant


def periods_to_cancellation(
    current: Period,
    anchor_at: datetime,
    time_zone: str,
    interval: Interval,
    cancelled_at: datetime | None,
) -> list[Period]:
    """The current period and those after it up to the one a cancellation ends (R6).

    A cancellation ends the period it was made in: made before the current period
    ended, that period (the list has one); made later (billing lags the clock), the
    period containing it, and the periods between still renew. None (a cancellation
    recorded without its instant) ends the current period.
    """
    found = [current]
    while cancelled_at is not None and cancelled_at >= found[-1].end:
        index = found[-1].index + 1
        # As the billing run opens it: from where the previous one ended to the calendar's end.
        end = period_at(anchor_at, time_zone, interval, index).end
        found.append(Period(index, found[-1].end, end))
    return found
