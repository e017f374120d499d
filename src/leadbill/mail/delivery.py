"""Sending the mail outbox: claim due messages, render and send them, record every attempt.

The same shape as the webhook outbox (`leadbill.webhooks.delivery`), with its
policy (timeout, attempts, backoff, batch, concurrency): a short transaction
claims a batch of due messages (FOR UPDATE SKIP LOCKED on PostgreSQL) under a
lease; each is rendered from its document, then sent outside any transaction;
each result is recorded in its own short transaction, guarded by the lease.

At least once, recorded once: `sent` is recorded only after the SMTP server
accepted the message. A worker killed between the server's acceptance and
that commit leaves the message `sending`; when its lease ends another worker
sends it again (same Message-ID) and records it, once. The attempt cut short
leaves no log row; the log holds the attempts whose result was known.

Outcomes: `sent`; `failed` at once on a permanent refusal (5xx), or after
`max_attempts`; otherwise `retry` after the policy's backoff. A message that
cannot be rendered (a template error, no From address) is a failed attempt
like a refused connection: the row stays, with the error, and is retried.
A message that ends `failed` emits the webhook event `mail.failed`.

A dunning reminder is checked when it is claimed: if its invoice is no longer
owed (paid, credited to zero, void or written off) it is not sent but recorded
`cancelled`, with the reason, so a payment stops a reminder already queued.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from jinja2 import Environment
from sqlalchemy import ColumnElement, func, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from leadbill.accounts.models import BillingDetails
from leadbill.billing.models import Invoice
from leadbill.billing.payments import balance_due
from leadbill.credit_notes.models import CreditNote
from leadbill.dunning.models import DunningReminder
from leadbill.entities.models import BillingEntity
from leadbill.mail.addresses import is_address
from leadbill.mail.messages import Rendered, RenderError, environment, render
from leadbill.mail.models import MailAttempt, MailMessage
from leadbill.mail.service import INVOICE_REMINDER, catch_up
from leadbill.mail.smtp import Sent, Servers, SmtpServer, send
from leadbill.settings import Settings
from leadbill.webhooks import events as webhook_events
from leadbill.webhooks.delivery import DeliveryPolicy, RoundReport
from leadbill.webhooks.service import emit


@dataclass(frozen=True, slots=True)
class Claimed:
    """A message a worker holds until its lease ends."""

    message_id: int
    account_id: int | None  # None: a message to a staff user
    attempts: int
    lease: str


def _entity_of_message() -> ColumnElement[Any]:
    """The billing entity whose server sends a message, as SQL: its document's issuer,
    else its account's entity, else the default entity."""
    reminded = (
        select(Invoice.billing_entity_id)
        .join(DunningReminder, DunningReminder.invoice_id == Invoice.id)
        .where(DunningReminder.id == MailMessage.reminder_id)
        .scalar_subquery()
    )
    return func.coalesce(
        select(Invoice.billing_entity_id)
        .where(Invoice.id == MailMessage.invoice_id)
        .scalar_subquery(),
        select(CreditNote.billing_entity_id)
        .where(CreditNote.id == MailMessage.credit_note_id)
        .scalar_subquery(),
        reminded,
        select(BillingDetails.billing_entity_id)
        .where(BillingDetails.account_id == MailMessage.account_id)
        .scalar_subquery(),
        select(BillingEntity.id).where(BillingEntity.is_default.is_(True)).scalar_subquery(),
    )


def due_ids(
    session: Session, as_of: datetime, limit: int, *, own_servers_only: bool = False
) -> list[int]:
    """Messages due by `as_of` (pending, or sending with an expired lease), locked.

    `own_servers_only` (no default server): only the messages of billing entities
    with an SMTP server of their own; the others wait in the outbox.
    """
    query = (
        select(MailMessage.id)
        .where(
            MailMessage.status.in_(("pending", "sending")),
            MailMessage.next_attempt_at <= as_of,
        )
        .order_by(MailMessage.next_attempt_at, MailMessage.id)
        .limit(limit)
    )
    if own_servers_only:
        with_server = select(BillingEntity.id).where(BillingEntity.smtp_host.is_not(None))
        query = query.where(_entity_of_message().in_(with_server))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return [int(id_) for id_ in session.scalars(query)]


def has_own_servers(session: Session) -> bool:
    """Whether some billing entity sends through an SMTP server of its own."""
    found = session.scalar(select(BillingEntity.id).where(BillingEntity.smtp_host.is_not(None)))
    return found is not None


def claim_due(
    sessions: sessionmaker[Session],
    policy: DeliveryPolicy,
    as_of: datetime,
    *,
    own_servers_only: bool = False,
) -> list[Claimed]:
    """Claim a batch of due messages in one short transaction; count the attempt."""
    lease = secrets.token_hex(16)
    with sessions() as session, session.begin():
        catch_up(session)  # a billing batch's invoices become messages first
        ids = due_ids(session, as_of, policy.batch_size, own_servers_only=own_servers_only)
        if not ids:
            return []
        session.execute(
            update(MailMessage)
            .where(MailMessage.id.in_(ids))
            .values(
                status="sending",
                lease=lease,
                attempts=MailMessage.attempts + 1,
                next_attempt_at=as_of + policy.lease,
            )
            .execution_options(synchronize_session=False)
        )
        rows = session.execute(
            select(MailMessage.id, MailMessage.account_id, MailMessage.attempts)
            .where(MailMessage.id.in_(ids))
            .order_by(MailMessage.id)
        )
        return [
            Claimed(int(id_), None if account is None else int(account), int(n), lease)
            for id_, account, n in rows
        ]


def _outcome(claimed: Claimed, result: Sent, policy: DeliveryPolicy) -> str:
    if result.accepted:
        return "sent"
    if result.permanent or claimed.attempts >= policy.max_attempts:
        return "failed"
    return "retry"


def record(
    sessions: sessionmaker[Session],
    claimed: Claimed,
    result: Sent | None,
    rendered: Rendered | None,
    policy: DeliveryPolicy,
    at: datetime,
) -> str:
    """Record one attempt and move the message on, in one transaction; returns the outcome.

    `result` None: not sent, a worker stopped during the last allowed attempt.
    Only the holder of the lease moves the message; a late result is `superseded`.
    """
    logged = result is not None
    if result is None:
        result = Sent(False, None, "not sent: no attempt left", 0)
        outcome = "failed"
    else:
        outcome = _outcome(claimed, result, policy)
    values: dict[str, object] = {
        "lease": None,
        "last_attempt_at": at,
        "last_code": result.code,
        "last_error": result.error,
    }
    if outcome == "sent" and rendered is not None:
        rendered = rendered.kept()  # a one-time link is never kept
        values.update(
            status="sent",
            sent_at=at,
            sender=rendered.sender,
            subject=rendered.subject,
            text_body=rendered.text,
            html_body=rendered.html,
            attachments=", ".join(a.name for a in rendered.attachments)[:500],
        )
    elif outcome == "retry":
        values.update(status="pending", next_attempt_at=at + policy.backoff(claimed.attempts))
    else:
        values["status"] = outcome
    with sessions() as session, session.begin():
        moved = session.execute(  # type: ignore[attr-defined]
            update(MailMessage)
            .where(
                MailMessage.id == claimed.message_id,
                MailMessage.lease == claimed.lease,
                MailMessage.status == "sending",
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        ).rowcount
        if not moved:
            outcome = "superseded"
        if logged:
            last = session.scalar(
                select(func.max(MailAttempt.number)).where(
                    MailAttempt.message_id == claimed.message_id
                )
            )
            session.execute(
                insert(MailAttempt).values(
                    account_id=claimed.account_id,
                    message_id=claimed.message_id,
                    number=int(last or 0) + 1,
                    attempted_at=at,
                    code=result.code,
                    duration_ms=result.duration_ms,
                    error=result.error,
                    outcome=outcome,
                )
            )
        if outcome == "failed" and claimed.account_id is not None:
            # Webhooks are an account's; a staff user's message failing is in the log only.
            message = session.get_one(MailMessage, claimed.message_id)
            emit(
                session,
                claimed.account_id,
                webhook_events.MAIL_FAILED,
                webhook_events.mail_failed_data(
                    message_id=message.id,
                    kind=message.kind,
                    recipient=message.recipient,
                    code=result.code,
                    error=result.error,
                    attempts=claimed.attempts,
                ),
                occurred_at=at,
            )
    return outcome


@dataclass(frozen=True, slots=True)
class Cancelled:
    """A message that is no longer to be sent, and why."""

    reason: str


def not_owed(session: Session, reminder_id: int) -> str | None:
    """Why a reminder's invoice needs no reminder any more (None: it is still owed)."""
    reminder = session.get_one(DunningReminder, reminder_id)
    invoice = session.get_one(Invoice, reminder.invoice_id)
    label = invoice.number or f"draft {invoice.id}"
    if invoice.status != "open":
        return f"not sent: invoice {label} is {invoice.status}"
    if balance_due(session, invoice) <= 0:
        return f"not sent: invoice {label} has no balance due"
    return None


def record_cancelled(
    sessions: sessionmaker[Session], claimed: Claimed, reason: str, at: datetime
) -> str:
    """Record a claimed message as cancelled (never sent); `superseded` if the lease is gone."""
    with sessions() as session, session.begin():
        moved = session.execute(  # type: ignore[attr-defined]
            update(MailMessage)
            .where(
                MailMessage.id == claimed.message_id,
                MailMessage.lease == claimed.lease,
                MailMessage.status == "sending",
            )
            .values(status="cancelled", lease=None, last_attempt_at=at, last_error=reason[:500])
            .execution_options(synchronize_session=False)
        ).rowcount
    return "cancelled" if moved else "superseded"


def _render(
    sessions: sessionmaker[Session],
    claimed: Claimed,
    servers: Servers,
    templates: Environment,
    at: datetime,
) -> tuple[Rendered, SmtpServer] | Sent | Cancelled:
    try:
        with sessions() as session:
            message = session.get_one(MailMessage, claimed.message_id)
            if message.kind == INVOICE_REMINDER and message.reminder_id is not None:
                reason = not_owed(session, message.reminder_id)
                if reason is not None:
                    return Cancelled(reason)
            if not is_address(message.recipient):
                # Stored before addresses were checked: no attempt can ever reach it.
                reason = f"not sent: {message.recipient!r} is not an e-mail address (billing_email)"
                return Sent(False, None, reason[:500], 0, permanent=True)
            entity_id = _message_entity(session, message)
            entity = session.get(BillingEntity, entity_id) if entity_id is not None else None
            server = servers.for_entity(entity)
            if server is None:
                code = entity.code if entity is not None else "(none)"
                reason = (
                    f"not sent: billing entity {code} has no SMTP server and there is no default"
                )
                return Sent(False, None, reason, 0)
            made = render(session, message, servers.settings, templates, issue=True, as_of=at)
            # A password link's new token is stored before the message that carries it
            # leaves; if the commit fails, nothing is sent.
            session.commit()
            return made, server
    except RenderError as error:
        return Sent(False, None, f"not rendered: {error}"[:500], 0)


def _message_entity(session: Session, message: MailMessage) -> int | None:
    return session.scalar(
        select(_entity_of_message()).select_from(MailMessage).where(MailMessage.id == message.id)
    )


def deliver_round(
    sessions: sessionmaker[Session],
    policy: DeliveryPolicy,
    server: SmtpServer | None,
    settings: Settings,
    *,
    as_of: datetime | None = None,
    templates: Environment | None = None,
) -> RoundReport:
    """Claim one batch of due messages, render them, send them concurrently, record each.

    `server` is the default server (LEADBILL_SMTP_*); a billing entity with a server of
    its own sends its messages through it. With neither, a message stays queued.
    """
    clock: Callable[[], datetime] = (lambda: as_of) if as_of else (lambda: datetime.now(UTC))
    templates = templates or environment()
    servers = Servers(server, settings, policy.timeout)
    report = RoundReport()
    batch = claim_due(sessions, policy, clock(), own_servers_only=server is None)
    sendable: list[tuple[Claimed, Rendered, SmtpServer]] = []
    for claimed in batch:
        if claimed.attempts > policy.max_attempts:
            # A claim beyond the allowance means a worker stopped during the last attempt.
            _count(report, claimed, record(sessions, claimed, None, None, policy, clock()), False)
            continue
        made = _render(sessions, claimed, servers, templates, clock())
        if isinstance(made, Cancelled):
            outcome = record_cancelled(sessions, claimed, made.reason, clock())
            _count(report, claimed, outcome, False)
        elif isinstance(made, Sent):
            outcome = record(sessions, claimed, made, None, policy, clock())
            _count(report, claimed, outcome, True)
        else:
            rendered, to = made
            sendable.append((claimed, rendered, to))
    with ThreadPoolExecutor(max_workers=policy.concurrency) as pool:
        futures = {
            pool.submit(send, to, rendered, clock()): (c, rendered) for c, rendered, to in sendable
        }
        for future in as_completed(futures):
            claimed, rendered = futures[future]
            outcome = record(sessions, claimed, future.result(), rendered, policy, clock())
            _count(report, claimed, outcome, True)
    return report


def _count(report: RoundReport, claimed: Claimed, outcome: str, attempted: bool) -> None:
    report.attempted += attempted
    attribute = {"retry": "retrying", "sent": "delivered"}.get(outcome, outcome)
    setattr(report, attribute, getattr(report, attribute) + 1)
    report.outcomes.append((claimed.message_id, outcome))


def deliver_due(
    sessions: sessionmaker[Session],
    policy: DeliveryPolicy,
    server: SmtpServer | None,
    settings: Settings,
    *,
    as_of: datetime | None = None,
) -> RoundReport:
    """Send every message due now (or at `as_of`) until none is left; returns what happened."""
    total = RoundReport()
    templates = environment()
    while True:
        report = deliver_round(sessions, policy, server, settings, as_of=as_of, templates=templates)
        if not report.outcomes:
            return total
        total.add(report)
