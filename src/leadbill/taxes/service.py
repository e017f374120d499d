"""Tax rates: admins add them and end them; core.tax decides which one applies.

Rates of one country and region never overlap in time, so on any day at most
one applies. A rate in use is never edited: end it (`valid_to`) and add the new
one from the next day; invoices keep the rate they were issued with.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadbill.core import tax
from leadbill.core.errors import RuleViolation
from leadbill.core.money import parse_decimal
from leadbill.core.periods import require_utc
from leadbill.core.tax_numbers import check_country, check_region
from leadbill.core.wording import one_line
from leadbill.errors import Conflict, InvalidInput, NotFound, from_rule
from leadbill.taxes.models import TaxRate

NAME_LIMIT = 64


def _overlapping(session: Session, rate: TaxRate) -> TaxRate | None:
    query = select(TaxRate).where(TaxRate.country == rate.country, TaxRate.id != (rate.id or 0))
    query = query.where(
        TaxRate.region.is_(None) if rate.region is None else TaxRate.region == rate.region
    )
    for other in session.scalars(query):
        starts_before_other_ends = other.valid_to is None or rate.valid_from <= other.valid_to
        ends_after_other_starts = rate.valid_to is None or other.valid_from <= rate.valid_to
        if starts_before_other_ends and ends_after_other_starts:
            return other
    return None


def create_rate(
    session: Session,
    *,
    name: str,
    rate: object,
    country: str,
    region: str | None,
    valid_from: date,
    valid_to: date | None,
    as_of: datetime,
) -> TaxRate:
    """A new tax rate; refused when it overlaps another of the same country and region."""
    try:
        cleaned = one_line(name, "name", NAME_LIMIT)
        percent = tax.check_rate(parse_decimal(rate, "rate"))
        country = check_country(country)
        region = check_region(region, country) if region else None
        created_at = require_utc(as_of, "as_of")
    except RuleViolation as error:
        raise from_rule(error) from None
    if cleaned is None:
        raise InvalidInput("name", "must not be empty")
    if valid_to is not None and valid_to < valid_from:
        raise InvalidInput("valid_to", "must not be before valid_from")
    stored = TaxRate(
        name=cleaned,
        rate=percent,
        country=country,
        region=region,
        valid_from=valid_from,
        valid_to=valid_to,
        created_at=created_at,
    )
    other = _overlapping(session, stored)
    if other is not None:
        raise Conflict(
            f"{country}{'/' + region if region else ''} already has rate {other.id} "
            f"({other.name}) from {other.valid_from} to {other.valid_to or 'open'}; "
            "end it first"
        )
    session.add(stored)
    session.flush()
    return stored


def end_rate(session: Session, rate_id: int, valid_to: date) -> TaxRate:
    """Set the last day a rate applies (it may not end before it starts)."""
    rate = get_rate(session, rate_id)
    if valid_to < rate.valid_from:
        raise InvalidInput("valid_to", "must not be before valid_from")
    rate.valid_to = valid_to
    other = _overlapping(session, rate)
    if other is not None:  # cannot happen when shortening; guards a lengthening
        raise Conflict(f"rate {rate_id} would overlap rate {other.id}")
    session.flush()
    return rate


def get_rate(session: Session, rate_id: int) -> TaxRate:
    """The tax rate with this id."""
    rate = session.get(TaxRate, rate_id)
    if rate is None:
        raise NotFound(f"tax rate {rate_id} does not exist")
    return rate


def list_rates(session: Session, *, country: str | None = None) -> list[TaxRate]:
    """Every tax rate, by country, region and start."""
    query = select(TaxRate).order_by(TaxRate.country, TaxRate.region, TaxRate.valid_from)
    if country is not None:
        query = query.where(TaxRate.country == country.strip().upper())
    return list(session.scalars(query))


def percent(rate: TaxRate) -> str:
    """The rate as people write it: 25, 8.875 (PostgreSQL reads it back as 25.000000)."""
    return f"{Decimal(rate.rate).normalize():f}"


def describe(rate: TaxRate) -> str:
    """A rate in one line: Moms 25%: 25 % in SE from 2020-01-01 to open."""
    return (
        f"{rate.name}: {percent(rate)} % in {rate.region or rate.country} "
        f"from {rate.valid_from} to {rate.valid_to or 'open'}"
    )


def core_rates(session: Session) -> list[tax.TaxRate]:
    """Every stored rate as core.tax reads it (the table is small: a few rows a country)."""
    return [
        tax.TaxRate(
            name=r.name,
            rate=Decimal(r.rate),
            country=r.country,
            region=r.region,
            valid_from=r.valid_from,
            valid_to=r.valid_to,
        )
        for r in list_rates(session)
    ]
