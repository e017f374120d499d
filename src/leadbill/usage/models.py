"""Recorded usage threshold crossings."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from leadbill.db import Base, BigId, UTCDateTime


class UsageThresholdCrossing(Base):
    """The moment a period's counted leads reached a share of the included leads.

    Recorded once per (subscription, period, threshold): the unique constraint,
    not a check in Python, keeps it so. `crossed_at` is the counted instant of
    the lead that reached the threshold (`lead_id`), never the wall clock;
    `recorded_at` is when leadbill noticed.
    """

    __tablename__ = "usage_threshold_crossings"
    __table_args__ = (UniqueConstraint("subscription_id", "period_index", "threshold"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id"))
    period_index: Mapped[int] = mapped_column(Integer)
    threshold: Mapped[int] = mapped_column(Integer)  # percent of the included leads
    leads: Mapped[int] = mapped_column(Integer)  # the counted leads that reach it
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"))
    crossed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
