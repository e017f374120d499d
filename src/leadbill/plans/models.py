"""Plans: immutable catalogue entries."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from leadbill.db import Base, BigId, MoneyAmount, UTCDateTime


class Plan(Base):
    """A price list entry. Never updated: a new price is a new plan."""

    __tablename__ = "plans"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    ladder: Mapped[str | None] = mapped_column(String(64), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    interval: Mapped[str] = mapped_column(String(8))
    fee: Mapped[Decimal] = mapped_column(MoneyAmount())
    included_leads: Mapped[int] = mapped_column(Integer)
    per_lead_rate: Mapped[Decimal] = mapped_column(MoneyAmount())
    seat_fee: Mapped[Decimal] = mapped_column(MoneyAmount())
    counting_policy: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Licence plans (R19-R22): price per licence per period, and the self-serve cap.
    licence_price: Mapped[Decimal | None] = mapped_column(MoneyAmount())
    licence_cap: Mapped[int | None] = mapped_column(Integer)
    # Per-category lead prices, loaded with the plan (a handful of rows).
    category_prices: Mapped[list[PlanCategoryPrice]] = relationship(
        lazy="selectin", order_by="PlanCategoryPrice.category"
    )


class PlanCategoryPrice(Base):
    """The price of one lead of a category under a plan (e.g. plumbing vs electrical)."""

    __tablename__ = "plan_category_prices"

    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"), primary_key=True)
    category: Mapped[str] = mapped_column(String(64), primary_key=True)
    price: Mapped[Decimal] = mapped_column(MoneyAmount())
