"""Notification use cases: queue a message in its cause's transaction, to the right people.

What each kind is, and to whom it goes:

- `review.decided`: a reviewer approved, rejected or asked about a disputed lead;
  always to the account's billing e-mail, like invoices and credit notes.
- `usage.threshold_reached` and `payment.received`: optional. They go to every
  customer portal user of the account who has not turned the kind off in the
  portal; an account without any customer user gets them at its billing e-mail.
  When every user turned the kind off, nothing is queued.

Each queue function is called by the change that causes the message, with its
session, so the message commits with the change or not at all. Queuing is
set-based whatever the number of causes: one query for the recipients, one bulk
insert of the messages and one of their causes (`mail_notifications`), whose
unique constraints keep each cause to one message per recipient.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, and_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from leadbill.accounts.models import Account
from leadbill.auth.service import Role
from leadbill.bulk import bulk_insert
from leadbill.db import Base
from leadbill.errors import Forbidden, InvalidInput
from leadbill.mail.addresses import is_address
from leadbill.mail.service import (
    PAYMENT_RECEIVED,
    REVIEW_DECIDED,
    USAGE_THRESHOLD_REACHED,
    messages_table,
    new_message_id,
    utc,
)
from leadbill.notifications.models import MailNotification, NotificationSetting
from leadbill.portal.models import User

# The kinds a customer user may turn off, and how the portal names them.
OPTIONAL_KINDS: dict[str, str] = {
    USAGE_THRESHOLD_REACHED: "Usage alerts: 80 % and 100 % of the period's included leads",
    PAYMENT_RECEIVED: "Payment receipts",
}
CHUNK = 1000
# Which column of mail_notifications names each kind's cause.
CAUSES = {
    REVIEW_DECIDED: "review_event_id",
    USAGE_THRESHOLD_REACHED: "threshold_crossing_id",
    PAYMENT_RECEIVED: "payment_id",
}

notifications_table: Table = Base.metadata.tables[MailNotification.__tablename__]


def check_optional_kind(kind: str) -> str:
    """The kind, if a user may turn it off; otherwise InvalidInput naming `kind`."""
    if kind not in OPTIONAL_KINDS:
        raise InvalidInput("kind", f"{kind!r} is not one of {', '.join(OPTIONAL_KINDS)}")
    return kind


def recipients(session: Session, kind: str, account_ids: Sequence[int]) -> dict[int, list[str]]:
    """The addresses a message of `kind` goes to, per account (an empty list: nobody).

    Set-based: one query per thousand accounts, whatever their users.
    """
    found: dict[int, list[str]] = {}
    wanted = sorted(set(account_ids))
    if kind not in OPTIONAL_KINDS:
        for offset in range(0, len(wanted), CHUNK):
            chunk = wanted[offset : offset + CHUNK]
            emails = select(Account.id, Account.billing_email).where(Account.id.in_(chunk))
            found.update({int(id_): [email.strip()] for id_, email in session.execute(emails)})
        return found
    chosen: dict[int, list[str]] = {}
    billing: dict[int, str] = {}
    with_users: set[int] = set()  # accounts with a customer user, whatever their choice
    for offset in range(0, len(wanted), CHUNK):
        chunk = wanted[offset : offset + CHUNK]
        query = (
            select(Account.id, Account.billing_email, User.email, NotificationSetting.enabled)
            .outerjoin(User, and_(User.account_id == Account.id, User.role == Role.CUSTOMER.value))
            .outerjoin(
                NotificationSetting,
                and_(NotificationSetting.user_id == User.id, NotificationSetting.kind == kind),
            )
            .where(Account.id.in_(chunk))
            .order_by(Account.id, User.email)
        )
        for account_id, billing_email, user_email, enabled in session.execute(query):
            billing[int(account_id)] = billing_email.strip()
            if user_email is None:
                continue
            with_users.add(int(account_id))
            if enabled is not False:
                chosen.setdefault(int(account_id), []).append(user_email)
    return {
        account_id: chosen.get(account_id, []) if account_id in with_users else [email]
        for account_id, email in billing.items()
    }


def _queue(
    session: Session, kind: str, causes: Sequence[tuple[int, int]], created_at: datetime
) -> int:
    """Queue one message per (account id, cause id) and recipient; returns how many."""
    if not causes:
        return 0
    due = utc(created_at, "created_at")
    to = recipients(session, kind, [account_id for account_id, _ in causes])
    messages: list[dict[str, Any]] = []
    notices: dict[str, dict[str, Any]] = {}
    for account_id, cause_id in causes:
        for address in to.get(account_id, []):
            header = new_message_id()
            # An address stored before addresses were checked is refused in its row,
            # as the outbox does for invoices: the change that caused it goes on.
            valid = is_address(address)
            messages.append(
                {
                    "account_id": account_id,
                    "kind": kind,
                    "invoice_id": None,
                    "credit_note_id": None,
                    "recipient": address[:254],
                    "message_id": header,
                    "status": "pending" if valid else "failed",
                    "attempts": 0,
                    "next_attempt_at": due,
                    "last_error": None
                    if valid
                    else f"recipient: {address[:200]!r} is not an e-mail address",
                    "created_at": due,
                }
            )
            notices[header] = {
                "account_id": account_id,
                "kind": kind,
                "recipient": address[:254],
                "review_event_id": None,
                "threshold_crossing_id": None,
                "payment_id": None,
                CAUSES[kind]: cause_id,
            }
    if not messages:
        return 0
    result = bulk_insert(session, messages_table, messages, returning="id, message_id")
    returned = result if isinstance(result, list) else result.all()
    bulk_insert(
        session,
        notifications_table,
        [{"mail_message_id": int(id_), **notices[header]} for id_, header in returned],
    )
    return len(messages)


def queue_review_decided(
    session: Session, account_id: int, review_event_id: int, *, created_at: datetime
) -> int:
    """Queue the message of one review decision (an entry of its trail), same transaction."""
    return _queue(session, REVIEW_DECIDED, [(account_id, review_event_id)], created_at)


def queue_thresholds_reached(
    session: Session, crossings: Sequence[tuple[int, int]], *, created_at: datetime
) -> int:
    """Queue a usage alert per (account id, crossing id) just recorded, to each recipient."""
    return _queue(session, USAGE_THRESHOLD_REACHED, crossings, created_at)


def queue_payment_received(
    session: Session, account_id: int, payment_id: int, *, created_at: datetime
) -> int:
    """Queue the receipt of one payment just recorded, to each recipient."""
    return _queue(session, PAYMENT_RECEIVED, [(account_id, payment_id)], created_at)


# A user's choices ---------------------------------------------------------------------------


def settings_of(session: Session, user_id: int) -> dict[str, bool]:
    """Each optional kind and whether the user receives it (on unless turned off)."""
    stored = dict(
        session.execute(
            select(NotificationSetting.kind, NotificationSetting.enabled).where(
                NotificationSetting.user_id == user_id
            )
        ).all()
    )
    return {kind: bool(stored.get(kind, True)) for kind in OPTIONAL_KINDS}


def set_setting(
    session: Session, user_id: int, kind: str, enabled: bool, *, as_of: datetime
) -> None:
    """Turn an optional kind off or on again for a customer user (idempotent)."""
    kind = check_optional_kind(kind)
    as_of = utc(as_of, "as_of")
    user = session.get(User, user_id)
    if user is None or user.account_id is None or user.role != Role.CUSTOMER.value:
        raise Forbidden("notifications are chosen by customer users")
    query = select(NotificationSetting).where(
        NotificationSetting.user_id == user_id, NotificationSetting.kind == kind
    )
    stored = session.scalar(query.with_for_update())
    if stored is None:
        try:
            with session.begin_nested():
                session.add(
                    NotificationSetting(
                        account_id=user.account_id,
                        user_id=user_id,
                        kind=kind,
                        enabled=enabled,
                        changed_at=as_of,
                    )
                )
            return
        except IntegrityError:  # the same user's other tab stored it just now
            stored = session.scalars(query).one()
    if stored.enabled != enabled:
        stored.enabled = enabled
        stored.changed_at = as_of
        session.flush()
