"""Explaining an invoice: for each line, what it charges and the leads behind it.

An overage line lists every lead of its period (the master call report of that
period, so whether and why each lead counts is `core.billability.decide`'s
verdict, never a second rule here) and marks the overage leads. Which counted
leads are "the overage" follows one stated rule: the counted leads are put in
counting order (counted instant, then operator lead id); the first ones use
the allowance, and the last ones, as many as the line's quantity, are the
overage. The count and the leads by rank come from the billing run's own usage
queries. A fee line or a seat fee line is explained in one sentence.

Everything is paged: leads are read a page at a time (keyset on the operator
lead id), with one query for the page, one for its events, and one query per
line for the first overage lead.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadbill.accounts.models import Account
from leadbill.billing import repository as usage_counts
from leadbill.billing.invoices import get_invoice, invoice_lines
from leadbill.billing.models import Invoice, InvoiceLine
from leadbill.billing.repository import ClosingPeriod
from leadbill.core.money import Money
from leadbill.core.periods import Period, describe_period
from leadbill.core.plans import PlanTerms
from leadbill.core.rating import LineKind
from leadbill.plans.models import Plan
from leadbill.plans.service import terms
from leadbill.reports import repository as report_queries
from leadbill.reports.service import (
    DEFAULT_PAGE_SIZE,
    CallReportRow,
    ReportScope,
    call_report_page,
    iter_call_report,
)
from leadbill.seats.models import Seat
from leadbill.subscriptions.models import Subscription, SubscriptionPeriod

OVERAGE_RULE = (
    "overage leads: the counted leads of the period in counting order (counted instant, "
    "then lead id) beyond the allowance, i.e. the last ones, as many as the line's quantity"
)


@dataclass(frozen=True, slots=True)
class ExplainedLead:
    """One lead of an overage line's period: counted or not, why, and whether it is overage."""

    lead_id: str
    seat_code: str | None
    counted: bool
    reason: str
    reason_text: str
    counted_at: datetime | None
    overage: bool


@dataclass(frozen=True, slots=True)
class LineExplanation:
    """One invoice line and what is behind it; `scope` is set when leads are behind it."""

    position: int
    kind: str
    description: str
    quantity: int
    amount: Money
    explanation: str
    scope: ReportScope | None = None
    counted_leads: int = 0
    allowance: int = 0
    first_overage: tuple[datetime, str] | None = None


@dataclass(frozen=True, slots=True)
class InvoiceExplanation:
    """An invoice and the explanation of each of its lines."""

    invoice_label: str
    account_code: str
    time_zone: str
    lines: tuple[LineExplanation, ...]


def _period_of(session: Session, subscription_id: int, line: InvoiceLine) -> Period | None:
    if line.period_start is None or line.period_end is None:
        return None
    index = session.scalar(
        select(SubscriptionPeriod.period_index).where(
            SubscriptionPeriod.subscription_id == subscription_id,
            SubscriptionPeriod.start <= line.period_start,
            SubscriptionPeriod.end > line.period_start,
        )
    )
    return Period(int(index or 0), line.period_start, line.period_end)


def _plan_of(session: Session, subscription: Subscription, period: Period) -> PlanTerms:
    """The plan in force at the end of the line's span (a segment's plan if it changed)."""
    last = period.end - timedelta(microseconds=1)
    plan_id = report_queries.plan_in_force(session, subscription.id, period.index, last)
    return terms(session.get_one(Plan, plan_id or subscription.plan_id))


def _overage(
    session: Session, invoice: Invoice, account: Account, line: InvoiceLine, base: LineExplanation
) -> LineExplanation:
    assert invoice.subscription_id is not None
    subscription = session.get_one(Subscription, invoice.subscription_id)
    period = _period_of(session, subscription.id, line)
    if period is None:
        return base
    plan = _plan_of(session, subscription, period)
    scope = ReportScope(account.id, account.code, account.currency, subscription.id, plan, period)
    span = ClosingPeriod(subscription.id, period.index, account.id, period.start, period.end)
    counted = usage_counts.called_leads(session, [span]).get((subscription.id, period.index), 0)
    allowance = max(0, counted - line.quantity)
    first = None
    if line.quantity > 0:
        ranked = usage_counts.counted_leads_at_ranks(session, [(span, allowance + 1)])
        lead = ranked.get((subscription.id, period.index, allowance + 1))
        first = (lead.counted_at, lead.external_id) if lead else None
    text = (
        f"{counted} leads counted in {describe_period(period, account.time_zone)} under plan "
        f"{plan.code}; the first {allowance} are within the allowance, the last "
        f"{line.quantity} are overage at {plan.per_lead_rate.amount:,} {plan.currency} each "
        f"({OVERAGE_RULE})"
    )
    return LineExplanation(
        position=base.position,
        kind=base.kind,
        description=base.description,
        quantity=base.quantity,
        amount=base.amount,
        explanation=text,
        scope=scope,
        counted_leads=counted,
        allowance=allowance,
        first_overage=first,
    )


def _one_line(session: Session, invoice: Invoice, account: Account, line: InvoiceLine) -> str:
    if line.kind == LineKind.PLAN_FEE and invoice.subscription_id is not None:
        subscription = session.get_one(Subscription, invoice.subscription_id)
        period = _period_of(session, subscription.id, line)
        if period is not None:
            plan = _plan_of(session, subscription, period)
            return (
                f"plan fee of {plan.code} for {describe_period(period, account.time_zone)}, "
                f"charged in advance at the start of the period; it includes "
                f"{plan.included_leads} leads; no lead is charged on this line"
            )
    if line.kind == LineKind.SEAT_FEE and invoice.seat_id is not None:
        seat = session.get_one(Seat, invoice.seat_id)
        return (
            f"one-time fee of seat {seat.code} (primary {seat.primary_name}), invoiced when "
            f"the seat was created on {seat.created_at:%Y-%m-%d}; no lead is charged on this line"
        )
    return f"{line.kind}: {line.description}"


def explain_invoice(
    session: Session, number_or_id: str, *, account_id: int | None = None
) -> InvoiceExplanation:
    """Explain each line of an invoice; with `account_id`, another account's is NotFound."""
    invoice = get_invoice(session, number_or_id, account_id)
    account = session.get_one(Account, invoice.account_id)
    explained = []
    for line in invoice_lines(session, invoice.id):
        base = LineExplanation(
            position=line.position,
            kind=line.kind,
            description=line.description,
            quantity=line.quantity,
            amount=Money(line.amount, invoice.currency).rounded(),  # stored rounded already
            explanation=_one_line(session, invoice, account, line),
        )
        if line.kind == LineKind.OVERAGE and invoice.subscription_id is not None:
            base = _overage(session, invoice, account, line, base)
        explained.append(base)
    return InvoiceExplanation(
        invoice_label=invoice.number or f"draft {invoice.id}",
        account_code=account.code,
        time_zone=account.time_zone,
        lines=tuple(explained),
    )


def _explained(line: LineExplanation, row: CallReportRow) -> ExplainedLead:
    overage = (
        row.counted
        and line.first_overage is not None
        and row.counted_at is not None
        and (row.counted_at, row.lead_id) >= line.first_overage
    )
    return ExplainedLead(
        lead_id=row.lead_id,
        seat_code=row.seat_code,
        counted=row.counted,
        reason=row.reason,
        reason_text=row.reason_text,
        counted_at=row.counted_at,
        overage=overage,
    )


def iter_line_leads(
    session: Session, line: LineExplanation, *, page_size: int = DEFAULT_PAGE_SIZE
) -> Iterator[ExplainedLead]:
    """Every lead of the line's period, page by page, with its verdict and overage mark."""
    if line.scope is None:
        return
    for row in iter_call_report(session, line.scope, page_size=page_size):
        yield _explained(line, row)


def line_leads_page(
    session: Session, line: LineExplanation, *, after: str | None, limit: int
) -> tuple[list[ExplainedLead], str | None]:
    """One page of the leads behind a line (by lead id after `after`) and the next `after`."""
    if line.scope is None:
        return [], None
    page = call_report_page(session, line.scope, after=after, limit=limit)
    return [_explained(line, row) for row in page.rows], page.next_after
