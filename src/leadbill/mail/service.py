"""Mail use cases: queue messages in the caller's transaction, read the log, resend.

`queue_invoices_issued` and `queue_credit_note_issued` are what other features
call, with their own session: the message commits with the invoice or credit
note that causes it, or not at all (a transactional outbox). The message is
rendered when it is sent.

A billing batch's invoices are queued as one row for the whole batch
(`queue_billing_batch`: one small insert, so the outbox costs billing nothing
measurable). `catch_up` turns such rows into one message per invoice, and every
reader of the outbox (the worker, `leadbill mail`, the API, the staff Outbox
page) calls it first, so nobody sees the difference. Turning a batch into
messages twice makes them once (a kind and its invoice are unique).

The recipient is the account's billing e-mail when the message is made. An
account's address is checked when it is stored, so queueing does not check it
again (checking costs more than the insert: a third of a billing run's time).
One stored before addresses were checked does not stop the billing run: the
worker finds it before any attempt, records the message `failed` with the
reason naming the field, and never speaks to the SMTP server about it
(`leadbill.mail.delivery`). A message to one person (`queue_to_user`) is
refused instead, naming the field.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, delete, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from leadbill.accounts.models import Account
from leadbill.bulk import bulk_insert, is_postgresql
from leadbill.core.errors import RuleViolation
from leadbill.core.periods import require_utc
from leadbill.db import Base
from leadbill.errors import Conflict, InvalidInput, NotFound, from_rule
from leadbill.mail.addresses import check_address, is_address
from leadbill.mail.models import MailAttempt, MailInvoiceBatch, MailMessage

INVOICE_ISSUED = "invoice.issued"
CREDIT_NOTE_ISSUED = "credit_note.issued"
# A one-time link to the portal that sets a password (leadbill.password_links).
PORTAL_INVITATION = "portal.invitation"
PASSWORD_RESET = "portal.password_reset"
LINK_KINDS = (PORTAL_INVITATION, PASSWORD_RESET)
# Notifications (leadbill.notifications): each names its cause in mail_notifications.
REVIEW_DECIDED = "review.decided"
USAGE_THRESHOLD_REACHED = "usage.threshold_reached"
PAYMENT_RECEIVED = "payment.received"
NOTIFICATION_KINDS = (REVIEW_DECIDED, USAGE_THRESHOLD_REACHED, PAYMENT_RECEIVED)
# A dunning reminder (leadbill.dunning): one per invoice and step.
INVOICE_REMINDER = "invoice.reminder"
KINDS = (
    INVOICE_ISSUED,
    CREDIT_NOTE_ISSUED,
    INVOICE_REMINDER,
    *LINK_KINDS,
    *NOTIFICATION_KINDS,
)
STATUSES = ("pending", "sending", "sent", "failed", "cancelled")
CHUNK = 1000

messages_table: Table = Base.metadata.tables[MailMessage.__tablename__]
batches_table: Table = Base.metadata.tables[MailInvoiceBatch.__tablename__]


def utc(value: datetime, field: str) -> datetime:
    """The instant in UTC; a naive one is InvalidInput naming `field`."""
    try:
        return require_utc(value, field)
    except RuleViolation as error:
        raise from_rule(error) from None


def new_message_id() -> str:
    """A Message-ID header value, the same for every attempt of one message."""
    return f"<{uuid.uuid4().hex}@leadbill>"


def _rows(
    session: Session, kind: str, documents: Sequence[tuple[int, int]], due: datetime
) -> list[dict[str, Any]]:
    emails: dict[int, str] = {}
    account_ids = sorted({account_id for account_id, _ in documents})
    for offset in range(0, len(account_ids), CHUNK):
        chunk = account_ids[offset : offset + CHUNK]
        query = select(Account.id, Account.billing_email).where(Account.id.in_(chunk))
        emails.update({int(id_): email for id_, email in session.execute(query)})
    column = {INVOICE_ISSUED: "invoice_id", INVOICE_REMINDER: "reminder_id"}.get(
        kind, "credit_note_id"
    )
    rows = []
    for account_id, document_id in documents:
        if account_id not in emails:
            raise NotFound(f"account {account_id} does not exist")
        # Checked when the account was stored; the worker refuses one stored before.
        recipient = emails[account_id].strip()
        rows.append(
            {
                "account_id": account_id,
                "kind": kind,
                column: document_id,
                "recipient": recipient[:254],
                "message_id": new_message_id(),
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": due,
                "last_error": None,
                "created_at": due,
            }
        )
    return rows


def _queue(
    session: Session, kind: str, documents: Sequence[tuple[int, int]], created_at: datetime | None
) -> int:
    if not documents:
        return 0
    due = _due(created_at)
    rows = _rows(session, kind, documents, due)
    # One set-based insert (a billing batch queues one message per invoice).
    bulk_insert(session, messages_table, [_complete(row) for row in rows])
    return len(rows)


def _due(created_at: datetime | None) -> datetime:
    """When a queued message was made and is first due: `created_at`, or now."""
    return utc(created_at, "created_at") if created_at else datetime.now(UTC)


def _complete(row: dict[str, Any]) -> dict[str, Any]:
    return {"invoice_id": None, "credit_note_id": None, "reminder_id": None, **row}


def queue_invoices_issued(
    session: Session, invoices: Sequence[tuple[int, int]], *, created_at: datetime | None = None
) -> int:
    """Queue an "invoice issued" message per (account id, invoice id), same transaction."""
    return _queue(session, INVOICE_ISSUED, invoices, created_at)


def queue_billing_batch(
    session: Session, invoices: Sequence[tuple[int, int]], *, created_at: datetime | None = None
) -> int:
    """Queue the "invoice issued" messages of a billing batch's (account id, invoice id)s.

    One row for all of them, in the batch's transaction; `catch_up` makes the messages.
    """
    if not invoices:
        return 0
    due = _due(created_at)
    pairs = [[int(account_id), int(invoice_id)] for account_id, invoice_id in invoices]
    session.execute(insert(batches_table).values(invoices=pairs, created_at=due))
    return len(pairs)


def catch_up(session: Session) -> int:
    """Turn the queued invoice batches into messages, in the caller's transaction.

    Returns how many messages were made. A message that exists already (the batch
    was turned by a concurrent caller, or the invoice was queued alone) is kept as
    it is. On PostgreSQL a batch another transaction is turning is skipped: its
    messages appear when that transaction commits.
    """
    on_postgresql = is_postgresql(session)
    query = select(MailInvoiceBatch).order_by(MailInvoiceBatch.id)
    if on_postgresql:
        query = query.with_for_update(skip_locked=True)
    batches = list(session.scalars(query))
    if not batches:
        return 0
    dialect_insert = postgresql.insert if on_postgresql else sqlite.insert
    statement = (
        dialect_insert(messages_table).on_conflict_do_nothing().returning(messages_table.c.id)
    )
    made = 0
    for batch in batches:
        pairs = [(account_id, invoice_id) for account_id, invoice_id in batch.invoices]
        for offset in range(0, len(pairs), CHUNK):
            rows = _rows(session, INVOICE_ISSUED, pairs[offset : offset + CHUNK], batch.created_at)
            made += len(session.execute(statement, [_complete(row) for row in rows]).all())
    session.execute(
        delete(batches_table).where(batches_table.c.id.in_([batch.id for batch in batches]))
    )
    return made


def queue_credit_note_issued(
    session: Session, account_id: int, credit_note_id: int, *, created_at: datetime | None = None
) -> int:
    """Queue the "credit note issued" message of one credit note, in the caller's transaction."""
    return _queue(session, CREDIT_NOTE_ISSUED, [(account_id, credit_note_id)], created_at)


def queue_to_user(
    session: Session, kind: str, account_id: int | None, recipient: str, *, created_at: datetime
) -> MailMessage:
    """Queue a message to one person (a password link), in the caller's transaction.

    `account_id` None: a staff user, who belongs to no account.

    An address that is not one is refused, naming the field `email`.
    """
    if kind not in LINK_KINDS:
        raise InvalidInput("kind", f"{kind!r} is not one of {', '.join(LINK_KINDS)}")
    due = utc(created_at, "created_at")
    message = MailMessage(
        account_id=account_id,
        kind=kind,
        recipient=check_address(recipient, "email"),
        message_id=new_message_id(),
        status="pending",
        attempts=0,
        next_attempt_at=due,
        created_at=due,
    )
    session.add(message)
    session.flush()
    return message


def queue_reminders(
    session: Session, reminders: Sequence[tuple[int, int]], *, created_at: datetime
) -> int:
    """Queue a dunning reminder per (account id, reminder id), in the caller's transaction."""
    return _queue(session, INVOICE_REMINDER, reminders, created_at)


# The log ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MessageRow:
    """A message with its account's code."""

    message: MailMessage
    account: str | None  # None: a message to a staff user


def list_messages(
    session: Session,
    *,
    status: str | None = None,
    account_id: int | None = None,
    kind: str | None = None,
    before: int | None = None,
    limit: int = 100,
) -> list[MessageRow]:
    """Messages, newest first (by id), filtered by status, account or kind.

    The queued invoice batches become messages first (`catch_up`).
    """
    catch_up(session)
    query = (
        select(MailMessage, Account.code)
        .outerjoin(Account, Account.id == MailMessage.account_id)
        .order_by(MailMessage.id.desc())
        .limit(limit)
    )
    if status is not None:
        if status not in STATUSES:
            raise InvalidInput("status", f"{status!r} is not one of {', '.join(STATUSES)}")
        query = query.where(MailMessage.status == status)
    if kind is not None:
        if kind not in KINDS:
            raise InvalidInput("kind", f"{kind!r} is not one of {', '.join(KINDS)}")
        query = query.where(MailMessage.kind == kind)
    if account_id is not None:
        query = query.where(MailMessage.account_id == account_id)
    if before is not None:
        query = query.where(MailMessage.id < before)
    return [MessageRow(message, code) for message, code in session.execute(query)]


def get_message(session: Session, message_id: int) -> MailMessage:
    """One message by id."""
    message = session.get(MailMessage, message_id)
    if message is None:
        raise NotFound(f"mail message {message_id} does not exist")
    return message


def attempts_of(session: Session, message_id: int) -> list[MailAttempt]:
    """Every logged attempt of a message, in order."""
    return list(
        session.scalars(
            select(MailAttempt)
            .where(MailAttempt.message_id == message_id)
            .order_by(MailAttempt.number)
        )
    )


def resend(
    session: Session, message_id: int, *, as_of: datetime, to: str | None = None
) -> MailMessage:
    """Queue a message again, due at `as_of`, with a fresh allowance of attempts.

    Works on sent, failed and pending messages, with the same Message-ID; the
    message is rendered again when it is sent. `to` sends it to another address
    (an invalid one is refused, naming the field `to`).
    """
    as_of = utc(as_of, "as_of")
    address = check_address(to, "to") if to is not None else None
    # Lock the row (PostgreSQL) so that a worker's claim and the resend do not interleave.
    session.execute(select(MailMessage.id).where(MailMessage.id == message_id).with_for_update())
    message = session.get(MailMessage, message_id, populate_existing=True)
    if message is None:
        raise NotFound(f"mail message {message_id} does not exist")
    if message.status == "sending":
        raise Conflict(f"mail message {message_id} is being sent; try again in a moment")
    if address is not None and message.kind in LINK_KINDS:
        # A password link goes only to its user: anyone else could take the account.
        raise InvalidInput("to", "a password link is sent only to its user's address")
    if address is not None:
        message.recipient = address
    elif not is_address(message.recipient):
        raise InvalidInput("to", f"{message.recipient!r} is not an e-mail address; give --to")
    message.status = "pending"
    message.attempts = 0
    message.next_attempt_at = as_of
    message.lease = None
    session.flush()
    return message
