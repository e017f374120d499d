"""Portal users: create, sign in with lockout after repeated failures.

Passwords are hashed with argon2id (`argon2-cffi`, its default parameters);
only the hash is stored. A sign-in with an unknown e-mail still verifies a
password against a fixed hash, so the answer takes as long either way and
never says which of the e-mail or the password was wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from leadbill.accounts.models import Account
from leadbill.accounts.service import get_account
from leadbill.auth.service import Role
from leadbill.core.email_address import check_email
from leadbill.core.errors import RuleViolation
from leadbill.core.periods import require_utc
from leadbill.core.wording import count_of
from leadbill.errors import Conflict, InvalidInput, from_rule
from leadbill.portal.models import User
from leadbill.settings import Settings

PORTAL_ROLES = (Role.ADMIN, Role.BILLING, Role.REVIEWER, Role.VIEWER, Role.CUSTOMER)
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024
# The hash of a user who has not chosen a password yet (invited): no password matches
# it, and it is not an argon2 hash, so no sign-in can ever succeed with it.
NO_PASSWORD = "!"

_hasher = PasswordHasher()
# Verified when the e-mail is unknown, so that the answer takes as long as a real check.
_UNKNOWN_USER_HASH = _hasher.hash("no user has this password")


class SignInRefused(Exception):
    """A sign-in that did not succeed; `detail` is safe to show."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    """How many consecutive failures lock a user out, and for how long."""

    max_failures: int = 5
    lockout: timedelta = timedelta(minutes=15)

    @property
    def refused_text(self) -> str:
        """What every refused sign-in says, whatever the reason."""
        minutes = int(self.lockout.total_seconds() // 60)
        return (
            "The e-mail or the password is not right. After "
            f"{count_of(self.max_failures, 'failed sign-in')} in a row, signing in is "
            f"locked for {count_of(minutes, 'minute')}."
        )

    @classmethod
    def of(cls, settings: Settings) -> LockoutPolicy:
        """The policy of the settings."""
        return cls(
            max(1, settings.portal_max_failed_sign_ins),
            timedelta(minutes=max(1, settings.portal_lockout_minutes)),
        )


def normalised_email(value: str) -> str:
    """An e-mail as stored and looked up: trimmed and case-folded."""
    try:
        return check_email(value, "email").lower()
    except RuleViolation as error:
        raise from_rule(error) from None


def check_password(password: str, field: str = "password") -> str:
    """A password as the portal accepts it: 10 to 1,024 characters."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(field, f"must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput(field, f"longer than {MAX_PASSWORD_LENGTH} characters")
    return password


def hash_password(password: str) -> str:
    """The argon2id hash of a password that passed `check_password`."""
    return _hasher.hash(check_password(password))


def create_user(
    session: Session,
    *,
    email: str,
    password: str | None,
    role: str,
    account_code: str | None = None,
    as_of: datetime,
) -> User:
    """A new portal user; a customer belongs to exactly one account, staff to none.

    A customer may be created without a password (None): it is invited, and sets
    its password from the invitation's link (`leadbill.password_links`).
    """
    try:
        chosen = Role(role)
    except ValueError:
        chosen = None
    if chosen not in PORTAL_ROLES:
        allowed = ", ".join(r.value for r in PORTAL_ROLES)
        raise InvalidInput("role", f"{role!r} is not one of {allowed}")
    if password is None and chosen is not Role.CUSTOMER:
        raise InvalidInput("password", "a staff user is created with a password")
    if password is not None:
        check_password(password)
    account: Account | None = None
    if chosen is Role.CUSTOMER:
        if not account_code:
            raise InvalidInput("account", "a customer user belongs to one account")
        account = get_account(session, account_code)
    elif account_code:
        raise InvalidInput("account", f"only a customer user belongs to an account, not {role}")
    user = User(
        email=normalised_email(email),
        password_hash=_hasher.hash(password) if password is not None else NO_PASSWORD,
        role=chosen.value,
        account_id=account.id if account else None,
        created_at=require_utc(as_of, "as_of"),
        failed_sign_ins=0,
    )
    try:
        with session.begin_nested():
            session.add(user)
            session.flush()
    except IntegrityError:
        raise Conflict(f"a user with the e-mail {user.email} already exists") from None
    return user


def sign_in(
    session: Session, email: str, password: str, *, as_of: datetime, policy: LockoutPolicy
) -> User:
    """The user whose e-mail and password these are; failures count toward a lockout.

    A locked-out user is refused even with the right password until the lockout
    ends. The caller must commit even when this raises, so a failure is counted.
    Every refusal says the same (`policy.refused_text`) and checks a password
    hash, so neither the text nor the time tells whether an e-mail is a user's
    or whether that user is locked out.
    """
    try:
        address = normalised_email(email)
    except InvalidInput:
        address = ""
    user = session.scalar(select(User).where(User.email == address).with_for_update())
    if user is None or user.password_hash == NO_PASSWORD:
        # As long as a real check: neither an unknown nor an invited e-mail shows.
        _verify(_UNKNOWN_USER_HASH, password)
        raise SignInRefused(policy.refused_text)
    if user.locked_until is not None and as_of < user.locked_until:
        _verify(user.password_hash, password)
        raise SignInRefused(policy.refused_text)
    if not _verify(user.password_hash, password):
        user.failed_sign_ins += 1
        if user.failed_sign_ins >= policy.max_failures:
            user.failed_sign_ins = 0
            user.locked_until = as_of + policy.lockout
        session.flush()
        raise SignInRefused(policy.refused_text)
    user.failed_sign_ins = 0
    user.locked_until = None
    user.last_sign_in_at = as_of
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    session.flush()
    return user


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def find_user(session: Session, email: str) -> User | None:
    """The user of an e-mail (trimmed, case-folded); None when there is none or it is
    not an address."""
    try:
        address = normalised_email(email)
    except InvalidInput:
        return None
    return session.scalar(select(User).where(User.email == address))


def list_users(session: Session) -> list[tuple[User, str | None]]:
    """Every user with its account code (None for staff), by e-mail."""
    rows = session.execute(
        select(User, Account.code)
        .outerjoin(Account, Account.id == User.account_id)
        .order_by(User.email)
    )
    return [(user, code) for user, code in rows]
