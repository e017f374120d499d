"""Subscription use cases: start, cancel at period end, read periods."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from leadbill.accounts.models import Account
from leadbill.billing.invoices import issue_invoice
from leadbill.billing.models import Invoice
from leadbill.core.errors import RuleViolation
from leadbill.core.money import Money
from leadbill.core.periods import (
    Interval,
    Period,
    period_at,
    periods_to_cancellation,
    require_not_ahead,
    require_utc,
)
from leadbill.core.proration import (
    Actor,
    LicencePreview,
    SelfServeCapExceeded,
    change_fee_line,
    check_licence_count,
    check_plan_change,
    is_upgrade,
    licence_addition_line,
    preview_licences,
    segment_allowance,
    takes_effect_at_once,
)
from leadbill.core.rating import charges_in_advance, charges_per_lead
from leadbill.core.reviews import check_text
from leadbill.credit_notes.changes import credit_downgrade
from leadbill.credit_notes.models import CreditNote
from leadbill.errors import Conflict, Forbidden, InvalidInput, NotFound, from_rule
from leadbill.limits import MAX_LICENCES, check_count
from leadbill.plans.models import Plan
from leadbill.plans.service import terms
from leadbill.settings import Settings
from leadbill.subscriptions.models import (
    Subscription,
    SubscriptionChange,
    SubscriptionPeriod,
    SubscriptionSegment,
)


def period_of(subscription: Subscription, account: Account, plan: Plan, index: int) -> Period:
    """Period number `index` of the subscription, from the core's calendar."""
    return period_at(subscription.anchor_at, account.time_zone, Interval(plan.interval), index)


def open_period_rows(
    subscription: Subscription, account_id: int, plan_id: int, period: Period
) -> tuple[dict[str, object], dict[str, object]]:
    """Rows recording an opened period and its first segment."""
    common = {
        "account_id": account_id,
        "subscription_id": subscription.id,
        "period_index": period.index,
        "start": period.start,
        "end": period.end,
    }
    return common, {**common, "plan_id": plan_id}


def create_subscription(
    session: Session, *, account: Account, plan: Plan, start: datetime, licences: int = 0
) -> Subscription:
    """Put an account on a plan from `start`; the first period's fee is invoiced at once (R1).

    On a licence plan the first invoice also charges `licences` x the licence price (R19).
    """
    try:
        start = require_utc(start, "start")
    except RuleViolation as error:
        raise from_rule(error) from None
    check_count("licences", licences, low=0, high=MAX_LICENCES)
    if licences and plan.licence_price is None:
        raise InvalidInput("licences", "must be 0 or more, and only on a licence plan")
    if plan.currency != account.currency:
        raise InvalidInput(
            "plan", f"plan {plan.code} is in {plan.currency}, account is in {account.currency}"
        )
    active = session.scalar(
        select(Subscription.id).where(
            Subscription.account_id == account.id, Subscription.status == "active"
        )
    )
    if active is not None:
        raise Conflict(f"account {account.code} already has an active subscription ({active})")
    subscription = Subscription(
        account_id=account.id,
        plan_id=plan.id,
        status="active",
        anchor_at=start,
        current_period_index=0,
        current_period_start=start,
        current_period_end=start,
        cancel_at_period_end=False,
        created_at=start,
        licences=licences,
    )
    first = period_of(subscription, account, plan, 0)
    subscription.current_period_end = first.end
    session.add(subscription)
    session.flush()
    period_row, segment_row = open_period_rows(subscription, account.id, plan.id, first)
    session.add(SubscriptionPeriod(**period_row))
    session.add(SubscriptionSegment(**segment_row))
    issue_invoice(
        session,
        account_id=account.id,
        currency=account.currency,
        lines=charges_in_advance(terms(plan), first, licences, account.time_zone),
        issued_at=first.start,
        kind="period",
        subscription_id=subscription.id,
        boundary_index=0,
    )
    return subscription


def cancel_subscription(
    session: Session,
    subscription: Subscription,
    as_of: datetime,
    *,
    by: str | None = None,
    clock: datetime | None = None,
) -> Subscription:
    """Cancel as of `as_of`, effective at the end of the period it falls in (R6).

    The final invoice carries that period's overage. `by` (staff or API key) is
    recorded with the instant; with `clock`, an instant more than a day ahead of it
    is refused. A subscription already cancelled keeps its first cancellation.
    """
    if subscription.status != "active":
        raise Conflict(f"subscription {subscription.id} has already ended")
    try:
        at = require_utc(as_of, "at")
        if clock is not None:
            require_not_ahead(at, clock, "at")
        who = None if by is None else check_text(by, "by", 1, 200)
    except RuleViolation as error:
        raise from_rule(error) from None
    if at < subscription.anchor_at:
        raise InvalidInput(
            "at",
            f"precedes the start of subscription {subscription.id} "
            f"({subscription.anchor_at:%Y-%m-%d %H:%M} UTC)",
        )
    if subscription.cancel_at_period_end:
        return subscription
    subscription.cancel_at_period_end = True
    subscription.cancel_requested_at = at
    subscription.cancel_requested_by = who
    session.flush()
    return subscription


@dataclass(frozen=True, slots=True)
class Cancellation:
    """What a recorded cancellation will really do, from the subscription as stored.

    It ends the subscription at `ends_at`, the end of the period it was made in.
    `renewals` are the boundaries billing has not closed yet that still renew it
    (and invoice their fees) before then: billing lagged the clock. `uncredited`
    is the start of the current period when the cancellation is dated before it:
    that period's fee, invoiced in advance, stays charged (nothing is credited).
    """

    requested_at: datetime | None
    requested_by: str | None
    ends_at: datetime
    renewals: tuple[datetime, ...]
    uncredited: datetime | None


def cancellation_of(session: Session, subscription: Subscription) -> Cancellation | None:
    """The subscription's cancellation and what it will do; None when it is not cancelled."""
    if subscription.status != "active" or not subscription.cancel_at_period_end:
        return None
    return cancellation_at(
        session, subscription, subscription.cancel_requested_at, subscription.cancel_requested_by
    )


def cancellation_at(
    session: Session, subscription: Subscription, at: datetime | None, by: str | None = None
) -> Cancellation:
    """What a cancellation made at `at` does (or would do) to the subscription as stored."""
    account = session.get_one(Account, subscription.account_id)
    plan = session.get_one(Plan, subscription.plan_id)
    current = Period(
        subscription.current_period_index,
        subscription.current_period_start,
        subscription.current_period_end,
    )
    periods = periods_to_cancellation(
        current, subscription.anchor_at, account.time_zone, Interval(plan.interval), at
    )
    backdated = at is not None and at < current.start
    return Cancellation(
        requested_at=at,
        requested_by=by,
        ends_at=periods[-1].end,
        renewals=tuple(period.start for period in periods[1:]),
        uncredited=current.start if backdated else None,
    )


def get_subscription(session: Session, subscription_id: int) -> Subscription:
    """A subscription by id."""
    subscription = session.get(Subscription, subscription_id)
    if subscription is None:
        raise NotFound(f"subscription {subscription_id} does not exist")
    return subscription


def current_subscription(session: Session, account: Account) -> Subscription:
    """The account's active subscription, or else its most recent one."""
    subscription = session.scalar(
        select(Subscription)
        .where(Subscription.account_id == account.id)
        .order_by((Subscription.status == "active").desc(), Subscription.id.desc())
        .limit(1)
    )
    if subscription is None:
        raise NotFound(f"account {account.code} has no subscription")
    return subscription


def periods(session: Session, subscription_id: int) -> list[SubscriptionPeriod]:
    """The periods opened so far, oldest first."""
    return list(
        session.scalars(
            select(SubscriptionPeriod)
            .where(SubscriptionPeriod.subscription_id == subscription_id)
            .order_by(SubscriptionPeriod.period_index)
        )
    )


# Plan and licence changes (R7, R19-R22). Each change is a `subscription_changes`
# row, unique per (subscription, key): the key defaults to what the change is and
# when it was asked for, so retrying the same request (same instant, same change,
# or the same explicit key) returns the first change and its invoice instead of
# charging twice. The row is inserted before the invoice, in the same transaction,
# so a concurrent duplicate fails on the unique constraint and is rolled back.


@dataclass(frozen=True, slots=True)
class ChangeResult:
    """A recorded change: when it takes effect and the invoice or credit notes issued at once.

    An immediate upgrade (or licence addition) has an invoice; an immediate
    downgrade has credit notes instead (R7: nobody owes a negative amount).
    """

    change: SubscriptionChange
    invoice: Invoice | None
    immediate: bool
    replayed: bool = False
    credit_notes: tuple[CreditNote, ...] = ()


def _locked(session: Session, subscription: Subscription) -> Subscription:
    """The subscription reloaded and locked for the change (FOR UPDATE on PostgreSQL)."""
    locked = session.scalars(
        select(Subscription)
        .where(Subscription.id == subscription.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    if locked.status != "active":
        raise Conflict(f"subscription {locked.id} has ended")
    return locked


def _current_period(subscription: Subscription, as_of: datetime) -> tuple[Period, datetime]:
    try:
        at = require_utc(as_of, "as_of")
    except RuleViolation as error:
        raise from_rule(error) from None
    period = Period(
        subscription.current_period_index,
        subscription.current_period_start,
        subscription.current_period_end,
    )
    if at < period.start:
        raise InvalidInput("as_of", f"precedes the current period start {period.start:%Y-%m-%d}")
    if at >= period.end:
        raise Conflict(
            f"the current period of subscription {subscription.id} ended at "
            f"{period.end:%Y-%m-%d %H:%M} UTC; run billing first"
        )
    return period, at


def recorded_change(
    session: Session, subscription: Subscription, key: str
) -> SubscriptionChange | None:
    """The change already recorded on this subscription under idempotency `key`, if any."""
    return session.scalar(
        select(SubscriptionChange).where(
            SubscriptionChange.subscription_id == subscription.id, SubscriptionChange.key == key
        )
    )


def _replay(session: Session, subscription: Subscription, key: str) -> ChangeResult | None:
    change = recorded_change(session, subscription, key)
    if change is None:
        return None
    invoice = session.get(Invoice, change.invoice_id) if change.invoice_id else None
    notes = session.scalars(
        select(CreditNote)
        .where(CreditNote.subscription_change_id == change.id)
        .order_by(CreditNote.id)
    ).all()
    immediate = change.effective_at == change.requested_at
    return ChangeResult(change, invoice, immediate, True, tuple(notes))


def _record(session: Session, change: SubscriptionChange) -> None:
    session.add(change)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict(f"change {change.key!r} is being recorded by another request") from None


def change_plan(
    session: Session,
    subscription: Subscription,
    new_plan: Plan,
    as_of: datetime,
    *,
    immediate: bool | None = None,
    key: str | None = None,
    actor: str = "staff",
) -> ChangeResult:
    """Move the subscription to `new_plan` inside its current period (R7).

    An upgrade (higher fee) takes effect at once, a downgrade at the period end
    unless `immediate` (default: LEADBILL_DOWNGRADE_IMMEDIATE) says otherwise;
    `immediate=False` defers even an upgrade. Both plans share ladder, currency,
    interval and counting policy.

    At once at instant t: the period's last segment ends at t and a new segment
    [t, end) on the new plan begins; (new fee - old fee) x remaining share is
    issued at t: positive, on a "change" invoice with that one line; negative (an
    immediate downgrade), as a credit note against the invoice(s) that charged the
    fee being reduced, applied by the billing run to the next invoice; zero,
    nothing. A retry with the same key replays the change and issues nothing.
    The overage of each segment (the old segment beyond the old plan's full
    allowance at the old rate, the new one beyond the prorated allowance at the
    new rate) is invoiced at the period end, one line
    per segment on the boundary invoice. At the period end: the change is
    scheduled and the boundary invoice charges the new plan's fee for the next
    period, which opens on the new plan.
    """
    subscription = _locked(session, subscription)
    period, at = _current_period(subscription, as_of)
    old_plan = session.get_one(Plan, subscription.plan_id)
    mode = {None: "default", True: "now", False: "period-end"}[immediate]
    key = key or f"plan:{period.index}:{new_plan.code}:{mode}:{at.isoformat()}"
    replayed = _replay(session, subscription, key)
    if replayed is not None:
        return replayed
    at_once = _plan_change_at_once(subscription, old_plan, new_plan, immediate)
    old, new = terms(old_plan), terms(new_plan)
    change = SubscriptionChange(
        account_id=subscription.account_id,
        subscription_id=subscription.id,
        key=key,
        kind="plan",
        actor=Actor(actor).value,
        period_index=period.index,
        requested_at=at,
        effective_at=at if at_once else period.end,
        from_plan_id=old_plan.id,
        to_plan_id=new_plan.id,
    )
    _record(session, change)
    if not at_once:
        subscription.scheduled_plan_id = new_plan.id
        session.flush()
        return ChangeResult(change, None, False)

    account = session.get_one(Account, subscription.account_id)
    _split_segment(session, subscription, period, at, new_plan.id)
    subscription.plan_id = new_plan.id
    subscription.scheduled_plan_id = None
    line = change_fee_line(old, new, period, at, account.time_zone)
    if line.amount.amount < 0:
        notes = credit_downgrade(session, change, line, period, account.currency)
        session.flush()
        return ChangeResult(change, None, True, credit_notes=tuple(notes))
    if line.amount.is_zero():
        session.flush()
        return ChangeResult(change, None, True)
    invoice = issue_invoice(
        session,
        account_id=subscription.account_id,
        currency=account.currency,
        lines=[line],
        issued_at=at,
        kind="change",
        subscription_id=subscription.id,
    )
    change.invoice_id = invoice.id
    session.flush()
    return ChangeResult(change, invoice, True)


def _plan_change_at_once(
    subscription: Subscription, old_plan: Plan, new_plan: Plan, immediate: bool | None
) -> bool:
    """Whether a change from `old_plan` to `new_plan` takes effect at once; refuses one
    that is not allowed (R7)."""
    if subscription.cancel_at_period_end:
        raise Conflict(f"subscription {subscription.id} is cancelled at its period end")
    if old_plan.ladder is None or old_plan.ladder != new_plan.ladder:
        raise InvalidInput(
            "plan",
            f"{new_plan.code} is not on the ladder of {old_plan.code} "
            f"({old_plan.ladder or 'none'}); a plan change stays on one ladder",
        )
    old, new = terms(old_plan), terms(new_plan)
    if charges_per_lead(old) or charges_per_lead(new):
        raise InvalidInput("plan", "pay-per-lead plans have no allowance to prorate")
    try:
        if immediate is None:
            at_once = takes_effect_at_once(old, new, Settings.from_env().downgrade_immediate)
        else:
            check_plan_change(old, new)
            at_once = immediate
    except RuleViolation as error:
        raise from_rule(error) from None
    if at_once and old.has_licences:
        # Only the fee would be prorated, not the licence price: change at the period end.
        raise InvalidInput("immediate", "a licence plan changes plan at the period end")
    return at_once


@dataclass(frozen=True, slots=True)
class PlanChangePreview:
    """What a plan change would do, before it is made: when, and what it costs.

    `fee_difference` is the prorated line of an immediate change (positive: invoiced
    at once; negative: credited on the next invoice); None for a change at the period
    end, which invoices nothing now. `allowance` is the new plan's included leads for
    the rest of the period (prorated) or for a whole period from the period end.
    """

    from_plan: Plan
    to_plan: Plan
    upgrade: bool
    immediate: bool
    effective_at: datetime
    fee_difference: Money | None
    allowance: int


def preview_plan_change(
    session: Session,
    subscription: Subscription,
    new_plan: Plan,
    as_of: datetime,
    *,
    immediate: bool | None = None,
) -> PlanChangePreview:
    """When a change to `new_plan` would take effect and what it would cost; writes nothing.

    Refuses what `change_plan` would refuse; the figures are the ones it would invoice.
    """
    if subscription.status != "active":
        raise Conflict(f"subscription {subscription.id} has ended")
    period, at = _current_period(subscription, as_of)
    old_plan = session.get_one(Plan, subscription.plan_id)
    at_once = _plan_change_at_once(subscription, old_plan, new_plan, immediate)
    old, new = terms(old_plan), terms(new_plan)
    if not at_once:
        return PlanChangePreview(
            old_plan, new_plan, is_upgrade(old, new), False, period.end, None, new.included_leads
        )
    account = session.get_one(Account, subscription.account_id)
    line = change_fee_line(old, new, period, at, account.time_zone)
    return PlanChangePreview(
        old_plan,
        new_plan,
        is_upgrade(old, new),
        True,
        at,
        line.amount,
        segment_allowance(new, period, at),
    )


def _split_segment(
    session: Session, subscription: Subscription, period: Period, at: datetime, plan_id: int
) -> None:
    """End the period's last segment at `at` and start one on `plan_id` from there."""
    last = session.scalars(
        select(SubscriptionSegment)
        .where(
            SubscriptionSegment.subscription_id == subscription.id,
            SubscriptionSegment.period_index == period.index,
        )
        .order_by(SubscriptionSegment.start.desc())
        .limit(1)
    ).one()
    if last.start == at:
        last.plan_id = plan_id  # a change at the segment's first instant replaces its plan
        return
    session.execute(
        update(SubscriptionSegment).where(SubscriptionSegment.id == last.id).values(end=at)
    )
    session.add(
        SubscriptionSegment(
            account_id=subscription.account_id,
            subscription_id=subscription.id,
            period_index=period.index,
            plan_id=plan_id,
            start=at,
            end=period.end,
        )
    )
    session.flush()


def segments(session: Session, subscription_id: int) -> list[SubscriptionSegment]:
    """Every segment of the subscription, in time order."""
    return list(
        session.scalars(
            select(SubscriptionSegment)
            .where(SubscriptionSegment.subscription_id == subscription_id)
            .order_by(SubscriptionSegment.start)
        )
    )


def _licence_plan(session: Session, subscription: Subscription) -> tuple[Plan, Account]:
    plan = session.get_one(Plan, subscription.plan_id)
    if plan.licence_price is None:
        raise InvalidInput("plan", f"{plan.code} is not a licence plan")
    return plan, session.get_one(Account, subscription.account_id)


def _actor(actor: str) -> Actor:
    try:
        return Actor(actor)
    except ValueError:
        raise InvalidInput("actor", f"{actor!r} is not customer or staff") from None


def _check_count(plan: Plan, current: int, wanted: int, actor: Actor, field: str = "count") -> None:
    # Past the documented maximum even staff may not go: the cap's message ("N
    # licences need operator staff") would otherwise invite a typo of 10^20.
    if wanted > MAX_LICENCES:
        raise InvalidInput(
            field, f"a subscription holds at most {MAX_LICENCES:,} licences; {wanted:,} asked"
        )
    try:
        check_licence_count(terms(plan), current, wanted, actor)
    except SelfServeCapExceeded as error:
        raise Forbidden(
            f"plan {plan.code} lets a customer manage at most {error.cap} licences; "
            f"{error.wanted} licences need operator staff to make the change"
        ) from None
    except RuleViolation as error:
        raise from_rule(error) from None


def add_licences(
    session: Session,
    subscription: Subscription,
    count: int,
    as_of: datetime,
    *,
    actor: str,
    key: str | None = None,
) -> ChangeResult:
    """Add licences now, invoiced at once prorated to the remaining share (R20, R22).

    One "licences" invoice at `as_of` with one line: count x licence price x
    remaining share, rounded once. The next renewal charges the full new count.
    A customer may reach the plan's self-serve cap; beyond it only staff
    (Forbidden otherwise). Idempotent per key (default: count, period, instant).
    """
    who = _actor(actor)
    if count < 1:
        raise InvalidInput("count", "must be at least 1")
    subscription = _locked(session, subscription)
    period, at = _current_period(subscription, as_of)
    plan, account = _licence_plan(session, subscription)
    key = key or f"licences:+{count}:{period.index}:{at.isoformat()}"
    replayed = _replay(session, subscription, key)
    if replayed is not None:
        return replayed
    _check_count(plan, subscription.licences, subscription.licences + count, who)
    change = SubscriptionChange(
        account_id=subscription.account_id,
        subscription_id=subscription.id,
        key=key,
        kind="licences",
        actor=who.value,
        period_index=period.index,
        requested_at=at,
        effective_at=at,
        licence_change=count,
    )
    _record(session, change)
    line = licence_addition_line(terms(plan), period, at, count, account.time_zone)
    invoice = issue_invoice(
        session,
        account_id=subscription.account_id,
        currency=account.currency,
        lines=[line],
        issued_at=at,
        kind="licences",
        subscription_id=subscription.id,
    )
    change.invoice_id = invoice.id
    subscription.licences += count
    if subscription.scheduled_licences is not None:
        subscription.scheduled_licences += count
    session.flush()
    return ChangeResult(change, invoice, True)


def remove_licences(
    session: Session,
    subscription: Subscription,
    count: int,
    as_of: datetime,
    *,
    actor: str,
    key: str | None = None,
) -> ChangeResult:
    """Remove licences at the period end, with no refund (R21); nothing is invoiced now."""
    who = _actor(actor)
    if count < 1:
        raise InvalidInput("count", "must be at least 1")
    subscription = _locked(session, subscription)
    period, at = _current_period(subscription, as_of)
    plan, _account = _licence_plan(session, subscription)
    key = key or f"licences:-{count}:{period.index}:{at.isoformat()}"
    replayed = _replay(session, subscription, key)
    if replayed is not None:
        return replayed
    following = _next_licences(subscription)
    _check_count(plan, following, following - count, who)
    change = SubscriptionChange(
        account_id=subscription.account_id,
        subscription_id=subscription.id,
        key=key,
        kind="licences",
        actor=who.value,
        period_index=period.index,
        requested_at=at,
        effective_at=period.end,
        licence_change=-count,
    )
    _record(session, change)
    subscription.scheduled_licences = following - count
    session.flush()
    return ChangeResult(change, None, False)


def _next_licences(subscription: Subscription) -> int:
    if subscription.scheduled_licences is not None:
        return subscription.scheduled_licences
    return subscription.licences


def preview_licence_change(
    session: Session, subscription: Subscription, change: int, as_of: datetime, *, actor: str
) -> LicencePreview:
    """Total due today and the next renewal amount of adding (+) or removing (-) licences.

    Writes nothing; refuses what add_licences or remove_licences would refuse.
    """
    who = _actor(actor)
    if subscription.status != "active":
        raise Conflict(f"subscription {subscription.id} has ended")
    period, at = _current_period(subscription, as_of)
    plan, _account = _licence_plan(session, subscription)
    current, following = subscription.licences, _next_licences(subscription)
    if change > 0:
        _check_count(plan, current, current + change, who, "change")
    elif change < 0:
        _check_count(plan, following, following + change, who, "change")
    try:
        return preview_licences(terms(plan), period, at, current, following, change, who)
    except RuleViolation as error:
        raise from_rule(error) from None
