"""API shapes of subscriptions."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from leadbill.accounts.models import Account
from leadbill.core.proration import LicencePreview
from leadbill.pagination import PageInfo
from leadbill.plans.models import Plan
from leadbill.schemas import Instant, MoneyOut, RequestModel, money
from leadbill.subscriptions.models import Subscription
from leadbill.subscriptions.service import cancellation_of


class SubscriptionCreate(RequestModel):
    """Put an account on a plan from `start`; the first period's fee is invoiced at once."""

    account: str = Field(min_length=1, max_length=64, examples=["brokerage"])
    plan: str = Field(min_length=1, max_length=64, examples=["pkg-100"])
    start: Instant = Field(examples=["2026-01-01T00:00:00-05:00"])
    licences: int = Field(default=0, ge=0, le=1_000_000, description="licence plans only")


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
    licences: int
    licences_next_period: int
    scheduled_plan: str | None = Field(description="the plan from the next period, if changed")
    cancel_at_period_end: bool
    cancel_requested_at: datetime | None = Field(description="the instant of the cancellation")
    cancel_requested_by: str | None = Field(description="who cancelled (staff or API key)")
    ends_at: datetime | None = Field(
        description="when a cancellation ends the subscription: the end of the period it "
        "falls in (null: not cancelled)"
    )
    renewals_before_end: list[datetime] = Field(
        description="boundaries billing has not closed yet that still renew the cancelled "
        "subscription, and invoice their fees, before it ends"
    )
    ended_at: datetime | None
    service_paused_at: datetime | None = Field(
        description="since when the service is paused (dunning's final action): the "
        "account's new lead events are refused until staff resume it (null: running)"
    )
    service_paused_reason: str | None
    created_at: datetime

    @classmethod
    def of(cls, session: Session, subscription: Subscription) -> SubscriptionOut:
        """The API shape of a stored subscription."""
        account = session.get_one(Account, subscription.account_id)
        plan = session.get_one(Plan, subscription.plan_id)
        cancellation = cancellation_of(session, subscription)
        return cls(
            id=subscription.id,
            account=account.code,
            plan=plan.code,
            status=subscription.status,
            licences=subscription.licences,
            licences_next_period=(
                subscription.licences
                if subscription.scheduled_licences is None
                else subscription.scheduled_licences
            ),
            scheduled_plan=(
                session.get_one(Plan, subscription.scheduled_plan_id).code
                if subscription.scheduled_plan_id is not None
                else None
            ),
            current_period=PeriodOut(
                index=subscription.current_period_index,
                start=subscription.current_period_start,
                end=subscription.current_period_end,
            ),
            cancel_at_period_end=subscription.cancel_at_period_end,
            cancel_requested_at=subscription.cancel_requested_at,
            cancel_requested_by=subscription.cancel_requested_by,
            ends_at=cancellation.ends_at if cancellation else subscription.ended_at,
            renewals_before_end=list(cancellation.renewals) if cancellation else [],
            ended_at=subscription.ended_at,
            service_paused_at=subscription.service_paused_at,
            service_paused_reason=subscription.service_paused_reason,
            created_at=subscription.created_at,
        )


class SubscriptionPage(BaseModel):
    """One page of subscriptions, oldest first."""

    data: list[SubscriptionOut]
    page: PageInfo


class CancelIn(RequestModel):
    """A cancellation: it ends the subscription at the end of the period `at` falls in."""

    at: Instant | None = Field(
        default=None,
        description="instant of the cancellation, at most a day ahead of the clock (default: now)",
    )


class PlanChangeIn(RequestModel):
    """Move the subscription to another plan of its ladder (R7).

    `timing` "default": an upgrade now, a downgrade at the period end (unless the
    operator set downgrades to take effect at once); "now" or "period_end" force it.
    """

    plan: str = Field(min_length=1, max_length=64, examples=["pkg-200"])
    timing: Literal["default", "now", "period_end"] = "default"
    at: Instant | None = Field(
        default=None, description="instant of the change, inside the current period (default: now)"
    )


class InvoiceRef(BaseModel):
    """An invoice issued by a change: its number (id for a draft) and total."""

    number: str
    total: MoneyOut


class ChangeOut(BaseModel):
    """A recorded change and what it invoiced at once (null: nothing now)."""

    subscription: SubscriptionOut
    kind: str = Field(description="plan or licences")
    requested_at: datetime
    effective_at: datetime
    immediate: bool
    invoice: InvoiceRef | None


class LicencesIn(RequestModel):
    """Licences to add now (invoiced at once, prorated) or remove at the period end."""

    count: int = Field(ge=1, le=1_000_000, examples=[2])
    at: Instant | None = Field(
        default=None, description="staff only: instant inside the current period (default: now)"
    )


class LicencePreviewOut(BaseModel):
    """What a licence change would cost: the total due today and the next renewal."""

    licences_now: int
    licences_next_period: int
    total_due_today: MoneyOut
    next_renewal_amount: MoneyOut

    @classmethod
    def of(cls, preview: LicencePreview) -> LicencePreviewOut:
        """The API shape of a licence change's preview."""
        currency = preview.total_due_today.currency
        return cls(
            licences_now=preview.licences_now,
            licences_next_period=preview.licences_next_period,
            total_due_today=money(preview.total_due_today.amount, currency),
            next_renewal_amount=money(preview.next_renewal_amount.amount, currency),
        )
