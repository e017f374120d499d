"""Counted leads per day of the current period, for the dashboard's chart.

The counts come from the billing run's own counting query
(`billing.repository.counted_leads`), asked once for every local day of the
period so far: the chart can never disagree with the invoice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from leadbill.billing.repository import ClosingPeriod, counted_leads
from leadbill.core.plans import CountingPolicy
from leadbill.reports.service import BillingSummary, day_spans

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
    """Each local day from the period start to `as_of` with the leads counted on it.

    The summary usually read them already (`counted_by_day`); a period split by a
    plan change is counted here, day by day.
    """
    days = day_spans(summary.period, summary.as_of, time_zone)
    if summary.counted_by_day is not None:
        per_day = [usage.counted_leads for usage in summary.counted_by_day]
    else:
        spans = [
            ClosingPeriod(subscription_id, _DAY_INDEX_BASE - n, account_id, start, end)
            for n, (_day, start, end) in enumerate(days)
        ]
        counts = counted_leads(session, spans, policy) if spans else {}
        per_day = [counts.get((subscription_id, span.period_index), 0) for span in spans]
    result: list[DayCount] = []
    running = 0
    for (day, _start, _end), counted in zip(days, per_day, strict=True):
        running += counted
        result.append(DayCount(day, counted, running))
    return result


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
