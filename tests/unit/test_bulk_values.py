"""The bulk insert's own conversion of instants writes exactly what SQLAlchemy writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects import sqlite

from leadbill.bulk import sqlite_instant
from leadbill.db import UTCDateTime

DIALECT = sqlite.dialect()
SQLALCHEMY = UTCDateTime().dialect_impl(DIALECT).bind_processor(DIALECT)

ZONES = st.sampled_from([UTC, timezone(timedelta(hours=-5)), ZoneInfo("Europe/Stockholm")])


@given(
    at=st.datetimes(
        min_value=datetime(1000, 1, 2), max_value=datetime(9999, 12, 30), timezones=ZONES
    )
)
def test_an_instant_is_written_as_sqlalchemy_writes_it(at: datetime) -> None:
    assert sqlite_instant(at) == SQLALCHEMY(at)


def test_none_stays_null_and_a_naive_instant_is_refused() -> None:
    assert sqlite_instant(None) is None
    with pytest.raises(ValueError, match="naive datetime"):
        sqlite_instant(datetime(2026, 1, 1))
