"""API shapes of tax rates."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, Field

from leadbill.pagination import PageInfo
from leadbill.schemas import DecimalString, RequestModel
from leadbill.taxes.models import TaxRate
from leadbill.taxes.service import NAME_LIMIT, percent

Percent = Annotated[
    DecimalString,
    Field(
        max_length=21,
        examples=["25"],
        description="Percent as a decimal string, 0 to 100 with at most 4 decimals; "
        "JSON numbers are refused.",
    ),
]


class TaxRateCreate(RequestModel):
    """A rate in force in a country (or one of its regions) from one day to another; it may
    not overlap another rate of the same country and region."""

    name: str = Field(min_length=1, max_length=NAME_LIMIT, examples=["Moms 25%"])
    rate: Percent
    country: str = Field(
        min_length=2, max_length=2, examples=["SE"], description="ISO 3166-1 alpha-2 code"
    )
    region: str | None = Field(
        default=None,
        max_length=8,
        examples=["US-NY"],
        description="ISO 3166-2 code: the rate applies only there (null: the whole country)",
    )
    valid_from: date = Field(description="The first day it applies")
    valid_to: date | None = Field(default=None, description="The last day (null: open-ended)")


class TaxRateEnd(RequestModel):
    """The last day a rate applies; a new rate may take over the next day."""

    valid_to: date


class TaxRateOut(BaseModel):
    """A tax rate."""

    id: int
    name: str
    rate: str = Field(examples=["25"], description="Percent, a decimal string")
    country: str
    region: str | None
    valid_from: date
    valid_to: date | None
    created_at: datetime

    @classmethod
    def of(cls, rate: TaxRate) -> TaxRateOut:
        """The API shape of a stored rate."""
        return cls(
            id=rate.id,
            name=rate.name,
            rate=percent(rate),
            country=rate.country,
            region=rate.region,
            valid_from=rate.valid_from,
            valid_to=rate.valid_to,
            created_at=rate.created_at,
        )


class TaxRatePage(BaseModel):
    """One page of tax rates, by id."""

    data: list[TaxRateOut]
    page: PageInfo
