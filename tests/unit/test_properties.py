"""Properties of the pure core, checked on generated inputs (hypothesis).

Periods tile time in every zone, billability ignores the order and repetition of
events, and invoice lines always carry the currency's minor unit and add up.
"""

from __future__ import annotations

import calendar
import functools
import itertools
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from leadbill.core.billability import EventType, LeadEvent, decide
from leadbill.core.money import Money, minor_unit
from leadbill.core.periods import (
    Interval,
    period_at,
    period_containing,
    remaining_share,
)
from leadbill.core.plans import CountingPolicy
from leadbill.core.rating import Line, boundary_lines, invoice_total, seat_fee
from tests.unit.sample_plans import prepaid_plan

# The machine is shared: a slow example is not a failure.
RELAXED = settings(deadline=None)

ZONES = [
    "UTC",
    "America/New_York",
    "Europe/London",
    "Australia/Lord_Howe",
    "America/Sao_Paulo",
    "Asia/Kolkata",
]


@st.composite
def subscriptions(draw: st.DrawFn) -> tuple[datetime, str, Interval]:
    """An anchor (often on day 29, 30 or 31), the account's zone and the interval."""
    zone_name = draw(st.sampled_from(ZONES))
    year = draw(st.integers(1995, 2055))
    month = draw(st.integers(1, 12))
    day = draw(st.one_of(st.sampled_from([28, 29, 30, 31]), st.integers(1, 31)))
    day = min(day, calendar.monthrange(year, month)[1])
    wall = draw(st.one_of(st.just(time(0)), st.times()))
    fold = draw(st.sampled_from([0, 1]))
    local = datetime.combine(date(year, month, day), wall, tzinfo=ZoneInfo(zone_name))
    anchor = local.replace(fold=fold).astimezone(UTC)
    interval = draw(st.sampled_from(list(Interval)))
    return anchor, zone_name, interval


# --- Periods ------------------------------------------------------------------------------


@RELAXED
@given(subscriptions())
def test_consecutive_periods_tile_time_without_gap_or_overlap(
    subscription: tuple[datetime, str, Interval],
) -> None:
    anchor, zone, interval = subscription
    count = 26 if interval is Interval.MONTH else 6
    periods = [period_at(anchor, zone, interval, k) for k in range(count)]
    assert periods[0].start == anchor
    shortest, longest = (
        (timedelta(days=27), timedelta(days=32))
        if interval is Interval.MONTH
        else (timedelta(days=364), timedelta(days=367))
    )
    for k, period in enumerate(periods):
        assert period.index == k
        assert period.start < period.end
        assert shortest < period.end - period.start < longest
        assert period.start.tzinfo is UTC and period.end.tzinfo is UTC
    for earlier, later in itertools.pairwise(periods):
        assert earlier.end == later.start


@RELAXED
@given(subscriptions(), st.data())
def test_every_instant_after_the_anchor_is_in_exactly_one_period(
    subscription: tuple[datetime, str, Interval], data: st.DataObject
) -> None:
    anchor, zone, interval = subscription
    span = timedelta(days=800 if interval is Interval.MONTH else 4000)
    offset = data.draw(st.timedeltas(min_value=timedelta(0), max_value=span), label="offset")
    instant = anchor + offset
    found = period_containing(anchor, zone, interval, instant)
    assert found.contains(instant)
    assert found == period_at(anchor, zone, interval, found.index)
    neighbours = [found.index - 1, found.index + 1]
    for index in (k for k in neighbours if k >= 0):
        assert not period_at(anchor, zone, interval, index).contains(instant)
    # And the remaining share at that instant is a ratio of whole seconds within [0, 1].
    share = remaining_share(found, instant)
    assert 0 <= share <= 1
    assert (share * found.seconds).denominator == 1


@RELAXED
@given(subscriptions())
def test_period_boundaries_keep_the_anchors_local_wall_time(
    subscription: tuple[datetime, str, Interval],
) -> None:
    anchor, zone_name, interval = subscription
    zone = ZoneInfo(zone_name)
    local_anchor = anchor.astimezone(zone)
    for k in range(1, 13 if interval is Interval.MONTH else 4):
        start = period_at(anchor, zone_name, interval, k).start.astimezone(zone)
        if start.utcoffset() != (start - timedelta(hours=3)).utcoffset():
            continue  # near a DST change the wall time may be shifted by the gap
        assert start.time() == local_anchor.time()
        last_day = calendar.monthrange(start.year, start.month)[1]
        assert start.day == min(local_anchor.day, last_day)


@functools.cache
def dst_changes() -> list[tuple[str, datetime, timedelta, timedelta]]:
    """Every UTC offset change 2005-2030 in the zones above: (zone, instant, before, after)."""
    changes = []
    for name in ZONES:
        zone = ZoneInfo(name)

        def offset(instant: datetime, zone: ZoneInfo = zone) -> timedelta:
            value = instant.astimezone(zone).utcoffset()
            assert value is not None
            return value

        day = datetime(2005, 1, 1, tzinfo=UTC)
        while day.year < 2031:
            after_day = day + timedelta(days=1)
            if offset(day) != offset(after_day):
                # Bisect on whole seconds: the change is the first second with the new offset.
                low, high = 0, 86400
                while high - low > 1:
                    middle = (low + high) // 2
                    same = offset(day + timedelta(seconds=middle)) == offset(day)
                    low, high = (middle, high) if same else (low, middle)
                change = day + timedelta(seconds=high)
                changes.append((name, change, offset(day), offset(change)))
            day = after_day
    return changes


@st.composite
def boundaries_on_a_dst_change(
    draw: st.DrawFn,
) -> tuple[str, Interval, int, datetime, datetime, timedelta]:
    """A subscription whose period k starts at a wall time that DST skips or repeats."""
    zone_name, change, before, after = draw(st.sampled_from(dst_changes()))
    zone = ZoneInfo(zone_name)
    # The wall times that do not exist (spring forward) or happen twice (fall back).
    first, last = sorted([change + before, change + after])
    minutes = int((last - first) / timedelta(minutes=1))
    wall = (first + timedelta(minutes=draw(st.integers(0, minutes - 1)))).replace(tzinfo=None)
    interval = draw(st.sampled_from(list(Interval)))
    index = draw(st.integers(1, 3))
    months_back = index * interval.months
    total = wall.year * 12 + wall.month - 1 - months_back
    try:
        anchor_wall = wall.replace(year=total // 12, month=total % 12 + 1)
    except ValueError:  # the day does not exist in the anchor month
        assume(False)
    anchor = anchor_wall.replace(tzinfo=zone).astimezone(UTC)
    # The anchor must read back as that wall time (it is not itself in a DST gap).
    assume(anchor.astimezone(zone).replace(tzinfo=None) == anchor_wall)
    return zone_name, interval, index, anchor, wall, before


@RELAXED
@given(boundaries_on_a_dst_change())
def test_a_boundary_skipped_or_repeated_by_dst_reads_with_the_offset_before_it(
    case: tuple[str, Interval, int, datetime, datetime, timedelta],
) -> None:
    # RFC 5545: a skipped wall time moves forward by the gap, a repeated one is its
    # first occurrence; either way the boundary stays on the anchor's local day.
    zone_name, interval, index, anchor, wall, before = case
    zone = ZoneInfo(zone_name)
    start = period_at(anchor, zone_name, interval, index).start
    assert start == (wall - before).replace(tzinfo=UTC)
    assert start.astimezone(zone).date() == wall.date()
    assert period_at(anchor, zone_name, interval, index - 1).end == start


# --- Billability --------------------------------------------------------------------------

EVENT_TYPES = list(EventType)
JANUARY_2026 = datetime(2026, 1, 1, tzinfo=UTC)


def lead_events() -> st.SearchStrategy[list[LeadEvent]]:
    """A lead's history: up to eight events over about two months from 2026-01-01."""
    one = st.builds(
        LeadEvent,
        st.sampled_from(EVENT_TYPES),
        st.integers(0, 60 * 86400).map(lambda s: JANUARY_2026 + timedelta(seconds=s)),
    )
    return st.lists(one, max_size=8)


def shuffled_with_repeats(data: st.DataObject, events: Sequence[LeadEvent]) -> list[LeadEvent]:
    """The same events in another order, some sent more than once."""
    if not events:
        return []
    repeats = data.draw(st.lists(st.sampled_from(list(events)), max_size=5), label="repeats")
    return data.draw(st.permutations([*events, *repeats]), label="order")


@RELAXED
@given(lead_events(), st.data())
def test_r2_order_and_repetition_of_events_do_not_change_billability(
    events: list[LeadEvent], data: st.DataObject
) -> None:
    again = shuffled_with_repeats(data, events)
    assert decide(CountingPolicy.CALLED, again) == decide(CountingPolicy.CALLED, events)


@RELAXED
@given(lead_events())
def test_r2_a_lead_counts_if_and_only_if_it_was_called(events: list[LeadEvent]) -> None:
    verdict = decide(CountingPolicy.CALLED, events)
    calls = [e.occurred_at for e in events if e.type.value.startswith("call_")]
    assert verdict.billable == bool(calls)
    assert verdict.counted_at == (min(calls) if calls else None)


# --- Rating -------------------------------------------------------------------------------

CURRENCIES = ["USD", "JPY", "KWD", "EUR", "BHD"]


def amounts() -> st.SearchStrategy[str]:
    """Non-negative decimal strings with up to four places, beyond most minor units."""
    return st.decimals(
        min_value=Decimal(0), max_value=Decimal("100000"), places=4, allow_nan=False
    ).map(str)


def exponent(money: Money) -> int:
    value = money.amount.as_tuple().exponent
    assert isinstance(value, int)
    return value


@RELAXED
@given(
    currency=st.sampled_from(CURRENCIES),
    fee=amounts(),
    rate=amounts(),
    seat=amounts(),
    included=st.integers(0, 500),
    counted=st.integers(0, 2000),
    seats=st.integers(0, 4),
    renews=st.booleans(),
)
def test_invoice_total_is_the_sum_of_rounded_lines_in_minor_units(
    currency: str,
    fee: str,
    rate: str,
    seat: str,
    included: int,
    counted: int,
    seats: int,
    renews: bool,
) -> None:
    plan = prepaid_plan(
        currency=currency, fee=fee, per_lead_rate=rate, seat_fee=seat, included_leads=included
    )
    january = period_at(JANUARY_2026, "UTC", Interval.MONTH, 0)
    february = period_at(JANUARY_2026, "UTC", Interval.MONTH, 1)
    lines: list[Line] = boundary_lines(
        plan, january, counted, plan if renews else None, february if renews else None
    )
    lines += [seat_fee(plan, f"seat {n}") for n in range(seats)]
    places = minor_unit(currency)
    for line in lines:
        assert exponent(line.amount) == -places
        assert line.amount == (line.unit_price * line.quantity).rounded()
        assert line.amount.amount >= 0
    invoice = invoice_total(lines, currency)
    assert invoice.amount == sum((line.amount.amount for line in lines), Decimal(0))
    assert exponent(invoice) == -places
    overage = lines[0]
    assert overage.quantity == max(0, counted - included)


@RELAXED
@given(st.lists(lead_events(), max_size=40), st.integers(0, 20), st.data())
def test_r3_same_events_in_any_order_give_the_same_invoice_lines(
    leads: list[list[LeadEvent]], included: int, data: st.DataObject
) -> None:
    plan = prepaid_plan(included_leads=included, per_lead_rate="9.50")
    january = period_at(JANUARY_2026, "UTC", Interval.MONTH, 0)
    february = period_at(JANUARY_2026, "UTC", Interval.MONTH, 1)

    def lines_for(histories: Sequence[Sequence[LeadEvent]]) -> list[Line]:
        verdicts = [decide(plan.counting_policy, events) for events in histories]
        counted = sum(
            1 for v in verdicts if v.counted_at is not None and january.contains(v.counted_at)
        )
        return boundary_lines(plan, january, counted, plan, february)

    reordered = [shuffled_with_repeats(data, events) for events in leads]
    reordered = data.draw(st.permutations(reordered), label="lead order")
    assert lines_for(reordered) == lines_for(leads)


_TEXT_COLUMNS = ("idempotency_key", "account", "lead_id", "seat", "name", "phone", "detail")


@RELAXED
@given(
    st.sampled_from(_TEXT_COLUMNS),
    st.text(max_size=10),
    st.text(max_size=10),
    st.sampled_from(["\x00", "\x1f"]),
    st.booleans(),
)
def test_a_value_holding_nul_or_u001f_rejects_its_row_naming_the_column(
    column: str, before: str, after: str, character: str, sqlite: bool
) -> None:
    """Whatever surrounds it, an unstorable character rejects the row, on either database."""
    from leadbill.leads.csv_format import parse_rows

    row = {
        "idempotency_key": "k1",
        "account": "acme",
        "lead_id": "L1",
        "event_type": "received",
        "occurred_at": "2026-01-05T10:00:00Z",
    }
    value = f"{before}{character}{after}"
    # Kept short enough that the length limit is never the reason.
    row[column] = value
    parsed, rejections = parse_rows([row], 2, sqlite)
    assert parsed == []
    assert [(r.line, r.field) for r in rejections] == [(2, column)]
    assert "must not contain" in rejections[0].reason
