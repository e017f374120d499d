"""API shapes of plans."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from leadbill.pagination import PageInfo
from leadbill.plans.models import Plan
from leadbill.schemas import DecimalString, MoneyOut, RequestModel, money


class PlanCreate(RequestModel):
    """A new catalogue entry; plans are immutable, a new price is a new plan."""

    code: str = Field(min_length=1, max_length=64, examples=["pkg-100"])
    name: str = Field(default="", max_length=200)
    currency: str = Field(min_length=3, max_length=3, examples=["USD"])
    interval: str = Field(examples=["month"], description="month or year")
    fee: DecimalString
    included_leads: int = Field(ge=0, le=10_000_000)
    per_lead_rate: DecimalString
    seat_fee: DecimalString = "0"
    counting_policy: str = Field(
        default="called", examples=["called"], description="which event makes a lead count"
    )
    ladder: str | None = Field(default=None, max_length=64)


class PlanOut(BaseModel):
    """A plan of the catalogue."""

    code: str
    name: str
    ladder: str | None
    currency: str
    interval: str
    fee: MoneyOut
    included_leads: int
    per_lead_rate: MoneyOut
    seat_fee: MoneyOut
    counting_policy: str
    created_at: datetime

    @classmethod
    def of(cls, plan: Plan) -> PlanOut:
        """The API shape of a stored plan."""
        return cls(
            code=plan.code,
            name=plan.name,
            ladder=plan.ladder,
            currency=plan.currency,
            interval=plan.interval,
            fee=money(plan.fee, plan.currency),
            included_leads=plan.included_leads,
            per_lead_rate=money(plan.per_lead_rate, plan.currency),
            seat_fee=money(plan.seat_fee, plan.currency),
            counting_policy=plan.counting_policy,
            created_at=plan.created_at,
        )


class PlanPage(BaseModel):
    """One page of plans, by code."""

    data: list[PlanOut]
    page: PageInfo
