"""Staff pages of the mail outbox: search by account and status, read a message, resend.

As the API (GET /v1/mail-messages): admins and billing staff read every message
and send one again; other roles are refused. A message not sent yet is shown
as it will be sent; a password link is shown hidden, never its token.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request, Response

from leadbill.accounts.models import Account
from leadbill.accounts.service import get_account
from leadbill.auth.dependencies import DbSession
from leadbill.errors import InvalidInput
from leadbill.mail import service
from leadbill.mail.messages import RenderError
from leadbill.mail.messages import render as render_message
from leadbill.portal.permissions import READS_MAIL
from leadbill.portal.web import (
    PortalRoute,
    SignedIn,
    check_csrf,
    clock_of,
    redirect,
    render,
    set_flash,
    settings_of,
)

router = APIRouter(route_class=PortalRoute, include_in_schema=False)

PAGE_SIZE = 100


@router.get("/staff/outbox")
def outbox(
    request: Request,
    visitor: SignedIn,
    db: DbSession,
    account: Annotated[str, Query(max_length=64)] = "",
    status: Annotated[str, Query(max_length=16)] = "",
    before: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    """The outbox, newest first, searched by account code and status."""
    visitor.require(*READS_MAIL)
    if status and status not in service.STATUSES:
        raise InvalidInput("status", f"{status!r} is not one of {', '.join(service.STATUSES)}")
    account_id = get_account(db, account.strip()).id if account.strip() else None
    rows = service.list_messages(
        db, status=status or None, account_id=account_id, before=before, limit=PAGE_SIZE
    )
    return render(
        request,
        "staff_outbox.html",
        visitor,
        db,
        nav="staff-outbox",
        title="Outbox",
        rows=rows,
        account=account.strip(),
        status=status,
        statuses=service.STATUSES,
        next_before=rows[-1].message.id if len(rows) == PAGE_SIZE else None,
    )


@router.get("/staff/outbox/{message_id}")
def message(request: Request, message_id: int, visitor: SignedIn, db: DbSession) -> Response:
    """One message: as it was sent (or as it will be), and every attempt."""
    visitor.require(*READS_MAIL)
    found = service.get_message(db, message_id)
    subject, text, problem = found.subject, found.text_body, None
    if found.status != "sent":
        try:
            rendered = render_message(db, found, settings_of(request), as_of=clock_of(request))
            subject, text = rendered.subject, rendered.text
        except RenderError as error:
            problem = str(error)
    return render(
        request,
        "staff_outbox_message.html",
        visitor,
        db,
        nav="staff-outbox",
        title=f"Mail message {message_id}",
        message=found,
        account=db.get(Account, found.account_id) if found.account_id else None,
        subject=subject,
        text=text,
        problem=problem,
        attempts=service.attempts_of(db, message_id),
    )


@router.post("/staff/outbox/{message_id}/resend")
def resend(
    request: Request,
    message_id: int,
    visitor: SignedIn,
    db: DbSession,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Queue the message again, now, to its recipient, with a fresh allowance of attempts."""
    check_csrf(visitor, csrf_token)
    visitor.require(*READS_MAIL)
    service.resend(db, message_id, as_of=clock_of(request))
    set_flash(db, visitor, f"Mail message {message_id} is queued to be sent again.")
    return redirect(f"/portal/staff/outbox/{message_id}")
