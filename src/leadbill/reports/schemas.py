"""API shapes of the usage summary and the master call report."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from leadbill.pagination import PageInfo
from leadbill.reports.service import BillingSummary, CallReportRow
from leadbill.schemas import MoneyOut, money
from leadbill.subscriptions.schemas import PeriodOut


class SeatUsageOut(BaseModel):
    """Leads counted in the period for one seat (null: leads without a seat)."""

    seat: str | None
    counted_leads: int


class ThresholdOut(BaseModel):
    """A usage threshold: `threshold` % of the included leads."""

    threshold: int
    leads: int
    reached: bool
    crossed_at: datetime | None
    lead_id: str | None


class UsageSummaryOut(BaseModel):
    """Where an account stands in the period containing `as_of`, and where it is heading."""

    account: str
    plan: str
    plan_name: str
    period: PeriodOut
    as_of: datetime
    fee: MoneyOut
    per_lead_rate: MoneyOut
    counted_leads: int
    included_leads: int
    remaining_leads: int
    overage_leads: int
    overage_so_far: MoneyOut
    projected_leads: int
    projected_overage: MoneyOut
    projected_cost: MoneyOut
    elapsed_share: str = Field(description="exact share of the period elapsed, e.g. 183/365")
    counted_by_seat: list[SeatUsageOut]
    thresholds: list[ThresholdOut]

    @classmethod
    def of(cls, summary: BillingSummary) -> UsageSummaryOut:
        """The API shape of the service's billing summary."""
        period = summary.period
        return cls(
            account=summary.account_code,
            plan=summary.plan_code,
            plan_name=summary.plan_name,
            period=PeriodOut(index=period.index, start=period.start, end=period.end),
            as_of=summary.as_of,
            fee=money(summary.fee.amount, summary.fee.currency),
            per_lead_rate=money(summary.per_lead_rate.amount, summary.per_lead_rate.currency),
            counted_leads=summary.counted_leads,
            included_leads=summary.included_leads,
            remaining_leads=summary.remaining_leads,
            overage_leads=summary.overage_leads,
            overage_so_far=money(summary.overage_so_far.amount, summary.currency),
            projected_leads=summary.projected_leads,
            projected_overage=money(summary.projected_overage.amount, summary.currency),
            projected_cost=money(summary.projected_cost.amount, summary.currency),
            elapsed_share=str(summary.elapsed_share),
            counted_by_seat=[
                SeatUsageOut(seat=s.seat_code, counted_leads=s.counted_leads)
                for s in summary.counted_by_seat
            ],
            thresholds=[
                ThresholdOut(
                    threshold=t.threshold,
                    leads=t.leads,
                    reached=t.reached,
                    crossed_at=t.crossed_at,
                    lead_id=t.lead_id,
                )
                for t in summary.thresholds
            ],
        )


class CallOut(BaseModel):
    """One call of a lead's call history."""

    type: str
    occurred_at: datetime
    result: str | None
    duration_seconds: int | None


class CallReportRowOut(BaseModel):
    """One lead of the call report: details, calls, and whether (and why) it counts."""

    lead_id: str
    seat: str | None
    name: str | None
    phone: str | None
    email: str | None
    postal_code: str | None
    source: str | None
    received_at: datetime | None
    calls: int
    last_call_result: str | None
    last_call_at: datetime | None
    call_history: list[CallOut]
    billable: bool
    counted: bool
    reason: str
    reason_text: str
    counted_at: datetime | None

    @classmethod
    def of(cls, row: CallReportRow) -> CallReportRowOut:
        """The API shape of one report row."""
        return cls(
            lead_id=row.lead_id,
            seat=row.seat_code,
            name=row.name,
            phone=row.phone,
            email=row.email,
            postal_code=row.postal_code,
            source=row.source,
            received_at=row.received_at,
            calls=row.calls,
            last_call_result=row.last_call_result,
            last_call_at=row.last_call_at,
            call_history=[
                CallOut(
                    type=c.type,
                    occurred_at=c.occurred_at,
                    result=c.result,
                    duration_seconds=c.duration_seconds,
                )
                for c in row.call_history
            ],
            billable=row.billable,
            counted=row.counted,
            reason=row.reason,
            reason_text=row.reason_text,
            counted_at=row.counted_at,
        )


class CallReportPageOut(BaseModel):
    """One page of the master call report of a period, by lead id."""

    account: str
    plan: str
    period: PeriodOut
    data: list[CallReportRowOut]
    page: PageInfo
