"""Invitations and password resets: one-time links that set a portal password.

A link is queued as a mail message with a `PasswordLink` row, in the caller's
transaction (the user is created, or a reset is asked for, with its message or
not at all). The token is made by the worker when it sends the message
(`issue_token`): only its SHA-256 is stored, and the token itself is only in
the e-mail. Sending the message again makes a new token, which replaces the
old one; sending a newer link to the same user ends the older ones.

`use_token` sets the password once: the link is used, the user's other links
end, and every session of the user ends (whoever had the old password is
signed out). Invitations last `invitation_days`, resets
`password_reset_minutes`, from when they are sent.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from leadbill.accounts.models import Account
from leadbill.core.periods import require_utc
from leadbill.errors import Conflict, InvalidInput
from leadbill.mail import service as mail
from leadbill.mail.models import MailMessage
from leadbill.password_links.models import PasswordLink
from leadbill.portal.models import PortalSession, User
from leadbill.portal.users import check_password, create_user, find_user, hash_password
from leadbill.settings import Settings

INVITATION = "invitation"
RESET = "reset"
PURPOSES = {mail.PORTAL_INVITATION: INVITATION, mail.PASSWORD_RESET: RESET}
# secrets.token_urlsafe(32): 43 characters of the URL-safe alphabet.
TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _queue(session: Session, user: User, purpose: str, as_of: datetime) -> MailMessage:
    if user.account_id is None and purpose != RESET:
        raise InvalidInput("email", "only customer users are invited; staff reset their password")
    kind = mail.PORTAL_INVITATION if purpose == INVITATION else mail.PASSWORD_RESET
    message = mail.queue_to_user(session, kind, user.account_id, user.email, created_at=as_of)
    session.add(
        PasswordLink(
            account_id=user.account_id,
            user_id=user.id,
            message_id=message.id,
            purpose=purpose,
            created_at=as_of,
        )
    )
    session.flush()
    return message


def invite(session: Session, user: User, *, as_of: datetime) -> MailMessage:
    """Queue an invitation to the portal for a customer user (again, if it was invited)."""
    return _queue(session, user, INVITATION, require_utc(as_of, "as_of"))


def invite_customer(
    session: Session, *, email: str, account_code: str, as_of: datetime
) -> tuple[User, MailMessage]:
    """A new customer user of an account, with no password yet, and its invitation."""
    user = create_user(
        session, email=email, password=None, role="customer", account_code=account_code, as_of=as_of
    )
    return user, invite(session, user, as_of=as_of)


def invite_by_email(session: Session, email: str, *, as_of: datetime) -> MailMessage:
    """Invite again the customer user of this e-mail (staff asked for it)."""
    user = find_user(session, email)
    if user is None:
        raise InvalidInput("email", f"no portal user has the e-mail {email.strip()!r}")
    if user.account_id is None:
        raise InvalidInput("email", f"{user.email} is a staff user; only customers are invited")
    return invite(session, user, as_of=as_of)


def invite_billing_contact(session: Session, account: Account, *, as_of: datetime) -> User | None:
    """The account's billing e-mail as a customer user, invited, unless a user has it."""
    if find_user(session, account.billing_email) is not None:
        return None
    user, _message = invite_customer(
        session, email=account.billing_email, account_code=account.code, as_of=as_of
    )
    return user


def request_reset(session: Session, email: str, *, as_of: datetime, settings: Settings) -> None:
    """Queue a reset link for the portal user (customer or staff) of `email`; nothing else.

    The caller answers the same whatever happened here: an unknown address or a user
    past its hourly allowance queue nothing. No password is hashed on any
    path, so the time does not tell them apart either.
    """
    as_of = require_utc(as_of, "as_of")
    user = find_user(session, email[:400])
    if user is None:
        return
    recent = session.scalar(
        select(func.count(PasswordLink.id)).where(
            PasswordLink.user_id == user.id,
            PasswordLink.purpose == RESET,
            PasswordLink.created_at > as_of - timedelta(hours=1),
        )
    )
    if int(recent or 0) >= max(1, settings.password_resets_per_hour):
        return
    _queue(session, user, RESET, as_of)


@dataclass(frozen=True, slots=True)
class Issued:
    """The token of a message being sent, and until when its link works."""

    token: str
    expires_at: datetime
    purpose: str


def lifetime(purpose: str, settings: Settings) -> timedelta:
    """How long a link of this purpose works once sent."""
    if purpose == INVITATION:
        return timedelta(days=max(1, settings.invitation_days))
    return timedelta(minutes=max(1, settings.password_reset_minutes))


def issue_token(
    session: Session, message: MailMessage, *, as_of: datetime, settings: Settings
) -> Issued:
    """A new token for the message's link (the previous one stops working); the user's
    other live links end. The caller commits before the message is sent."""
    link = session.scalar(
        select(PasswordLink).where(PasswordLink.message_id == message.id).with_for_update()
    )
    if link is None:
        raise Conflict(f"mail message {message.id} has no password link")
    token = secrets.token_urlsafe(32)
    link.token_hash = _hash(token)
    link.issued_at = as_of
    link.expires_at = as_of + lifetime(link.purpose, settings)
    link.used_at = None
    link.ended_at = None
    _end_others(session, link, as_of)
    session.flush()
    return Issued(token, link.expires_at, link.purpose)


def _end_others(session: Session, link: PasswordLink, as_of: datetime) -> None:
    session.execute(
        update(PasswordLink)
        .where(
            PasswordLink.user_id == link.user_id,
            PasswordLink.id != link.id,
            PasswordLink.used_at.is_(None),
            PasswordLink.ended_at.is_(None),
        )
        .values(ended_at=as_of)
        .execution_options(synchronize_session=False)
    )


class LinkRefused(Exception):
    """A link that does not set a password; `detail` says why, for the page."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


UNKNOWN = "This link is not valid: it may be incomplete, or a newer link replaced it."
USED = "This link has already been used. Sign in, or ask for a new link."
ENDED = "A newer link was sent since this one, or the password was set another way."
EXPIRED = "This link has expired. Ask for a new link."


def check_token(
    session: Session, token: str, *, as_of: datetime, lock: bool = False
) -> PasswordLink:
    """The live link of a token; LinkRefused says why it is not one."""
    if not TOKEN.fullmatch(token):
        raise LinkRefused(UNKNOWN)
    query = select(PasswordLink).where(PasswordLink.token_hash == _hash(token))
    link = session.scalar(query.with_for_update() if lock else query)
    if link is None:
        raise LinkRefused(UNKNOWN)
    if link.used_at is not None:
        raise LinkRefused(USED)
    if link.ended_at is not None:
        raise LinkRefused(ENDED)
    if link.expires_at is None or link.expires_at <= as_of:
        raise LinkRefused(EXPIRED)
    return link


def use_token(
    session: Session, token: str, password: str, confirmation: str, *, as_of: datetime
) -> User:
    """Set the password of the link's user, once; ends the user's sessions and links.

    LinkRefused when the link does not work; InvalidInput naming the field when the
    password does not follow the rules (the link stays usable).
    """
    link = check_token(session, token, as_of=as_of, lock=True)
    check_password(password)
    if password != confirmation:
        raise InvalidInput("confirmation", "does not match the password")
    user = session.get_one(User, link.user_id, with_for_update=True)
    user.password_hash = hash_password(password)
    user.failed_sign_ins = 0
    user.locked_until = None
    link.used_at = as_of
    _end_others(session, link, as_of)
    session.execute(delete(PortalSession).where(PortalSession.user_id == user.id))
    session.flush()
    return user


def link_of(session: Session, message_id: int) -> PasswordLink | None:
    """The password link a message carries (None for other messages)."""
    return session.scalar(select(PasswordLink).where(PasswordLink.message_id == message_id))
