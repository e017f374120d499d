"""Dunning: remind customers of unpaid invoices on their entity's schedule.

`run_dunning(sessions, as_of)` is the worker's `dunning` job. For every open
invoice with a balance due it finds the date the schedule counts from (the due
date; without one, the issue date plus the account's payment terms), the
account's local date at `as_of`, and the step core.dunning says is due. A step
is written once per invoice (`dunning_reminders`, unique per invoice and step)
and its message is queued in the mail outbox in the same transaction, so two
workers or a second run never send a step twice. The first time an invoice is
seen past its due date the `invoice.overdue` webhook goes out, once (the
`dunning_invoices` row is its record). After the last step, the entity's final
action (if any) marks the invoice uncollectible or pauses the service.

A reminder queued but not sent yet is cancelled when its invoice stops being
owed: at delivery (`leadbill.mail.delivery`) and at each run of this job.

The schedule and final action belong to the billing entity that issued the
invoice (the account's entity for an invoice issued before entities existed,
else the default entity, else the defaults 0, 3, 7, 14 and none).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from leadbill.accounts.models import Account, BillingDetails
from leadbill.billing.models import Invoice
from leadbill.billing.payments import balances_due
from leadbill.core import dunning as rules
from leadbill.core.errors import RuleViolation
from leadbill.core.money import Money
from leadbill.core.periods import require_utc
from leadbill.dunning.models import DunningInvoice, DunningReminder
from leadbill.entities.models import BillingEntity
from leadbill.errors import from_rule
from leadbill.mail.models import MailMessage
from leadbill.mail.service import INVOICE_REMINDER, queue_reminders
from leadbill.receivables.service import mark_uncollectible
from leadbill.subscriptions.models import Subscription
from leadbill.subscriptions.pausing import pause_service
from leadbill.webhooks import events as webhook_events
from leadbill.webhooks.service import emit

CHUNK = 500


@dataclass(frozen=True, slots=True)
class Schedule:
    """An entity's dunning settings: the steps and the final action."""

    steps: tuple[int, ...] = rules.DEFAULT_STEPS
    action: str = rules.NO_ACTION


def schedule_of(entity: BillingEntity | None) -> Schedule:
    """The schedule an entity sets (the defaults without one)."""
    if entity is None:
        return Schedule()
    return Schedule(rules.parse_steps(entity.dunning_steps), entity.dunning_action)


def _utc(as_of: datetime) -> datetime:
    try:
        return require_utc(as_of, "as_of")
    except RuleViolation as error:
        raise from_rule(error) from None


@dataclass(slots=True)
class Dunned:
    """One open invoice as dunning sees it at an instant."""

    invoice: Invoice
    account_code: str
    time_zone: str
    schedule: Schedule
    due: date  # the date the steps count from
    today: date  # the account's local date
    amount_due: Decimal
    sent: dict[int, date] = field(default_factory=dict)  # step: local date it was queued
    seen_overdue: bool = False
    action_taken: str | None = None

    @property
    def last_step(self) -> int | None:
        """The latest step sent."""
        return max(self.sent) if self.sent else None

    @property
    def last_sent_on(self) -> date | None:
        """The local date the latest step was queued."""
        return self.sent[max(self.sent)] if self.sent else None

    @property
    def days_overdue(self) -> int:
        """Days past the due date on the account's local date."""
        return rules.days_overdue(self.due, self.today)

    def next(self) -> rules.NextStep | None:
        """What dunning does next for this invoice."""
        return rules.next_step(
            self.schedule.steps,
            self.schedule.action,
            self.due,
            self.today,
            self.sent,
            self.last_sent_on,
            self.action_taken is not None,
        )


def _open_invoices(
    session: Session,
    as_of: datetime,
    after: int,
    limit: int,
    account_id: int | None = None,
) -> list[Invoice]:
    horizon = (as_of + timedelta(days=1)).date()
    query = (
        select(Invoice)
        .where(
            Invoice.id > after,
            Invoice.status == "open",
            Invoice.number.is_not(None),
            Invoice.finalized_at <= as_of,
            (Invoice.due_on.is_(None)) | (Invoice.due_on <= horizon),
        )
        .order_by(Invoice.id)
        .limit(limit)
    )
    if account_id is not None:
        query = query.where(Invoice.account_id == account_id)
    return list(session.scalars(query))


def _dunned(session: Session, invoices: Sequence[Invoice], as_of: datetime) -> list[Dunned]:
    """The invoices with their schedule, dates, balance and dunning so far (a few queries)."""
    if not invoices:
        return []
    ids = [invoice.id for invoice in invoices]
    account_ids = sorted({invoice.account_id for invoice in invoices})
    entities = {entity.id: entity for entity in session.scalars(select(BillingEntity))}
    default = next((e for e in entities.values() if e.is_default), None)
    accounts = {
        int(row[0]): row
        for row in session.execute(
            select(
                Account.id,
                Account.code,
                Account.time_zone,
                BillingDetails.billing_entity_id,
                BillingDetails.payment_terms_days,
            )
            .outerjoin(BillingDetails, BillingDetails.account_id == Account.id)
            .where(Account.id.in_(account_ids))
        )
    }
    balances = balances_due(session, invoices)
    sent: dict[int, dict[int, date]] = {}
    for invoice_id, step, on in session.execute(
        select(DunningReminder.invoice_id, DunningReminder.step, DunningReminder.local_date).where(
            DunningReminder.invoice_id.in_(ids)
        )
    ):
        sent.setdefault(int(invoice_id), {})[int(step)] = on
    seen = {
        int(invoice_id): action
        for invoice_id, action in session.execute(
            select(DunningInvoice.invoice_id, DunningInvoice.action).where(
                DunningInvoice.invoice_id.in_(ids)
            )
        )
    }
    found = []
    for invoice in invoices:
        _id, code, zone, own_entity, own_terms = accounts[invoice.account_id]
        entity = (
            entities.get(invoice.billing_entity_id or 0) or entities.get(own_entity or 0) or default
        )
        terms = (
            own_terms
            if own_terms is not None
            else entity.payment_terms_days
            if entity is not None
            else rules.DEFAULT_TERMS_DAYS
        )
        tz = ZoneInfo(zone)
        issue_date = invoice.issued_at.astimezone(tz).date()
        found.append(
            Dunned(
                invoice=invoice,
                account_code=code,
                time_zone=zone,
                schedule=schedule_of(entity),
                due=rules.reference_date(invoice.due_on, issue_date, terms),
                today=as_of.astimezone(tz).date(),
                amount_due=Money(balances[invoice.id], invoice.currency).rounded().amount,
                sent=sent.get(invoice.id, {}),
                seen_overdue=invoice.id in seen,
                action_taken=seen.get(invoice.id),
            )
        )
    return found


def _insert_ignoring_duplicate(session: Session, table: Any, values: dict[str, Any]) -> Any:
    """Insert a row unless its unique key exists (then None); the new row's key otherwise."""
    make = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    primary = next(iter(table.primary_key.columns))
    statement = make(table).values(**values).on_conflict_do_nothing().returning(primary)
    return session.execute(statement).scalar()


@dataclass
class DunningResult:
    """What a run did."""

    reminders: int = 0
    overdue: int = 0
    uncollectible: int = 0
    paused: int = 0
    cancelled: int = 0


def cancel_settled_reminders(session: Session, at: datetime) -> int:
    """Cancel the queued reminders whose invoice is no longer open (paid, void, written off)."""
    settled = (
        select(DunningReminder.id)
        .join(Invoice, Invoice.id == DunningReminder.invoice_id)
        .where(Invoice.status != "open")
    )
    done = session.execute(
        update(MailMessage)
        .where(
            MailMessage.kind == INVOICE_REMINDER,
            MailMessage.status == "pending",
            MailMessage.reminder_id.in_(settled),
        )
        .values(
            status="cancelled",
            last_attempt_at=at,
            last_error="not sent: the invoice was settled before the reminder went out",
        )
        .execution_options(synchronize_session=False)
    )
    return int(done.rowcount)  # type: ignore[attr-defined]


def _overdue(session: Session, item: Dunned, at: datetime) -> bool:
    if item.seen_overdue or item.days_overdue == 0:
        return False
    table = DunningInvoice.__table__
    values = {"invoice_id": item.invoice.id, "account_id": item.invoice.account_id}
    if _insert_ignoring_duplicate(session, table, {**values, "overdue_at": at}) is None:
        return False  # another run saw it first and sent the webhook
    item.seen_overdue = True
    invoice = item.invoice
    data = webhook_events.invoice_data(
        id=invoice.id,
        number=invoice.number,
        kind=invoice.kind,
        status=invoice.status,
        currency=invoice.currency,
        total=invoice.total,
        issued_at=invoice.issued_at,
        finalized_at=invoice.finalized_at,
        paid_at=invoice.paid_at,
        subscription_id=invoice.subscription_id,
    )
    emit(
        session,
        invoice.account_id,
        webhook_events.INVOICE_OVERDUE,
        webhook_events.invoice_overdue_data(
            data, due_on=item.due, days_overdue=item.days_overdue, amount_due=item.amount_due
        ),
        occurred_at=at,
    )
    return True


def _final_action(session: Session, item: Dunned, at: datetime, result: DunningResult) -> bool:
    """Take the entity's final action if it is due; whether it was taken now."""
    schedule = item.schedule
    if schedule.action == rules.NO_ACTION or item.action_taken is not None:
        return False
    if not rules.action_is_due(schedule.steps, item.due, item.today, item.sent, item.last_sent_on):
        return False
    if not item.seen_overdue:
        _overdue(session, item, at)
    claimed = session.execute(
        update(DunningInvoice)
        .where(DunningInvoice.invoice_id == item.invoice.id, DunningInvoice.action.is_(None))
        .values(action=schedule.action, action_at=at)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return False
    item.action_taken = schedule.action
    last = max(schedule.steps)
    why = (
        f"dunning: unpaid {item.days_overdue} days after its due date {item.due:%Y-%m-%d}, "
        f"after the last reminder (day {last})"
    )
    if schedule.action == rules.MARK_UNCOLLECTIBLE:
        mark_uncollectible(session, item.invoice, why, at)
        result.uncollectible += 1
        return True
    subscription = _subscription_of(session, item.invoice)
    if subscription is not None:
        pause_service(session, subscription, f"{why}: invoice {item.invoice.number}", at)
        result.paused += 1
    return True


def _subscription_of(session: Session, invoice: Invoice) -> Subscription | None:
    if invoice.subscription_id is not None:
        own = session.get(Subscription, invoice.subscription_id)
        if own is not None and own.status == "active":
            return own
    return session.scalar(
        select(Subscription).where(
            Subscription.account_id == invoice.account_id, Subscription.status == "active"
        )
    )


def _remind(session: Session, item: Dunned, at: datetime) -> bool:
    step = rules.step_to_send(item.schedule.steps, item.due, item.today, item.sent)
    if step is None:
        return False
    reminder_id = _insert_ignoring_duplicate(
        session,
        DunningReminder.__table__,
        {
            "account_id": item.invoice.account_id,
            "invoice_id": item.invoice.id,
            "step": step,
            "due_on": item.due,
            "local_date": item.today,
            "days_overdue": item.days_overdue,
            "queued_at": at,
        },
    )
    if reminder_id is None:
        return False  # another worker queued this step
    queue_reminders(session, [(item.invoice.account_id, int(reminder_id))], created_at=at)
    item.sent[step] = item.today
    return True


def run_dunning(sessions: sessionmaker[Session], as_of: datetime) -> DunningResult:
    """Send every due reminder step of every open invoice at `as_of`; take final actions."""
    at = _utc(as_of)
    result = DunningResult()
    with sessions() as session, session.begin():
        result.cancelled = cancel_settled_reminders(session, at)
    after = 0
    while True:
        with sessions() as session, session.begin():
            invoices = _open_invoices(session, at, after, CHUNK)
            if not invoices:
                return result
            after = invoices[-1].id
            for item in _dunned(session, invoices, at):
                if item.amount_due <= 0:
                    continue
                result.overdue += _overdue(session, item, at)
                if _final_action(session, item, at, result):
                    continue
                result.reminders += _remind(session, item, at)


def in_dunning(
    session: Session,
    as_of: datetime,
    *,
    account_id: int | None = None,
    after: int = 0,
    limit: int | None = None,
) -> list[Dunned]:
    """Open invoices with a balance due that have a reminder sent or a step due by `as_of`,
    by invoice id (after `after`, at most `limit`)."""
    at = _utc(as_of)
    found: list[Dunned] = []
    while limit is None or len(found) < limit:
        invoices = _open_invoices(session, at, after, CHUNK, account_id)
        if not invoices:
            break
        after = invoices[-1].id
        for item in _dunned(session, invoices, at):
            first = item.due + timedelta(days=min(item.schedule.steps))
            if item.amount_due > 0 and (item.sent or first <= item.today):
                found.append(item)
    return found if limit is None else found[:limit]
