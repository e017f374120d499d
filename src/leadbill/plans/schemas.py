"""API shapes of plans."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from leadbill.core.advice import PeriodCost, PlanCost
from leadbill.pagination import PageInfo
from leadbill.plans.advice import PlanAdvice
from leadbill.plans.models import Plan
from leadbill.schemas import DecimalString, MoneyOut, RequestModel, money
from leadbill.subscriptions.schemas import PeriodOut


class PlanCreate(RequestModel):
    """A new catalogue entry; plans are immutable, a new price is a new plan."""

    code: str = Field(min_length=1, max_length=64, examples=["pkg-100"])
    name: str = Field(default="", max_length=200)
    currency: str = Field(min_length=3, max_length=3, examples=["USD"])
    interval: str = Field(max_length=16, examples=["month"], description="month or year")
    fee: DecimalString
    included_leads: int = Field(ge=0, le=10_000_000)
    per_lead_rate: DecimalString
    seat_fee: DecimalString = "0"
    counting_policy: str = Field(
        default="called",
        max_length=32,
        examples=["called"],
        description="which event makes a lead count",
    )
    ladder: str | None = Field(default=None, max_length=64)
    licence_price: DecimalString | None = Field(
        default=None, description="price of one licence per period (licence plans, R19)"
    )
    licence_cap: int | None = Field(
        default=None, ge=1, le=1_000_000, description="licences a customer may reach self-serve"
    )


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
    licence_price: MoneyOut | None
    licence_cap: int | None
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
            licence_price=(
                money(plan.licence_price, plan.currency) if plan.licence_price is not None else None
            ),
            licence_cap=plan.licence_cap,
            created_at=plan.created_at,
        )


class PlanPage(BaseModel):
    """One page of plans, by code."""

    data: list[PlanOut]
    page: PageInfo


class PeriodCostOut(BaseModel):
    """What one closed period cost (or would have cost) under a plan."""

    period: PeriodOut
    counted_leads: int
    fee: MoneyOut
    overage_leads: int
    overage: MoneyOut
    total: MoneyOut
    lost_leads: int = Field(description="included leads left unused (they expire)")

    @classmethod
    def of(cls, cost: PeriodCost) -> PeriodCostOut:
        """The API shape of the core's period cost."""
        period = cost.period
        return cls(
            period=PeriodOut(index=period.index, start=period.start, end=period.end),
            counted_leads=cost.counted_leads,
            fee=money(cost.fee.amount, cost.fee.currency),
            overage_leads=cost.overage_leads,
            overage=money(cost.overage.amount, cost.overage.currency),
            total=money(cost.total.amount, cost.total.currency),
            lost_leads=cost.lost_leads,
        )


class PlanCostOut(BaseModel):
    """The account's last closed periods priced under one plan."""

    plan: str
    plan_name: str
    total: MoneyOut
    lost_leads: int
    periods: list[PeriodCostOut]

    @classmethod
    def of(cls, cost: PlanCost) -> PlanCostOut:
        """The API shape of the core's plan cost."""
        return cls(
            plan=cost.plan.code,
            plan_name=cost.plan.name,
            total=money(cost.total.amount, cost.total.currency),
            lost_leads=cost.lost_leads,
            periods=[PeriodCostOut.of(p) for p in cost.periods],
        )


class PlanAdviceOut(BaseModel):
    """What the last closed periods would have cost under each plan of the ladder."""

    account: str
    as_of: datetime
    ladder: str | None
    current: PlanCostOut
    recommended: PlanCostOut
    options: list[PlanCostOut]
    reasoning: str

    @classmethod
    def of(cls, advice: PlanAdvice) -> PlanAdviceOut:
        """The API shape of the service's advice."""
        return cls(
            account=advice.account_code,
            as_of=advice.as_of,
            ladder=advice.ladder,
            current=PlanCostOut.of(advice.advice.current),
            recommended=PlanCostOut.of(advice.advice.recommended),
            options=[PlanCostOut.of(o) for o in advice.advice.options],
            reasoning=advice.advice.reasoning,
        )
