"""Counted leads per day of the current period, for the dashboard's chart.

The counts come from the billing run's own counting query
(`billing.repository.counted_leads`), asked once for every local day of the
period so far: the chart can never disagree with the invoice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from leadbill.billing.repository import ClosingPeriod, counted_leads
from leadbill.core.plans import CountingPolicy
from leadbill.reports.service import BillingSummary

# Synthetic period indexes for the day spans (real periods are >= 0).
_DAY_INDEX_BASE = -1_000_000


@dataclass(frozen=True, slots=True)
class DayCount:
    """Leads counted on one local day, and the running total of the period."""

    day: date
    counted: int
    cumulative: int


def daily_counts(
    session: Session,
    *,
    account_id: int,
    subscription_id: int,
    time_zone: str,
    summary: BillingSummary,
    policy: CountingPolicy,
) -> list[DayCount]:
    """Each local day from the period start to `as_of` with the leads counted on it."""
    zone = ZoneInfo(time_zone)
    first = summary.period_start.astimezone(zone).date()
    last_instant = min(summary.as_of, summary.period_end - timedelta(microseconds=1))
    last = last_instant.astimezone(zone).date()
    days: list[date] = []
    day = first
    while day <= last:
        days.append(day)
        day += timedelta(days=1)
    spans = [
        ClosingPeriod(
            subscription_id,
            _DAY_INDEX_BASE - n,
            account_id,
            max(summary.period_start, _midnight(day, zone)),
            min(summary.period_end, _midnight(day + timedelta(days=1), zone)),
        )
        for n, day in enumerate(days)
    ]
    counts = counted_leads(session, spans, policy) if spans else {}
    result: list[DayCount] = []
    running = 0
    for span, day in zip(spans, days, strict=True):
        counted = counts.get((subscription_id, span.period_index), 0)
        running += counted
        result.append(DayCount(day, counted, running))
    return result


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(ZoneInfo("UTC"))


@dataclass(frozen=True, slots=True)
class Chart:
    """An SVG chart's geometry: daily bars, the running total and the allowance line."""

    width: int
    height: int
    bars: list[tuple[float, float, float, float, str]]  # x, y, width, height, title
    running: str  # polyline points
    allowance_y: float | None
    top: int


def chart(days: list[DayCount], allowance: int, width: int = 640, height: int = 220) -> Chart:
    """Scale the days into a chart; the y axis reaches the allowance or the total."""
    top = max([allowance, *(d.cumulative for d in days), 1])
    plot_h = height - 20
    slot = width / max(len(days), 1)

    def y(value: int) -> float:
        return round(height - value / top * plot_h, 1)

    bars = [
        (
            round(n * slot + slot * 0.15, 1),
            y(d.counted),
            round(slot * 0.7, 1),
            round(height - y(d.counted), 1),
            f"{d.day:%b %d}: {d.counted} counted, {d.cumulative} so far",
        )
        for n, d in enumerate(days)
    ]
    running = " ".join(
        f"{round(n * slot + slot / 2, 1)},{y(d.cumulative)}" for n, d in enumerate(days)
    )
    return Chart(width, height, bars, running, y(allowance) if allowance else None, top)
