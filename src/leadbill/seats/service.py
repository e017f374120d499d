"""Seat use cases (R8): create with a fixed primary, manage the optional backup."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadbill.accounts.models import Account
from leadbill.billing.invoices import issue_invoice
from leadbill.billing.models import Invoice
from leadbill.core.email_address import check_email
from leadbill.core.errors import RuleViolation
from leadbill.core.money import Money
from leadbill.core.periods import require_not_ahead, require_utc
from leadbill.core.rating import seat_fee
from leadbill.core.reviews import check_text
from leadbill.errors import Conflict, InvalidInput, NotFound, from_rule
from leadbill.plans.models import Plan
from leadbill.plans.service import terms
from leadbill.seats.models import Seat
from leadbill.subscriptions.models import Subscription
from leadbill.subscriptions.service import cancellation_of

# A seat code names a seat in CSV files, URLs and reports: no spaces, quotes or slashes.
SEAT_CODE = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _person(name: str | None, email: str | None, role: str) -> tuple[str, str]:
    if not name or not name.strip():
        raise InvalidInput(f"{role}_name", "must not be empty")
    try:
        address = check_email(email, f"{role}_email")
    except RuleViolation as error:
        raise from_rule(error) from None
    return name.strip(), address


def create_seat(
    session: Session,
    *,
    account: Account,
    code: str,
    primary_name: str,
    primary_email: str,
    primary_phone: str | None = None,
    backup_name: str | None = None,
    backup_email: str | None = None,
    backup_phone: str | None = None,
    as_of: datetime,
    by: str | None = None,
    clock: datetime | None = None,
) -> tuple[Seat, Invoice]:
    """Create a seat at `as_of` on the account's active subscription and invoice its fee.

    `by` (staff or API key) is recorded with the instant; with `clock`, an instant
    more than a day ahead of it is refused. The instant must fall in the
    subscription's life: not before its start, not once a cancellation ended it.
    """
    try:
        as_of = require_utc(as_of, "at")
        if clock is not None:
            require_not_ahead(as_of, clock, "at")
        who = None if by is None else check_text(by, "by", 1, 200)
    except RuleViolation as error:
        raise from_rule(error) from None
    code = code.strip()
    if not SEAT_CODE.fullmatch(code):
        raise InvalidInput(
            "code", f"{code!r} is not a seat code: 1 to 64 letters, digits, '-' or '_'"
        )
    subscription = session.scalar(
        select(Subscription).where(
            Subscription.account_id == account.id, Subscription.status == "active"
        )
    )
    if subscription is None:
        raise Conflict(f"account {account.code} has no active subscription to add a seat to")
    _check_in_subscription(session, subscription, as_of)
    existing = session.scalar(
        select(Seat.id).where(Seat.account_id == account.id, Seat.code == code)
    )
    if existing is not None:
        raise Conflict(f"seat {code!r} already exists on account {account.code}")
    primary = _person(primary_name, primary_email, "primary")
    backup = _person(backup_name, backup_email, "backup") if backup_name or backup_email else None
    seat = Seat(
        account_id=account.id,
        subscription_id=subscription.id,
        code=code,
        primary_name=primary[0],
        primary_email=primary[1],
        primary_phone=primary_phone,
        backup_name=backup[0] if backup else None,
        backup_email=backup[1] if backup else None,
        backup_phone=backup_phone if backup else None,
        created_at=as_of,
        created_by=who,
    )
    session.add(seat)
    session.flush()
    plan = session.get_one(Plan, subscription.plan_id)
    invoice = issue_invoice(
        session,
        account_id=account.id,
        currency=account.currency,
        lines=[seat_fee(terms(plan), f"{code} ({primary[0]})")],
        issued_at=as_of,
        kind="seat_fee",
        subscription_id=None,
        seat_id=seat.id,
    )
    return seat, invoice


def _check_in_subscription(session: Session, subscription: Subscription, at: datetime) -> None:
    """Refuse a seat dated before the subscription started or after its cancellation ends it."""
    if at < subscription.anchor_at:
        raise InvalidInput(
            "at",
            f"precedes the start of subscription {subscription.id} "
            f"({subscription.anchor_at:%Y-%m-%d %H:%M} UTC)",
        )
    cancellation = cancellation_of(session, subscription)
    if cancellation is not None and at >= cancellation.ends_at:
        raise Conflict(
            f"subscription {subscription.id} is cancelled and ends at "
            f"{cancellation.ends_at:%Y-%m-%d %H:%M} UTC, before this seat's instant"
        )


def get_seat(session: Session, account: Account, code: str) -> Seat:
    """A seat of the account by its code."""
    seat = session.scalar(select(Seat).where(Seat.account_id == account.id, Seat.code == code))
    if seat is None:
        raise NotFound(f"seat {code!r} does not exist on account {account.code}")
    return seat


def change_primary(session: Session, seat: Seat, **_: object) -> None:
    """Always refused: the primary of a seat is fixed (R8); a new primary is a new seat."""
    raise Conflict(
        f"the primary of seat {seat.code} is fixed and cannot be changed or swapped with the "
        "backup; create a new seat for a new primary"
    )


def set_backup(
    session: Session, seat: Seat, *, name: str, email: str, phone: str | None = None
) -> Seat:
    """Add or replace the seat's backup person."""
    backup = _person(name, email, "backup")
    if backup[1].casefold() == seat.primary_email.casefold():
        raise InvalidInput(
            "backup_email", "is the primary's e-mail; the primary and backup cannot be swapped"
        )
    seat.backup_name, seat.backup_email, seat.backup_phone = backup[0], backup[1], phone
    session.flush()
    return seat


def remove_backup(session: Session, seat: Seat) -> Seat:
    """Remove the seat's backup person; the primary stays."""
    if seat.backup_name is None:
        raise Conflict(f"seat {seat.code} has no backup to remove")
    seat.backup_name = seat.backup_email = seat.backup_phone = None
    session.flush()
    return seat


def list_seats(session: Session, account: Account) -> list[Seat]:
    """The account's seats, oldest first."""
    return list(
        session.scalars(select(Seat).where(Seat.account_id == account.id).order_by(Seat.id))
    )


def seat_fee_of(session: Session, account: Account) -> Money:
    """The one-time fee a new seat of the account would be invoiced now (R8)."""
    subscription = session.scalar(
        select(Subscription).where(
            Subscription.account_id == account.id, Subscription.status == "active"
        )
    )
    if subscription is None:
        raise Conflict(f"account {account.code} has no active subscription to add a seat to")
    plan = session.get_one(Plan, subscription.plan_id)
    return seat_fee(terms(plan), "new seat").amount
