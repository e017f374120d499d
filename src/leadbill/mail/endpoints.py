"""HTTP routes of the mail outbox: list, read one with its attempts, send again.

Admin and billing staff see every message; a customer key sees only its own
account's (another account's message answers 404, as if it did not exist) and
may send them again to their recipient. Other roles get 403.
"""

from __future__ import annotations

from fastapi import APIRouter, Body, Query
from sqlalchemy.orm import Session

from leadbill.accounts.models import Account
from leadbill.auth.dependencies import Caller, DbSession, allow, owns, visible_account
from leadbill.auth.idempotency import LeadbillRoute
from leadbill.auth.service import Principal, Role
from leadbill.console import now
from leadbill.errors import Forbidden
from leadbill.mail import service
from leadbill.mail.schemas import (
    MailAttemptOut,
    MailKind,
    MailMessageDetail,
    MailMessageOut,
    MailMessagePage,
    MailResend,
    MailStatus,
)
from leadbill.pagination import DEFAULT_LIMIT, MAX_LIMIT, decode_cursor, page_info
from leadbill.schemas import PROBLEM_RESPONSES

router = APIRouter(tags=["mail"], route_class=LeadbillRoute, responses=PROBLEM_RESPONSES)
STAFF = (Role.ADMIN, Role.BILLING)
READERS = (*STAFF, Role.CUSTOMER)


@router.get("/mail-messages", response_model=MailMessagePage)
def list_messages(
    session: DbSession,
    caller: Caller,
    account: str | None = Query(None, max_length=64, description="Only this account's messages"),
    status: MailStatus | None = None,
    kind: MailKind | None = None,
    cursor: str | None = Query(None, max_length=100),
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
) -> MailMessagePage:
    """The mail outbox, newest first (admin, billing; a customer key: its own account's)."""
    allow(caller, *READERS)
    account_id: int | None = None
    if account is not None:
        account_id = visible_account(session, caller, account, *READERS).id
    elif caller.role is Role.CUSTOMER:
        account_id = caller.account_id
    rows = service.list_messages(
        session,
        status=status,
        account_id=account_id,
        kind=kind,
        before=decode_cursor(cursor, int),
        limit=limit,
    )
    return MailMessagePage(
        data=[MailMessageOut.of(row) for row in rows],
        page=page_info(rows, limit, lambda row: row.message.id),
    )


def _visible(session: Session, caller: Principal, message_id: int) -> service.MessageRow:
    allow(caller, *READERS)
    message = service.get_message(session, message_id)
    owns(caller, message.account_id, f"mail message {message_id}")
    account = session.get(Account, message.account_id) if message.account_id else None
    return service.MessageRow(message, account.code if account else None)


def _detail(session: Session, row: service.MessageRow) -> MailMessageDetail:
    m = row.message
    return MailMessageDetail(
        **MailMessageOut.of(row).model_dump(),
        message_id=m.message_id,
        sender=m.sender,
        subject=m.subject,
        text_body=m.text_body,
        html_body=m.html_body,
        attachments=m.attachments,
        attempt_log=[MailAttemptOut.of(a) for a in service.attempts_of(session, m.id)],
    )


@router.get("/mail-messages/{message_id}", response_model=MailMessageDetail)
def get_message(message_id: int, session: DbSession, caller: Caller) -> MailMessageDetail:
    """One message as it was sent, with every attempt (admin, billing; a customer: its own)."""
    return _detail(session, _visible(session, caller, message_id))


@router.post("/mail-messages/{message_id}/resend", response_model=MailMessageDetail)
def resend(
    message_id: int,
    session: DbSession,
    caller: Caller,
    body: MailResend | None = Body(None),
) -> MailMessageDetail:
    """Send a message again at the worker's next round, with a fresh allowance of attempts
    (admin, billing; a customer: its own account's, to their recipient). A password link
    sent again gets a new token; the old link stops working."""
    row = _visible(session, caller, message_id)
    to = body.to if body is not None else None
    if to is not None and caller.role is Role.CUSTOMER:
        raise Forbidden("a customer key sends a message again only to its recipient")
    message = service.resend(session, message_id, as_of=now(), to=to)
    return _detail(session, service.MessageRow(message, row.account))
