"""API shapes of the mail outbox: messages, their attempts, a resend."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from leadbill.mail.models import MailAttempt
from leadbill.mail.service import MessageRow
from leadbill.pagination import PageInfo
from leadbill.schemas import RequestModel

MailKind = Literal[
    "invoice.issued",
    "credit_note.issued",
    "invoice.reminder",
    "portal.invitation",
    "portal.password_reset",
    "review.decided",
    "usage.threshold_reached",
    "payment.received",
]
MailStatus = Literal["pending", "sending", "sent", "failed", "cancelled"]


class MailMessageOut(BaseModel):
    """A message of the outbox with its delivery state (the parts are in its detail)."""

    id: int
    kind: str
    account: str | None = Field(description="The account's code; null: a message to a staff user")
    recipient: str
    status: str
    attempts: int = Field(description="Attempts since the message was last (re)queued")
    next_attempt_at: datetime
    last_attempt_at: datetime | None
    last_code: int | None = Field(description="The SMTP reply code of the last attempt")
    last_error: str | None
    sent_at: datetime | None
    created_at: datetime
    invoice_id: int | None
    credit_note_id: int | None

    @classmethod
    def of(cls, row: MessageRow) -> MailMessageOut:
        """The API shape of a stored message."""
        m = row.message
        return cls(
            id=m.id,
            kind=m.kind,
            account=row.account,
            recipient=m.recipient,
            status=m.status,
            attempts=m.attempts,
            next_attempt_at=m.next_attempt_at,
            last_attempt_at=m.last_attempt_at,
            last_code=m.last_code,
            last_error=m.last_error,
            sent_at=m.sent_at,
            created_at=m.created_at,
            invoice_id=m.invoice_id,
            credit_note_id=m.credit_note_id,
        )


class MailAttemptOut(BaseModel):
    """One attempt to send: when, the SMTP reply code (none on a connection error), why."""

    number: int
    attempted_at: datetime
    code: int | None
    duration_ms: int
    outcome: str
    error: str | None

    @classmethod
    def of(cls, attempt: MailAttempt) -> MailAttemptOut:
        """The API shape of a logged attempt."""
        return cls(
            number=attempt.number,
            attempted_at=attempt.attempted_at,
            code=attempt.code,
            duration_ms=attempt.duration_ms,
            outcome=attempt.outcome,
            error=attempt.error,
        )


class MailMessageDetail(MailMessageOut):
    """A message as it was sent (null parts until it is sent) and every attempt.

    A password link (invitation, reset) is kept hidden in the parts: its token is
    only in the e-mail.
    """

    message_id: str = Field(description="The Message-ID header, the same for every attempt")
    sender: str | None
    subject: str | None
    text_body: str | None
    html_body: str | None
    attachments: str | None
    attempt_log: list[MailAttemptOut]


class MailMessagePage(BaseModel):
    """One page of messages, newest first."""

    data: list[MailMessageOut]
    page: PageInfo


class MailResend(RequestModel):
    """Send a message again; `to` sends it to another address (staff, not for password links)."""

    to: str | None = Field(default=None, max_length=254, examples=["ap@acme.example"])
