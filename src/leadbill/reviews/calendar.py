"""The operator's review settings and public holiday calendar (R13, R14).

The core counts business days with any calendar it is given; this is where
the `holidays` library is asked, for the country and subdivision of the
settings, so that the core stays free of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import holidays

from leadbill.core.periods import check_time_zone
from leadbill.core.reviews import HolidayCalendar, ReviewRules
from leadbill.errors import InvalidInput
from leadbill.settings import Settings


@dataclass(frozen=True, slots=True)
class ReviewConfig:
    """Rules of eligibility and due dates, the operator's time zone and holidays."""

    rules: ReviewRules
    time_zone: str
    holidays: HolidayCalendar
    country: str
    subdivision: str | None


def holiday_calendar(country: str, subdivision: str | None) -> HolidayCalendar:
    """The public holidays of `country` (and `subdivision`), any year, from `holidays`."""
    try:
        calendar = holidays.country_holidays(country, subdiv=subdivision)
    except NotImplementedError:
        raise InvalidInput(
            "operator_country", f"{country!r} is not a country the holidays library knows"
        ) from None
    except Exception as error:  # an unknown subdivision
        raise InvalidInput("operator_subdivision", str(error)) from None

    def is_holiday(day: date) -> bool:
        return day in calendar

    return is_holiday


def review_config(settings: Settings | None = None) -> ReviewConfig:
    """The review configuration of the settings (environment by default)."""
    settings = settings or Settings.from_env()
    try:
        check_time_zone(settings.operator_time_zone)
    except Exception:
        raise InvalidInput(
            "operator_time_zone", f"{settings.operator_time_zone!r} is not a time zone"
        ) from None
    if settings.review_window_days < 1:
        raise InvalidInput("review_window_days", "must be at least 1")
    if settings.review_business_days < 1:
        raise InvalidInput("review_business_days", "must be at least 1")
    return ReviewConfig(
        rules=ReviewRules(
            window=timedelta(days=settings.review_window_days),
            require_answered=settings.review_require_answered,
            require_recording=settings.review_require_recording,
            business_days=settings.review_business_days,
        ),
        time_zone=settings.operator_time_zone,
        holidays=holiday_calendar(settings.operator_country, settings.operator_subdivision),
        country=settings.operator_country,
        subdivision=settings.operator_subdivision,
    )
