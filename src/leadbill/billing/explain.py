"""Explaining an invoice: for each line, what it charges and the leads behind it.

A line that charges leads lists every lead of its span (the master call report
of that span, so whether and why each lead counts is `core.billability.decide`'s
verdict under the plan's counting policy, never a second rule here), and marks
the leads the line charges:

- an overage line (package, found contacts, or one segment of a period split by
  a plan change, R4, R7, R17) charges the counted leads beyond the allowance. Which
  counted leads are "the overage" follows one stated rule: the counted leads are
  put in counting order (counted instant, then operator lead id); the first ones
  use the allowance, and the last ones, as many as the line's quantity, are the
  overage;
- a pay-per-lead line (R10) charges every counted lead of its category (or, for
  the line at the per-lead rate, of the categories without a price).

Leads that did not count are listed too, with their reason: excluded by a
non-billable reason, never called, no contact found, blocked, or counted in
another period. The counts and the leads by rank come from the billing run's
own usage queries. A fee, licence, proration or seat fee line has no leads
behind it and says so in one sentence.

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
from leadbill.core.proration import segment_allowance
from leadbill.core.rating import LineKind
from leadbill.core.wording import count_of
from leadbill.credit_notes.models import CreditApplication, CreditNote
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
NO_LEADS = "no lead is charged on this line"


@dataclass(frozen=True, slots=True)
class ExplainedLead:
    """One lead of a line's span: counted or not, why, and whether this line charges it.

    `overage` is True for a lead the line charges: an overage lead of an overage
    line, or a counted lead of a pay-per-lead line's category.
    """

    lead_id: str
    seat_code: str | None
    counted: bool
    reason: str
    reason_text: str
    counted_at: datetime | None
    overage: bool
    category: str | None = None

    @property
    def charged(self) -> bool:
        """Whether this line charges the lead."""
        return self.overage


@dataclass(frozen=True, slots=True)
class LineExplanation:
    """One invoice line and what is behind it; `scope` is set when leads are behind it.

    `categories` narrows a pay-per-lead line to its category (`("plumbing",)`); the
    line at the per-lead rate takes every lead whose category has no price
    (`excluded_categories`). `charges_every_lead` marks a pay-per-lead line.
    """

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
    categories: tuple[str, ...] | None = None
    excluded_categories: tuple[str, ...] = ()
    charges_every_lead: bool = False


@dataclass(frozen=True, slots=True)
class InvoiceExplanation:
    """An invoice and the explanation of each of its lines."""

    invoice_label: str
    account_code: str
    time_zone: str
    lines: tuple[LineExplanation, ...]


@dataclass(frozen=True, slots=True)
class _Span:
    """A line's span inside its stored period, and the plan in force in it."""

    span: Period
    period: Period
    plan: PlanTerms


def _span_of(session: Session, subscription: Subscription, line: InvoiceLine) -> _Span | None:
    """The line's span (a period, or a segment of one) and the plan of that span."""
    if line.period_start is None or line.period_end is None:
        return None
    stored = session.execute(
        select(
            SubscriptionPeriod.period_index, SubscriptionPeriod.start, SubscriptionPeriod.end
        ).where(
            SubscriptionPeriod.subscription_id == subscription.id,
            SubscriptionPeriod.start <= line.period_start,
            SubscriptionPeriod.end > line.period_start,
        )
    ).first()
    if stored is None:
        span = Period(0, line.period_start, line.period_end)
        period = span
    else:
        index, start, end = stored
        span = Period(int(index), line.period_start, line.period_end)
        period = Period(int(index), start, end)
    # The plan in force at the end of the span: a segment's own plan after a change.
    last = span.end - timedelta(microseconds=1)
    plan_id = report_queries.plan_in_force(session, subscription.id, span.index, last)
    plan = terms(session.get_one(Plan, plan_id or subscription.plan_id))
    return _Span(span, period, plan)


def _price(money: Money) -> str:
    return str(money.rounded())


def _with(base: LineExplanation, **changes: object) -> LineExplanation:
    fields = {name: getattr(base, name) for name in LineExplanation.__dataclass_fields__}
    fields.update(changes)
    return LineExplanation(**fields)


def _scope(account: Account, subscription: Subscription, found: _Span) -> ReportScope:
    return ReportScope(
        account.id, account.code, account.currency, subscription.id, found.plan, found.span
    )


def _overage(
    session: Session,
    account: Account,
    subscription: Subscription,
    line: InvoiceLine,
    base: LineExplanation,
) -> LineExplanation:
    found = _span_of(session, subscription, line)
    if found is None:
        return base
    plan, span = found.plan, found.span
    policy = plan.counting_policy
    key = ClosingPeriod(subscription.id, span.index, account.id, span.start, span.end)
    counted = usage_counts.counted_leads(session, [key], policy).get(
        (subscription.id, span.index), 0
    )
    allowance = segment_allowance(plan, found.period, span.start)
    within = max(0, counted - line.quantity)
    first = None
    if line.quantity > 0:
        ranked = usage_counts.counted_leads_at_ranks(session, [(key, within + 1)], policy)
        lead = ranked.get((subscription.id, span.index, within + 1))
        first = (lead.counted_at, lead.external_id) if lead else None
    segment = (
        ""
        if span == found.period
        else f" (the segment from {span.start:%Y-%m-%d %H:%M} UTC, split by a plan change)"
    )
    text = (
        f"{count_of(counted, 'lead')} counted ({policy.value}) in "
        f"{describe_period(span, account.time_zone)}{segment} under plan {plan.code}, "
        f"{allowance} included; the first {within} are within the allowance, the last "
        f"{line.quantity} are overage at {_price(plan.per_lead_rate)} each "
        f"({OVERAGE_RULE})"
    )
    return _with(
        base,
        explanation=text,
        scope=_scope(account, subscription, found),
        counted_leads=counted,
        allowance=allowance,
        first_overage=first,
    )


def _line_category(plan: PlanTerms, description: str) -> str | None:
    """The priced category of a pay-per-lead line (None: the line at the per-lead rate).

    core.rating.leads_in_arrears writes `Leads <period>: <category>, <n> leads`.
    """
    for category, _price in plan.category_prices:
        if f": {category}, " in description:
            return category
    return None


def _per_lead(
    session: Session,
    account: Account,
    subscription: Subscription,
    line: InvoiceLine,
    base: LineExplanation,
    siblings: list[str],
) -> LineExplanation:
    """A pay-per-lead line; `siblings` are the descriptions of the invoice's leads lines."""
    found = _span_of(session, subscription, line)
    if found is None:
        return base
    plan, span = found.plan, found.span
    key = ClosingPeriod(subscription.id, span.index, account.id, span.start, span.end)
    by_category = usage_counts.counted_by_category(session, [key], plan.counting_policy).get(
        (subscription.id, span.index), {}
    )
    category = _line_category(plan, line.description)
    priced = tuple(name for name, _price in plan.category_prices)
    if category is not None:
        counted = by_category.get(category, 0)
        which = f"of category {category}"
    else:
        counted = sum(n for c, n in by_category.items() if c not in priced)
        which = "without a category price" if priced else "of the period"
    text = (
        f"{count_of(counted, 'lead')} {which} counted ({plan.counting_policy.value}) in "
        f"{describe_period(span, account.time_zone)} under plan {plan.code}, each charged "
        f"{_price(plan.lead_price(category))}; a lead with a non-billable reason is listed "
        "with its reason and not charged"
    )
    return _with(
        base,
        explanation=text,
        scope=_scope(account, subscription, found),
        counted_leads=counted,
        categories=(category,) if category is not None else None,
        # The line at the per-lead rate also lists the (excluded) leads of a priced
        # category that has no line of its own: no lead of it counted.
        excluded_categories=()
        if category is not None
        else tuple(c for c in priced if any(_line_category(plan, d) == c for d in siblings)),
        charges_every_lead=True,
    )


def _one_line(session: Session, invoice: Invoice, account: Account, line: InvoiceLine) -> str:
    subscription = (
        session.get_one(Subscription, invoice.subscription_id)
        if invoice.subscription_id is not None
        else None
    )
    found = _span_of(session, subscription, line) if subscription is not None else None
    if line.kind == LineKind.PLAN_FEE and found is not None:
        return (
            f"plan fee of {found.plan.code} for "
            f"{describe_period(found.span, account.time_zone)}, charged in advance at the "
            f"start of the period; it includes {count_of(found.plan.included_leads, 'lead')}; "
            f"{NO_LEADS}"
        )
    if line.kind == LineKind.LICENCES and found is not None:
        return (
            f"licences of {found.plan.code}: {line.quantity} x "
            f"{_price(Money(line.unit_price, invoice.currency))} for "
            f"{describe_period(found.span, account.time_zone)}, "
            f"charged in advance (an addition prorated to the rest of the period); {NO_LEADS}"
        )
    if line.kind == LineKind.PRORATION:
        return (
            "plan change: the fee difference prorated to the rest of the period, charged "
            f"at the change; the leads of each segment are on the period-end invoice; {NO_LEADS}"
        )
    if line.kind == LineKind.SEAT_FEE and invoice.seat_id is not None:
        seat = session.get_one(Seat, invoice.seat_id)
        return (
            f"one-time fee of seat {seat.code} (primary {seat.primary_name}), invoiced when "
            f"the seat was created on {seat.created_at:%Y-%m-%d}; {NO_LEADS}"
        )
    if line.kind == LineKind.CREDIT:
        if _credits_a_plan_change(session, invoice, line):
            source = (
                "credit of an immediate downgrade: the fee difference for the rest of its "
                "period (R7), charged on an earlier invoice"
            )
        else:
            source = "credit from an approved review of a lead charged on an earlier invoice"
        return (
            f"{line.description}: {source}, applied here up to this invoice's total "
            "(leadbill credit-notes show)"
        )
    return f"{line.kind}: {line.description}; {NO_LEADS}"


def _credits_a_plan_change(session: Session, invoice: Invoice, line: InvoiceLine) -> bool:
    """Whether a credit line applies a credit note of a plan change (not of a review)."""
    numbers = session.scalars(
        select(CreditNote.number)
        .join(CreditApplication, CreditApplication.credit_note_id == CreditNote.id)
        .where(
            CreditApplication.invoice_id == invoice.id,
            CreditNote.subscription_change_id.is_not(None),
        )
    )
    return any(line.description.startswith(f"Credit note {number} ") for number in numbers)


def explain_invoice(
    session: Session, number_or_id: str, *, account_id: int | None = None
) -> InvoiceExplanation:
    """Explain each line of an invoice; with `account_id`, another account's is NotFound."""
    invoice = get_invoice(session, number_or_id, account_id)
    account = session.get_one(Account, invoice.account_id)
    subscription = (
        session.get_one(Subscription, invoice.subscription_id)
        if invoice.subscription_id is not None
        else None
    )
    explained = []
    lines = invoice_lines(session, invoice.id)
    siblings = [line.description for line in lines if line.kind == LineKind.LEADS]
    for line in lines:
        base = LineExplanation(
            position=line.position,
            kind=line.kind,
            description=line.description,
            quantity=line.quantity,
            amount=Money(line.amount, invoice.currency).rounded(),  # stored rounded already
            explanation="",
        )
        if subscription is not None and line.kind == LineKind.OVERAGE:
            base = _overage(session, account, subscription, line, base)
        elif subscription is not None and line.kind == LineKind.LEADS:
            base = _per_lead(session, account, subscription, line, base, siblings)
        if not base.explanation:
            base = _with(base, explanation=_one_line(session, invoice, account, line))
        explained.append(base)
    _home_for_unlisted(explained)
    return InvoiceExplanation(
        invoice_label=invoice.number or f"draft {invoice.id}",
        account_code=account.code,
        time_zone=account.time_zone,
        lines=tuple(explained),
    )


def _home_for_unlisted(explained: list[LineExplanation]) -> None:
    """Without a line at the per-lead rate, the last pay-per-lead line also lists the leads
    of categories that have no line (none of them counted: each is listed with its reason)."""
    leads = [n for n, line in enumerate(explained) if line.charges_every_lead]
    if not leads or any(explained[n].categories is None for n in leads):
        return
    last = explained[leads[-1]]
    own = {c for n in leads[:-1] for c in (explained[n].categories or ())}
    explained[leads[-1]] = _with(
        last,
        categories=None,
        excluded_categories=tuple(sorted(own)),
        explanation=last.explanation + "; the leads of categories without a line of their "
        "own (none of them counted) are listed here too",
    )


def _belongs(line: LineExplanation, category: str | None) -> bool:
    if line.categories is not None:
        return category in line.categories
    return category not in line.excluded_categories


def _explained(line: LineExplanation, row: CallReportRow) -> ExplainedLead | None:
    """A call-report row as a lead behind this line (None: the row belongs to another line)."""
    if line.charges_every_lead:
        if not _belongs(line, row.category):
            return None
        charged = row.counted
    else:
        charged = (
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
        overage=charged,
        category=row.category,
    )


def iter_line_leads(
    session: Session, line: LineExplanation, *, page_size: int = DEFAULT_PAGE_SIZE
) -> Iterator[ExplainedLead]:
    """Every lead of the line's span, page by page, with its verdict and charged mark."""
    if line.scope is None:
        return
    for row in iter_call_report(session, line.scope, page_size=page_size):
        explained = _explained(line, row)
        if explained is not None:
            yield explained


def line_leads_page(
    session: Session, line: LineExplanation, *, after: str | None, limit: int
) -> tuple[list[ExplainedLead], str | None]:
    """One page of the leads behind a line (by lead id after `after`) and the next `after`.

    A pay-per-lead line keeps only its categories' rows, so a page may come back
    shorter than `limit` and still carry a cursor.
    """
    if line.scope is None:
        return [], None
    page = call_report_page(session, line.scope, after=after, limit=limit)
    kept = [e for row in page.rows if (e := _explained(line, row)) is not None]
    return kept, page.next_after
