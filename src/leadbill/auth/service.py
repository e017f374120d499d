"""API keys: create (shown once), authenticate, revoke, list; the roles they carry.

A key is `lb_` + 32 random bytes (URL-safe base64). Only its SHA-256 hash is
stored. A slow password hash (argon2, bcrypt) protects low-entropy secrets that
people choose against guessing; a 256-bit random key cannot be guessed, so one
fast SHA-256 is as safe and keeps authentication off the hot path of batch
ingestion. The first characters (`prefix`) find the row and tell keys apart.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadbill.accounts.models import Account
from leadbill.accounts.service import get_account
from leadbill.auth.models import ApiKey
from leadbill.core.errors import RuleViolation
from leadbill.core.periods import require_utc
from leadbill.errors import Conflict, InvalidInput, NotFound, from_rule

KEY_MARK = "lb_"
PREFIX_LENGTH = len(KEY_MARK) + 8
# last_used_at is a hint for people, not an audit log: write it at most once a minute.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class Role(enum.StrEnum):
    """What a key may do; a customer key is bound to one account."""

    ADMIN = "admin"
    BILLING = "billing"
    REVIEWER = "reviewer"
    VIEWER = "viewer"
    INGEST = "ingest"
    CUSTOMER = "customer"


STAFF_READERS = frozenset({Role.ADMIN, Role.BILLING, Role.REVIEWER, Role.VIEWER})


class Unauthenticated(Exception):
    """No key, a malformed key, an unknown key or a revoked key."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the key's id, its role and, for a customer, its account."""

    key_id: int
    role: Role
    account_id: int | None


def hash_key(key: str) -> str:
    """The stored form of a key: hex SHA-256."""
    return hashlib.sha256(key.encode()).hexdigest()


def _role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        allowed = ", ".join(role.value for role in Role)
        raise InvalidInput("role", f"{value!r} is not one of {allowed}") from None


def create_key(
    session: Session,
    *,
    role: str,
    account_code: str | None = None,
    name: str = "",
    as_of: datetime,
) -> tuple[ApiKey, str]:
    """Create a key; returns the row and the key itself, which is never stored."""
    chosen = _role(role)
    try:
        as_of = require_utc(as_of, "as_of")
    except RuleViolation as error:
        raise from_rule(error) from None
    account: Account | None = None
    if chosen is Role.CUSTOMER:
        if not account_code:
            raise InvalidInput("account", "a customer key is bound to one account")
        account = get_account(session, account_code)
    elif account_code:
        raise InvalidInput("account", f"only a customer key is bound to an account, not {role}")
    key = KEY_MARK + secrets.token_urlsafe(32)
    row = ApiKey(
        prefix=key[:PREFIX_LENGTH],
        key_hash=hash_key(key),
        role=chosen.value,
        account_id=account.id if account else None,
        name=name.strip() or chosen.value,
        created_at=as_of,
    )
    session.add(row)
    session.flush()
    return row, key


def authenticate(session: Session, key: str, *, as_of: datetime | None = None) -> Principal:
    """The principal of a presented key; records its use when `as_of` is given."""
    if not key.startswith(KEY_MARK) or len(key) < PREFIX_LENGTH:
        raise Unauthenticated("the API key is malformed")
    digest = hash_key(key)
    candidates = session.scalars(select(ApiKey).where(ApiKey.prefix == key[:PREFIX_LENGTH]))
    row = next((c for c in candidates if hmac.compare_digest(c.key_hash, digest)), None)
    if row is None:
        raise Unauthenticated("the API key is not known")
    if row.revoked_at is not None:
        raise Unauthenticated("the API key has been revoked")
    if as_of is not None and (
        row.last_used_at is None or as_of - row.last_used_at >= LAST_USED_RESOLUTION
    ):
        row.last_used_at = as_of
        session.flush()
    return Principal(key_id=row.id, role=Role(row.role), account_id=row.account_id)


def revoke_key(session: Session, key_id: int, *, as_of: datetime) -> ApiKey:
    """Revoke a key from `as_of` on; revoking twice is refused."""
    row = session.get(ApiKey, key_id)
    if row is None:
        raise NotFound(f"API key {key_id} does not exist")
    if row.revoked_at is not None:
        raise Conflict(f"API key {key_id} was already revoked")
    row.revoked_at = require_utc(as_of, "as_of")
    session.flush()
    return row


def list_keys(session: Session) -> list[tuple[ApiKey, str | None]]:
    """Every key with its account code (None for staff keys), oldest first."""
    rows = session.execute(
        select(ApiKey, Account.code)
        .outerjoin(Account, Account.id == ApiKey.account_id)
        .order_by(ApiKey.id)
    )
    return [(key, code) for key, code in rows]
