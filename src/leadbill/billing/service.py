"""The billing run: close every period that ended, invoice it, open the next one.

At boundary k (k >= 1) a subscription gets one invoice that closes period k-1
with its overage in arrears (R4, R5) and, unless the subscription was cancelled
for that boundary, opens period k with its fee in advance (R1, R6). A
cancelled subscription ends at the boundary; its final invoice carries only
the closed period's overage (R6).

Subscription changes (R7, R19-R21): a period split by a plan change is rated
per segment (one overage line each, see core.proration); a scheduled downgrade
or licence removal applies at the boundary, so the next period's fee and
licences are the new plan's and count, and the subscription moves to them.

The run works in batches, each its own transaction, and everything in a batch
is set-based: one query locks the batch, one GROUP BY counts the usage of all
its closing periods, and each table is written with one bulk statement.
Exactly once comes from the database: (subscription_id, boundary_index) is
unique on invoices, due subscriptions are locked (FOR UPDATE SKIP LOCKED on
PostgreSQL, BEGIN IMMEDIATE on SQLite), and a batch that loses a race to a
concurrent run is rolled back and taken again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from leadbill.billing import repository
from leadbill.billing.boundaries import Boundary
from leadbill.billing.invoices import (
    finalized_fields,
    finalized_status,
    line_rows,
    payment_reference_of,
    take_numbers,
    totals_of,
)
from leadbill.billing.repository import ClosingPeriod, DueSubscription, SegmentRow
from leadbill.billing.taxation import AccountBilling, billing_of, format_number, tax_rates
from leadbill.core.billability import counting_events
from leadbill.core.errors import RuleViolation
from leadbill.core.periods import Interval, Period, period_at, require_utc
from leadbill.core.plans import CountingPolicy, PlanTerms
from leadbill.core.proration import SegmentUsage, segment_overage_lines
from leadbill.core.rating import Line, boundary_lines, charges_in_advance
from leadbill.core.tax import TaxDecision, TaxRate, taxed_lines
from leadbill.credit_notes.application import apply_credit_notes, record_applications
from leadbill.errors import InvalidInput, from_rule
from leadbill.mail.service import queue_billing_batch
from leadbill.plans.service import terms
from leadbill.webhooks import events as webhook_events
from leadbill.webhooks.service import Event, emit_many, subscribed_types

# A batch that collides with a concurrent run is retried this many times.
MAX_ATTEMPTS = 5
# PostgreSQL's serialization failure and deadlock: both mean "take the batch again".
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})


@dataclass(frozen=True, slots=True)
class BillingRunResult:
    """What one billing run did.

    `subscriptions_renewed` counts renewals (periods opened), so a subscription
    three periods behind renews three times in one run.
    """

    as_of: datetime
    invoices_issued: int
    subscriptions_renewed: int
    subscriptions_ended: int
    invoice_ids: list[int] = field(default_factory=list)
    invoice_numbers: list[str] = field(default_factory=list)
    batches: int = 0
    retries: int = 0


@dataclass(slots=True)
class _BatchOutcome:
    invoice_ids: list[int]
    invoice_numbers: list[str]
    renewed: int
    ended: int


def due_boundaries(due: DueSubscription, interval: Interval, as_of: datetime) -> list[Boundary]:
    """Every boundary of the subscription up to `as_of`, oldest first (catch-up included)."""
    closing = Period(due.period_index, due.period_start, due.period_end)
    found: list[Boundary] = []
    while closing.end <= as_of:
        index = closing.index + 1
        if due.cancel_at_period_end and (
            due.cancel_requested_at is None or due.cancel_requested_at < closing.end
        ):
            # A cancellation takes effect at the end of the period it was made in (R6),
            # even when the run is catching up on periods that ended before it.
            found.append(Boundary(due, index, closing, None))
            break
        calendar = period_at(due.anchor_at, due.time_zone, interval, index)
        # The next period starts exactly where the closed one ended: no gap, no overlap.
        opening = Period(index, closing.end, calendar.end)
        found.append(Boundary(due, index, closing, opening))
        closing = opening
    return found


Usage = dict[tuple[int, int], dict[str | None, int]]


def _usage(session: Session, boundaries: list[Boundary], plans: dict[int, PlanTerms]) -> Usage:
    """Counted leads of every closing period, by category, keyed by (subscription, period).

    Usage is the account's counted leads in the period, across all its seats (R3),
    under the plan's counting policy: `called` counts a lead once called (R2,
    leads.first_called_at); `received_unless_excluded` at its received instant
    unless excluded (R10-R12, R16); `contact_found` at its first found contact
    unless blocked or excluded by staff (R17, R18); `none` counts nothing. One
    GROUP BY per policy present in the batch.
    """
    by_policy: dict[CountingPolicy, list[ClosingPeriod]] = {}
    for b in boundaries:
        policy = plans[b.subscription.plan_id].counting_policy
        by_policy.setdefault(policy, []).append(
            ClosingPeriod(
                b.subscription.id,
                b.closing.index,
                b.subscription.account_id,
                b.closing.start,
                b.closing.end,
            )
        )
    usage: Usage = {}
    for policy, wanted in by_policy.items():
        if policy is CountingPolicy.CALLED:
            for key, count in repository.called_leads(session, wanted).items():
                usage[key] = {None: count}
        elif counting_events(policy):
            usage.update(repository.counted_by_category(session, wanted, policy))
    return usage


def next_plan_id(due: DueSubscription) -> int:
    """The plan of the periods the run opens: a scheduled change, else the current plan."""
    return due.scheduled_plan_id or due.plan_id


def next_licences(due: DueSubscription) -> int:
    """The licences of the periods the run opens: a scheduled count, else the current one."""
    return due.licences if due.scheduled_licences is None else due.scheduled_licences


def closing_plan_id(b: Boundary) -> int:
    """The plan of the period a boundary closes: the current one, or after a catch-up the next."""
    first = b.index == b.subscription.period_index + 1
    return b.subscription.plan_id if first else next_plan_id(b.subscription)


def _segment_usage(
    session: Session,
    boundaries: list[Boundary],
    plans: dict[int, PlanTerms],
) -> dict[tuple[int, int], list[SegmentUsage]]:
    """Segments of the closing periods a plan change split, with their counted leads (R7).

    One query finds the split periods of the batch; one GROUP BY per counting
    policy counts the leads of all their segments (each segment as its own span).
    """
    firsts = [b for b in boundaries if b.index == b.subscription.period_index + 1]
    split = repository.split_segments(
        session,
        [
            ClosingPeriod(
                b.subscription.id,
                b.closing.index,
                b.subscription.account_id,
                b.closing.start,
                b.closing.end,
            )
            for b in firsts
        ],
    )
    if not split:
        return {}
    earlier = {row.plan_id for rows in split.values() for row in rows} - plans.keys()
    for plan_id, stored in repository.plans_by_id(session, earlier).items():
        plans[plan_id] = terms(stored)  # plans a segment had before a change
    accounts = {b.subscription.id: b.subscription.account_id for b in firsts}
    spans: dict[CountingPolicy, list[ClosingPeriod]] = {}
    rows: list[SegmentRow] = []
    for segment_rows in split.values():
        for row in segment_rows:
            # Each segment is counted as its own span, keyed by its position in `rows`.
            spans.setdefault(plans[row.plan_id].counting_policy, []).append(
                ClosingPeriod(
                    row.subscription_id,
                    -1 - len(rows),
                    accounts[row.subscription_id],
                    row.start,
                    row.end,
                )
            )
            rows.append(row)
    counted: dict[tuple[int, int], int] = {}
    for policy, wanted in spans.items():
        counted.update(repository.counted_leads(session, wanted, policy))
    found: dict[tuple[int, int], list[SegmentUsage]] = {}
    for position, row in enumerate(rows):
        leads = counted.get((row.subscription_id, -1 - position), 0)
        found.setdefault((row.subscription_id, row.period_index), []).append(
            SegmentUsage(plans[row.plan_id], row.start, row.end, leads)
        )
    return found


def _period_rows(boundaries: list[Boundary]) -> list[dict[str, Any]]:
    """Rows of the periods (and their first segment) that the boundaries open."""
    return [
        {
            "account_id": b.subscription.account_id,
            "subscription_id": b.subscription.id,
            "period_index": b.opening.index,
            "start": b.opening.start,
            "end": b.opening.end,
            "plan_id": next_plan_id(b.subscription),
        }
        for b in boundaries
        if b.opening is not None
    ]


def _invoice_row(
    b: Boundary,
    lines: list[Line],
    billing: AccountBilling,
    decision: TaxDecision,
    number: str | None,
) -> dict[str, Any]:
    """The invoice of one boundary, issued (and finalized) at the boundary instant."""
    totals = totals_of(lines, b.subscription.currency)
    total = totals["total"]
    status = finalized_status(total) if number else "draft"
    finalized: dict[str, Any] = (
        finalized_fields(billing, decision, b.at)
        if number
        else {"billing_entity_id": None, "issuer": None, "customer": None, "due_on": None}
        | {"tax_mention": None}
    )
    return {
        "account_id": b.subscription.account_id,
        "subscription_id": b.subscription.id,
        "seat_id": None,
        "boundary_index": b.index,
        "kind": "period",
        "number": number,
        "payment_reference": payment_reference_of(number) if number else None,
        "status": status,
        "currency": b.subscription.currency,
        **totals,
        "issued_at": b.at,
        "finalized_at": b.at if number else None,
        "paid_at": b.at if status == "paid" else None,
        "voided_at": None,
        **finalized,
    }


def _subscription_rows(boundaries: list[Boundary]) -> list[dict[str, Any]]:
    """Where each subscription stands after its last boundary: renewed or ended."""
    last = {b.subscription.id: b for b in boundaries}  # boundaries are in time order
    return [
        {
            "id": b.subscription.id,
            "status": "active" if b.opening else "ended",
            "current_period_index": (b.opening or b.closing).index,
            "current_period_start": (b.opening or b.closing).start,
            "current_period_end": (b.opening or b.closing).end,
            "ended_at": None if b.opening else b.at,
            # A renewal applies what was scheduled for it; an end keeps the last terms.
            "plan_id": next_plan_id(b.subscription) if b.opening else closing_plan_id(b),
            "licences": next_licences(b.subscription) if b.opening else b.subscription.licences,
            "scheduled_licences": None if b.opening else b.subscription.scheduled_licences,
            "scheduled_plan_id": None if b.opening else b.subscription.scheduled_plan_id,
        }
        for b in last.values()
    ]


def rate_boundaries(
    session: Session, boundaries: list[Boundary], plan_cache: dict[int, PlanTerms]
) -> list[tuple[Boundary, list[Line]]]:
    """The lines of each boundary's invoice, from the usage of its closing period.

    The one place where a closed period is rated: the billing run calls it for the
    boundaries it invoices, and a review's re-rating (R15) for the boundary of an
    invoiced period, with `opening` None so that only the closed period's lines come.
    """
    usage = _usage(session, boundaries, plan_cache)
    split = _segment_usage(session, boundaries, plan_cache)
    rated: list[tuple[Boundary, list[Line]]] = []
    for b in boundaries:
        plan = plan_cache[closing_plan_id(b)]
        next_plan = plan_cache[next_plan_id(b.subscription)]
        licences = next_licences(b.subscription)
        segments = split.get((b.subscription.id, b.closing.index))
        if segments and b.index == b.subscription.period_index + 1:
            lines = segment_overage_lines(b.closing, segments, b.subscription.time_zone)
            if b.opening is not None:
                lines += charges_in_advance(
                    next_plan, b.opening, licences, b.subscription.time_zone
                )
            rated.append((b, lines))
            continue
        by_category = usage.get((b.subscription.id, b.closing.index), {})
        counted = sum(by_category.values())
        lines = boundary_lines(
            plan,
            b.closing,
            counted,
            next_plan if b.opening else None,
            b.opening,
            b.subscription.time_zone,
            counted_by_category=by_category,
            licences=licences,
        )
        rated.append((b, lines))
    return rated


_INVOICE_EVENTS = frozenset({webhook_events.INVOICE_FINALIZED, webhook_events.INVOICE_PAID})
_BATCH_EVENTS = _INVOICE_EVENTS | {
    webhook_events.SUBSCRIPTION_RENEWED,
    webhook_events.SUBSCRIPTION_CANCELLED,
}


def _webhook_events(
    rated: list[tuple[Boundary, list[Line]]],
    rows: list[dict[str, Any]],
    ids: dict[tuple[int, int], int],
    plans: dict[int, PlanTerms],
    wanted: set[str],
) -> list[Event]:
    """The batch's webhook events, from the rows it writes.

    Each invoice finalized (and paid when nothing is due), each subscription
    renewed (a period opened) or cancelled (its cancellation took effect); only
    of the `wanted` types (those some endpoint subscribes to), since an event no
    endpoint wants is not written.
    """
    found: list[Event] = []
    for (b, _lines), row in zip(rated, rows, strict=True):
        due = b.subscription
        if row["number"] is not None and wanted & _INVOICE_EVENTS:
            data = webhook_events.invoice_data(
                id=ids[(due.id, b.index)],
                number=row["number"],
                kind=row["kind"],
                status=row["status"],
                currency=row["currency"],
                total=row["total"],
                issued_at=b.at,
                finalized_at=b.at,
                paid_at=row["paid_at"],
                subscription_id=due.id,
            )
            found.append(Event(due.account_id, webhook_events.INVOICE_FINALIZED, data, b.at))
            if row["status"] == "paid":
                found.append(Event(due.account_id, webhook_events.INVOICE_PAID, data, b.at))
        if b.opening is not None:
            if webhook_events.SUBSCRIPTION_RENEWED not in wanted:
                continue
            data = webhook_events.subscription_renewed_data(
                subscription_id=due.id,
                plan=plans[next_plan_id(due)].code,
                period_index=b.opening.index,
                period_start=b.opening.start,
                period_end=b.opening.end,
                licences=next_licences(due),
            )
            found.append(Event(due.account_id, webhook_events.SUBSCRIPTION_RENEWED, data, b.at))
        elif webhook_events.SUBSCRIPTION_CANCELLED in wanted:
            data = webhook_events.subscription_cancelled_data(
                subscription_id=due.id,
                plan=plans[closing_plan_id(b)].code,
                cancel_requested_at=due.cancel_requested_at,
                ended_at=b.at,
                last_period_index=b.closing.index,
            )
            found.append(Event(due.account_id, webhook_events.SUBSCRIPTION_CANCELLED, data, b.at))
    return found


def _numbers(session: Session, billings: list[AccountBilling], finalize: bool) -> list[str | None]:
    """The numbers of the batch's invoices, in order, from each issuer's counter (None: drafts).

    Numbers follow the invoices' order (the run's order, see `_bill_batch`), so they
    do not depend on the batch size; each prefix's counter is taken once for the batch.
    """
    if not finalize:
        return [None] * len(billings)
    wanted: dict[str, int] = {}
    for billing in billings:
        wanted[billing.invoice_prefix] = wanted.get(billing.invoice_prefix, 0) + 1
    # Counters are locked in one order, so two runs at once never wait on each other in a circle.
    taken = {
        prefix: iter(take_numbers(session, wanted[prefix], prefix)) for prefix in sorted(wanted)
    }
    return [
        format_number(billing.invoice_prefix, next(taken[billing.invoice_prefix]))
        for billing in billings
    ]


def _bill_batch(
    session: Session,
    as_of: datetime,
    batch_size: int,
    finalize: bool,
    plan_cache: dict[int, PlanTerms],
    tax_cache: dict[str, list[TaxRate]],
    skip_locked: bool,
) -> _BatchOutcome | None:
    due = repository.lock_due_subscriptions(session, as_of, batch_size, skip_locked=skip_locked)
    if not due:
        return None
    wanted_plans = {d.plan_id for d in due} | {d.scheduled_plan_id or d.plan_id for d in due}
    missing = wanted_plans - plan_cache.keys()
    for plan_id, stored in repository.plans_by_id(session, missing).items():
        plan_cache[plan_id] = terms(stored)

    # Invoices (and their numbers) follow the run's one order, whatever the batch size:
    # subscriptions as locked (open period's end, then id), each one's boundaries
    # oldest first. A batch is the next slice of that order and takes every boundary
    # of its subscriptions, so what a killed run committed is a prefix of it.
    boundaries: list[Boundary] = []
    for subscription in due:
        interval = plan_cache[subscription.plan_id].interval
        boundaries.extend(due_boundaries(subscription, interval, as_of))

    # Catch-up periods are recorded first; usage is counted from the boundaries' spans.
    repository.insert_periods(session, _period_rows(boundaries))
    # Each line's tax comes from the account's entity and details on the issue date.
    billing = billing_of(session, {b.subscription.account_id for b in boundaries})
    if "rates" not in tax_cache:
        tax_cache["rates"] = tax_rates(session)
    rates = tax_cache["rates"]
    decisions: dict[tuple[int, int], TaxDecision] = {}
    rated_lines = []
    for b, lines in rate_boundaries(session, boundaries, plan_cache):
        decision = billing[b.subscription.account_id].decision(rates, b.at)
        decisions[(b.subscription.id, b.index)] = decision
        rated_lines.append((b, taxed_lines(lines, decision)))
    # R15: unapplied credit notes of the batch's accounts become negative lines,
    # up to each invoice's total with its tax.
    rated, credits = apply_credit_notes(session, rated_lines)

    numbers = _numbers(session, [billing[b.subscription.account_id] for b, _ in rated], finalize)
    rows = [
        _invoice_row(
            b,
            lines,
            billing[b.subscription.account_id],
            decisions[(b.subscription.id, b.index)],
            number,
        )
        for (b, lines), number in zip(rated, numbers, strict=True)
    ]
    ids = repository.insert_invoices(session, rows)
    line_batch: list[dict[str, object]] = []
    for b, lines in rated:
        invoice_id = ids[(b.subscription.id, b.index)]
        line_batch.extend(line_rows(b.subscription.account_id, invoice_id, lines))
    repository.insert_lines(session, line_batch)
    record_applications(session, credits, ids)
    repository.update_subscriptions(session, _subscription_rows(boundaries))
    # The webhook outbox is written by this batch's transaction: one bulk insert per table.
    wanted = subscribed_types(session, _BATCH_EVENTS)
    emit_many(session, _webhook_events(rated, rows, ids, plan_cache, wanted))
    # And the mail outbox: one row naming the finalized invoices, which the outbox
    # turns into an "invoice issued" message each before it is read or sent.
    queue_billing_batch(
        session,
        [
            (b.subscription.account_id, ids[(b.subscription.id, b.index)])
            for (b, _lines), row in zip(rated, rows, strict=True)
            if row["number"] is not None
        ],
    )

    renewed = sum(1 for b in boundaries if b.opening is not None)
    return _BatchOutcome(
        invoice_ids=[ids[(b.subscription.id, b.index)] for b, _ in rated],
        invoice_numbers=[number for number in numbers if number is not None],
        renewed=renewed,
        ended=len(boundaries) - renewed,
    )


def _retryable(error: DBAPIError) -> bool:
    if isinstance(error, IntegrityError):
        return True  # a concurrent run issued the same invoice first
    return getattr(error.orig, "sqlstate", None) in RETRYABLE_SQLSTATES


def run_billing(
    sessions: sessionmaker[Session],
    as_of: datetime,
    *,
    batch_size: int = 500,
    finalize: bool = True,
) -> BillingRunResult:
    """Invoice every period that ended by `as_of`, in batches, each its own transaction."""
    try:
        as_of = require_utc(as_of, "as_of")
    except RuleViolation as error:
        raise from_rule(error) from None
    if batch_size < 1:
        raise InvalidInput("batch_size", "must be at least 1")
    plan_cache: dict[int, PlanTerms] = {}
    tax_cache: dict[str, list[TaxRate]] = {}  # the rates, read once per run
    invoice_ids: list[int] = []
    invoice_numbers: list[str] = []
    renewed = ended = batches = retries = 0
    # First take every batch nobody else holds; then wait for rows held elsewhere (a
    # concurrent run's batch, a cancellation being saved) so that nothing due is left.
    skip_locked = True
    while True:
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                with sessions() as session, session.begin():
                    outcome = _bill_batch(
                        session, as_of, batch_size, finalize, plan_cache, tax_cache, skip_locked
                    )
                break
            except DBAPIError as error:
                if attempt == MAX_ATTEMPTS or not _retryable(error):
                    raise
                retries += 1
        if outcome is None:
            if not skip_locked:
                break
            skip_locked = False
            continue
        batches += 1
        invoice_ids.extend(outcome.invoice_ids)
        invoice_numbers.extend(outcome.invoice_numbers)
        renewed += outcome.renewed
        ended += outcome.ended
    return BillingRunResult(
        as_of=as_of,
        invoices_issued=len(invoice_ids),
        subscriptions_renewed=renewed,
        subscriptions_ended=ended,
        invoice_ids=invoice_ids,
        invoice_numbers=invoice_numbers,
        batches=batches,
        retries=retries,
    )
