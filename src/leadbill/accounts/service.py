"""Account use cases."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadbill.accounts.models import Account
from leadbill.core.email_address import check_email
from leadbill.core.errors import RuleViolation
from leadbill.core.money import check_currency
from leadbill.core.periods import check_time_zone, require_utc
from leadbill.errors import Conflict, InvalidInput, NotFound, from_rule


def create_account(
    session: Session,
    *,
    code: str,
    name: str,
    currency: str,
    time_zone: str,
    billing_email: str,
    as_of: datetime,
) -> Account:
    """Create a customer account."""
    code = code.strip()
    if not code:
        raise InvalidInput("code", "must not be empty")
    try:
        billing_email = check_email(billing_email, "billing_email")
        currency = check_currency(currency)
        check_time_zone(time_zone)
        created_at = require_utc(as_of, "as_of")
    except RuleViolation as error:
        raise from_rule(error) from None
    if session.scalar(select(Account.id).where(Account.code == code)) is not None:
        raise Conflict(f"account {code!r} already exists")
    account = Account(
        code=code,
        name=name.strip() or code,
        currency=currency,
        time_zone=time_zone,
        billing_email=billing_email.strip(),
        created_at=created_at,
    )
    session.add(account)
    session.flush()
    return account


def get_account(session: Session, code: str) -> Account:
    """The account with this code."""
    account = session.scalar(select(Account).where(Account.code == code))
    if account is None:
        raise NotFound(f"account {code!r} does not exist")
    return account


def list_accounts(session: Session) -> list[Account]:
    """Every account, by code."""
    return list(session.scalars(select(Account).order_by(Account.code)))
