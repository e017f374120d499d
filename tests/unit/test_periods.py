"""Billing periods: half-open, anchored in the account's time zone, month ends clamped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest

from leadbill.core.errors import RuleViolation
from leadbill.core.periods import (
    Interval,
    Period,
    check_time_zone,
    describe_period,
    period_at,
    period_containing,
    remaining_share,
    require_utc,
)

NEW_YORK = ZoneInfo("America/New_York")


def utc(*parts: int) -> datetime:
    """A UTC instant from year, month, day[, hour, minute, second]."""
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def new_york(*parts: int) -> datetime:
    """A wall-clock time in New York, as an aware datetime."""
    return datetime(*parts, tzinfo=NEW_YORK)  # type: ignore[misc]


def periods(anchor: datetime, zone: str, interval: Interval, count: int) -> list[Period]:
    return [period_at(anchor, zone, interval, k) for k in range(count)]


# --- Half-open intervals ------------------------------------------------------------------


def test_period_is_half_open() -> None:
    period = period_at(utc(2026, 1, 1), "UTC", Interval.MONTH, 0)
    assert period.contains(utc(2026, 1, 1))
    assert period.contains(utc(2026, 1, 31, 23, 59, 59))
    assert not period.contains(utc(2026, 2, 1))
    assert not period.contains(utc(2025, 12, 31, 23, 59, 59))
    assert period.seconds == 31 * 86400


def test_an_instant_on_a_boundary_belongs_to_the_later_period() -> None:
    boundary = utc(2026, 2, 1)
    found = period_containing(utc(2026, 1, 1), "UTC", Interval.MONTH, boundary)
    assert found.index == 1
    assert found.start == boundary


# --- Monthly anchors and month-end clamping -----------------------------------------------


def test_month_end_anchor_clamps_and_recovers() -> None:
    starts = [p.start for p in periods(utc(2026, 1, 31), "UTC", Interval.MONTH, 5)]
    assert starts == [
        utc(2026, 1, 31),
        utc(2026, 2, 28),
        utc(2026, 3, 31),
        utc(2026, 4, 30),
        utc(2026, 5, 31),
    ]


def test_month_end_anchor_in_leap_year_2028_uses_feb_29() -> None:
    first, second, third = periods(utc(2028, 1, 31), "UTC", Interval.MONTH, 3)
    assert (first.start, first.end) == (utc(2028, 1, 31), utc(2028, 2, 29))
    assert (second.start, second.end) == (utc(2028, 2, 29), utc(2028, 3, 31))
    assert third.start == utc(2028, 3, 31)
    assert second.seconds == 31 * 86400


@pytest.mark.parametrize(
    ("day", "february"), [(28, 28), (29, 28), (30, 28), (31, 28)], ids=lambda v: str(v)
)
def test_days_past_february_clamp_to_its_last_day(day: int, february: int) -> None:
    period = period_at(utc(2026, 1, day), "UTC", Interval.MONTH, 1)
    assert period.start == utc(2026, 2, february)
    # Clamping is measured from the anchor, so March gets its day back.
    assert period.end == utc(2026, 3, day)


def test_the_time_of_day_of_the_anchor_is_kept() -> None:
    first, second = periods(utc(2026, 1, 15, 14, 30, 5), "UTC", Interval.MONTH, 2)
    assert first.start == utc(2026, 1, 15, 14, 30, 5)
    assert first.end == second.start == utc(2026, 2, 15, 14, 30, 5)


def test_period_index_counts_from_the_anchor() -> None:
    period = period_at(utc(2026, 1, 31), "UTC", Interval.MONTH, 13)
    assert period.index == 13
    assert (period.start, period.end) == (utc(2027, 2, 28), utc(2027, 3, 31))


def test_negative_period_index_is_refused() -> None:
    with pytest.raises(RuleViolation) as error:
        period_at(utc(2026, 1, 1), "UTC", Interval.MONTH, -1)
    assert error.value.field == "index"


# --- Annual -------------------------------------------------------------------------------


def test_annual_periods() -> None:
    first, second = periods(utc(2026, 1, 1), "UTC", Interval.YEAR, 2)
    assert (first.start, first.end) == (utc(2026, 1, 1), utc(2027, 1, 1))
    assert (second.start, second.end) == (utc(2027, 1, 1), utc(2028, 1, 1))
    assert first.seconds == 365 * 86400
    assert second.seconds == 365 * 86400
    assert period_at(utc(2028, 1, 1), "UTC", Interval.YEAR, 0).seconds == 366 * 86400


def test_annual_anchor_on_feb_29_clamps_and_returns_in_the_next_leap_year() -> None:
    starts = [p.start for p in periods(utc(2028, 2, 29), "UTC", Interval.YEAR, 5)]
    assert starts == [
        utc(2028, 2, 29),
        utc(2029, 2, 28),
        utc(2030, 2, 28),
        utc(2031, 2, 28),
        utc(2032, 2, 29),
    ]


def test_interval_length_in_months() -> None:
    assert Interval.MONTH.months == 1
    assert Interval.YEAR.months == 12


# --- Time zones and DST -------------------------------------------------------------------


def test_boundaries_stay_at_local_midnight_across_spring_forward() -> None:
    # New York springs forward on 2026-03-08: midnight is 05:00Z before, 04:00Z after.
    anchor = new_york(2026, 2, 1)
    first, second, third = periods(anchor, "America/New_York", Interval.MONTH, 3)
    assert first.start == utc(2026, 2, 1, 5)
    assert second.start == utc(2026, 3, 1, 5)
    assert third.start == utc(2026, 4, 1, 4)
    for period in (first, second, third):
        local = period.start.astimezone(NEW_YORK)
        assert (local.hour, local.minute) == (0, 0)
    # March loses an hour: 31 days less one hour.
    assert second.end - second.start == timedelta(days=31, hours=-1)
    assert second.seconds == 31 * 86400 - 3600


def test_boundaries_stay_at_local_midnight_across_fall_back() -> None:
    # New York falls back on 2026-11-01 at 02:00: midnight is 04:00Z before, 05:00Z after.
    anchor = new_york(2026, 10, 1)
    first, second = periods(anchor, "America/New_York", Interval.MONTH, 2)
    assert (first.start, first.end) == (utc(2026, 10, 1, 4), utc(2026, 11, 1, 4))
    assert (second.start, second.end) == (utc(2026, 11, 1, 4), utc(2026, 12, 1, 5))
    assert first.start.astimezone(NEW_YORK).utcoffset() == timedelta(hours=-4)
    assert second.end.astimezone(NEW_YORK).utcoffset() == timedelta(hours=-5)
    # November gains an hour: 30 days and one hour.
    assert second.seconds == 30 * 86400 + 3600


def test_a_period_starting_on_the_dst_day_itself() -> None:
    # Midnight of 2026-03-08 is still EST; the change happens at 02:00 that night.
    period = period_at(new_york(2026, 2, 8), "America/New_York", Interval.MONTH, 1)
    assert period.start == utc(2026, 3, 8, 5)
    assert period.end == utc(2026, 4, 8, 4)
    assert period.seconds == 31 * 86400 - 3600


def test_annual_period_in_a_dst_zone_spans_both_changes() -> None:
    period = period_at(new_york(2026, 1, 1), "America/New_York", Interval.YEAR, 0)
    assert (period.start, period.end) == (utc(2026, 1, 1, 5), utc(2027, 1, 1, 5))
    assert period.seconds == 365 * 86400


def test_a_wall_time_skipped_by_dst_moves_forward_by_the_gap() -> None:
    # 02:30 does not exist in New York on 2026-03-08; it reads as 03:30 EDT (RFC 5545).
    anchor = new_york(2026, 2, 8, 2, 30)
    first, second, third = periods(anchor, "America/New_York", Interval.MONTH, 3)
    assert first.start == utc(2026, 2, 8, 7, 30)
    assert second.start == utc(2026, 3, 8, 7, 30)
    assert second.start.astimezone(NEW_YORK) == new_york(2026, 3, 8, 3, 30)
    assert third.start == utc(2026, 4, 8, 6, 30)


def test_a_skipped_local_midnight_stays_on_its_own_day() -> None:
    # Sao Paulo skipped 2018-11-04 00:00-01:00. A subscription anchored at local
    # midnight on the 4th must start its November period on the 4th (01:00 local),
    # not at 23:00 on the 3rd.
    zone = ZoneInfo("America/Sao_Paulo")
    anchor = datetime(2018, 10, 4, tzinfo=zone)
    november = period_at(anchor, "America/Sao_Paulo", Interval.MONTH, 1)
    local = november.start.astimezone(zone)
    assert (local.year, local.month, local.day, local.hour) == (2018, 11, 4, 1)
    assert november.start == utc(2018, 11, 4, 3)


def test_a_repeated_wall_time_is_its_first_occurrence() -> None:
    # 01:30 happens twice in New York on 2026-11-01; the boundary is the first (EDT).
    anchor = new_york(2026, 10, 1, 1, 30)
    november = period_at(anchor, "America/New_York", Interval.MONTH, 1)
    assert november.start == utc(2026, 11, 1, 5, 30)


def test_period_zero_starts_exactly_at_the_anchor_instant() -> None:
    # The second 01:30 of 2026-11-01 (EST, 06:30Z): the subscription starts then,
    # not an hour earlier at the first 01:30.
    anchor = utc(2026, 11, 1, 6, 30)
    period = period_at(anchor, "America/New_York", Interval.MONTH, 0)
    assert period.start == anchor
    assert period.end == utc(2026, 12, 1, 6, 30)


def test_anchor_with_any_offset_is_converted_to_utc() -> None:
    anchor = datetime(2026, 1, 1, 2, tzinfo=timezone(timedelta(hours=2)))
    period = period_at(anchor, "UTC", Interval.MONTH, 0)
    assert period.start == utc(2026, 1, 1)
    assert period.start.tzinfo is UTC
    assert period.end.tzinfo is UTC


# --- period_containing --------------------------------------------------------------------


def test_period_containing_finds_the_period_of_an_instant() -> None:
    anchor = new_york(2026, 1, 31)
    found = period_containing(anchor, "America/New_York", Interval.MONTH, utc(2026, 3, 15, 12))
    assert found == period_at(anchor, "America/New_York", Interval.MONTH, 1)
    assert found.start == utc(2026, 2, 28, 5)
    assert found.end == utc(2026, 3, 31, 4)


def test_period_containing_far_from_the_anchor() -> None:
    anchor = utc(2026, 1, 31)
    found = period_containing(anchor, "UTC", Interval.MONTH, utc(2036, 2, 28, 23))
    # Ten years on, and 2036 is a leap year: the period runs Jan 31 to Feb 29.
    assert found.index == 120
    assert (found.start, found.end) == (utc(2036, 1, 31), utc(2036, 2, 29))


def test_period_containing_an_instant_before_the_anchor_is_refused() -> None:
    with pytest.raises(RuleViolation) as error:
        period_containing(utc(2026, 1, 1), "UTC", Interval.MONTH, utc(2025, 12, 31))
    assert error.value.field == "instant"


# --- remaining_share ----------------------------------------------------------------------


def test_remaining_share_is_an_exact_ratio_of_seconds() -> None:
    year = period_at(utc(2026, 1, 1), "UTC", Interval.YEAR, 0)
    assert remaining_share(year, utc(2026, 7, 2)) == Fraction(183, 365)


def test_remaining_share_at_the_edges() -> None:
    year = period_at(utc(2026, 1, 1), "UTC", Interval.YEAR, 0)
    assert remaining_share(year, year.start) == 1
    assert remaining_share(year, year.end) == 0
    month = period_at(utc(2026, 2, 1), "UTC", Interval.MONTH, 0)
    assert remaining_share(month, utc(2026, 2, 15)) == Fraction(14, 28)


def test_remaining_share_counts_real_seconds_across_dst() -> None:
    # March in New York has 743 hours; at 12:00 local on the 16th (16:00Z) there are
    # 15 days and 12 hours left: 372 hours, whatever the calendar says.
    march = period_at(new_york(2026, 3, 1), "America/New_York", Interval.MONTH, 0)
    assert march.seconds == 743 * 3600
    assert remaining_share(march, utc(2026, 3, 16, 16)) == Fraction(372, 743)


def test_remaining_share_outside_the_period_is_refused() -> None:
    month = period_at(utc(2026, 1, 1), "UTC", Interval.MONTH, 0)
    with pytest.raises(RuleViolation) as error:
        remaining_share(month, utc(2026, 2, 1, 0, 0, 1))
    assert error.value.field == "instant"


# --- Refused inputs -----------------------------------------------------------------------


def test_naive_anchor_is_refused() -> None:
    with pytest.raises(RuleViolation) as error:
        period_at(datetime(2026, 1, 1), "UTC", Interval.MONTH, 0)
    assert error.value.field == "anchor"


def test_naive_instant_is_refused() -> None:
    with pytest.raises(RuleViolation) as error:
        period_containing(utc(2026, 1, 1), "UTC", Interval.MONTH, datetime(2026, 2, 1))
    assert error.value.field == "instant"
    month = period_at(utc(2026, 1, 1), "UTC", Interval.MONTH, 0)
    with pytest.raises(RuleViolation):
        remaining_share(month, datetime(2026, 1, 2))


def test_require_utc_names_the_field_and_converts() -> None:
    with pytest.raises(RuleViolation) as error:
        require_utc(datetime(2026, 1, 1), "as_of")
    assert error.value.field == "as_of"
    assert require_utc(new_york(2026, 1, 1)) == utc(2026, 1, 1, 5)


@pytest.mark.parametrize("name", ["Mars/Olympus_Mons", "America/Nowhere", "", "../etc/passwd"])
def test_unknown_time_zone_is_refused_naming_the_field(name: str) -> None:
    with pytest.raises(RuleViolation) as error:
        period_at(utc(2026, 1, 1), name, Interval.MONTH, 0)
    assert error.value.field == "time_zone"
    with pytest.raises(RuleViolation):
        check_time_zone(name)


def test_half_hour_dst_in_lord_howe() -> None:
    # Lord Howe moves its clocks by 30 minutes (UTC+10:30 to +11 on 2026-10-04).
    zone = ZoneInfo("Australia/Lord_Howe")
    anchor = datetime(2026, 9, 15, tzinfo=zone)
    september, october = periods(anchor, "Australia/Lord_Howe", Interval.MONTH, 2)
    assert september.start == utc(2026, 9, 14, 13, 30)
    assert september.end == utc(2026, 10, 14, 13)
    assert september.seconds == 30 * 86400 - 1800
    assert october.start.astimezone(zone) == datetime(2026, 10, 15, tzinfo=zone)


def test_local_midnight_east_of_utc_is_the_previous_utc_day() -> None:
    # Kolkata is UTC+05:30 all year: every boundary is 18:30Z the day before.
    anchor = datetime(2026, 1, 31, tzinfo=ZoneInfo("Asia/Kolkata"))
    starts = [p.start for p in periods(anchor, "Asia/Kolkata", Interval.MONTH, 3)]
    assert starts == [utc(2026, 1, 30, 18, 30), utc(2026, 2, 27, 18, 30), utc(2026, 3, 30, 18, 30)]


def test_period_is_described_in_local_days_with_an_inclusive_last_day() -> None:
    # Local midnight in Kolkata is the previous evening in UTC: the text reads local days.
    anchor = datetime(2026, 1, 31, 18, 30, tzinfo=UTC)  # 2026-02-01 00:00 in Kolkata
    period = period_at(anchor, "Asia/Kolkata", Interval.MONTH, 0)
    assert describe_period(period, "Asia/Kolkata") == "2026-02-01 to 2026-02-28"
    assert describe_period(period, "UTC") == "2026-01-31 to 2026-02-28"
