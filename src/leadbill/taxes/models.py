"""Tax rates: a rate in force in a country or region from one day to another."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from leadbill.db import Base, BigId, MoneyAmount, UTCDateTime


class TaxRate(Base):
    """One rate (percent) of a country, or of one of its regions, over `[valid_from, valid_to]`.

    Rates are data: an admin adds them, and ends one (sets `valid_to`) before a new
    rate takes over. Rates of the same country and region never overlap.
    """

    __tablename__ = "tax_rates"
    __table_args__ = (Index("ix_tax_rates_country", "country", "region", "valid_from"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    rate: Mapped[Decimal] = mapped_column(MoneyAmount())  # exact, as money is
    country: Mapped[str] = mapped_column(String(2))
    region: Mapped[str | None] = mapped_column(String(8))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
