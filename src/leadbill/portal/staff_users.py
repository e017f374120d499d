"""Staff actions on an account's portal users: invite a new one, send an invitation again.

Admins and billing staff (who read the mail outbox the invitation goes through)
do this from the account's page; other roles are refused. The invitation is
queued in the same transaction as the user.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from leadbill.accounts.service import get_account
from leadbill.auth.dependencies import DbSession
from leadbill.errors import NotFound
from leadbill.password_links.service import invite, invite_customer
from leadbill.portal.models import User
from leadbill.portal.permissions import INVITES_USERS
from leadbill.portal.users import NO_PASSWORD
from leadbill.portal.web import PortalRoute, SignedIn, check_csrf, clock_of, redirect, set_flash

router = APIRouter(route_class=PortalRoute, include_in_schema=False)


def portal_users_of(db: Session, account_id: int) -> list[tuple[User, bool]]:
    """The account's portal users by e-mail, each with whether it is still only invited."""
    users = db.scalars(select(User).where(User.account_id == account_id).order_by(User.email))
    return [(user, user.password_hash == NO_PASSWORD) for user in users]


@router.post("/staff/accounts/{code}/users")
def invite_user(
    request: Request,
    code: str,
    visitor: SignedIn,
    db: DbSession,
    email: Annotated[str, Form(max_length=254)] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """A new customer user of the account, invited by e-mail to choose its password."""
    check_csrf(visitor, csrf_token)
    visitor.require(*INVITES_USERS)
    account = get_account(db, code)
    user, message = invite_customer(
        db, email=email, account_code=account.code, as_of=clock_of(request)
    )
    set_flash(db, visitor, f"{user.email} is invited (mail message {message.id}).")
    return redirect(f"/portal/staff/accounts/{account.code}#portal-users")


@router.post("/staff/accounts/{code}/users/{user_id}/invite")
def invite_again(
    request: Request,
    code: str,
    user_id: int,
    visitor: SignedIn,
    db: DbSession,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """A new invitation for one of the account's users; its earlier links end when it is sent."""
    check_csrf(visitor, csrf_token)
    visitor.require(*INVITES_USERS)
    account = get_account(db, code)
    user = db.get(User, user_id)
    if user is None or user.account_id != account.id:
        raise NotFound(f"portal user {user_id} of account {account.code} does not exist")
    message = invite(db, user, as_of=clock_of(request))
    set_flash(
        db, visitor, f"A new invitation to {user.email} is queued (mail message {message.id})."
    )
    return redirect(f"/portal/staff/accounts/{account.code}#portal-users")
