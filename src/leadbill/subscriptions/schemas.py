"""API shapes of subscriptions."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, Field

from leadbill.schemas import RequestModel


class SubscriptionCreate(RequestModel):
    """Put an account on a plan from `start`; the first period's fee is invoiced at once."""

    account: str = Field(min_length=1, max_length=64, examples=["brokerage"])
    plan: str = Field(min_length=1, max_length=64, examples=["pkg-100"])
    start: AwareDatetime = Field(examples=["2026-01-01T00:00:00-05:00"])


class PeriodOut(BaseModel):
    """A billing period `[start, end)`."""

    index: int
    start: datetime
    end: datetime


class SubscriptionOut(BaseModel):
    """An account's subscription and its current period."""

    id: int
    account: str
    plan: str
    status: str
    current_period: PeriodOut
    cancel_at_period_end: bool
    cancel_requested_at: datetime | None
    ended_at: datetime | None
    created_at: datetime
