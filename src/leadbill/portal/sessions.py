"""Server-side portal sessions and their CSRF tokens.

The cookie carries 32 random bytes; the table keeps only their SHA-256, so a
copy of the database does not let anyone act as a signed-in user. Each session
has its own CSRF token that every form posts back (the synchronizer token
pattern); before sign-in, the sign-in form is protected by a double-submit
cookie instead.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from leadbill.portal.models import PortalSession, User


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """A fresh random token (session id or CSRF token)."""
    return secrets.token_urlsafe(32)


def start_session(
    session: Session, user: User, *, as_of: datetime, lifetime: timedelta
) -> tuple[PortalSession, str]:
    """A new session for `user`; returns the row and the cookie value (never stored)."""
    token = new_token()
    row = PortalSession(
        id_hash=_hash(token),
        user_id=user.id,
        account_id=user.account_id,
        csrf_token=new_token(),
        created_at=as_of,
        expires_at=as_of + lifetime,
    )
    session.add(row)
    session.flush()
    return row, token


def find_session(
    session: Session, token: str | None, *, as_of: datetime
) -> tuple[PortalSession, User] | None:
    """The live session of a cookie value and its user; None when unknown or expired."""
    if not token:
        return None
    row = session.get(PortalSession, _hash(token))
    if row is None:
        return None
    if row.expires_at <= as_of:
        session.delete(row)
        session.flush()
        return None
    return row, session.get_one(User, row.user_id)


def end_session(session: Session, row: PortalSession) -> None:
    """Sign out: the session's row is deleted, so its cookie no longer works."""
    session.delete(row)
    session.flush()


def end_expired_sessions(session: Session, *, as_of: datetime) -> int:
    """Delete the sessions that expired by `as_of`; returns how many."""
    result = session.execute(delete(PortalSession).where(PortalSession.expires_at <= as_of))
    return int(getattr(result, "rowcount", 0) or 0)


def csrf_matches(expected: str | None, given: str | None) -> bool:
    """Constant-time comparison of a posted CSRF token with the expected one."""
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))
