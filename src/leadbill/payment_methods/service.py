"""Payment methods: choose how an account pays; a replaced method is kept, ended.

An account with no method stored pays by bank transfer. Setting a method ends
the one in use and starts the new one in the same transaction; the partial
unique index on `payment_methods` keeps one in use per account whatever runs at
once. A SEPA mandate is signed on the day its text is accepted (in the account's
time zone); its reference is checked against the SEPA rules (core.bank) and is
unique. A card method stores only the payment provider's ids: a value that looks
like a card number is refused wherever it is typed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from leadbill.accounts.models import Account
from leadbill.core import bank
from leadbill.core.errors import RuleViolation
from leadbill.core.periods import require_utc
from leadbill.core.wording import one_line
from leadbill.errors import Conflict, InvalidInput, from_rule
from leadbill.payment_methods.models import PaymentMethod

KINDS = ("bank_transfer", "sepa_debit", "card")
MAX_MANDATE_TEXT = 4000
MAX_PROVIDER_ID = 255
# The mandate a customer accepts in the portal (the SEPA Core rulebook's wording).
MANDATE_TEXT = (
    "By accepting this mandate form, you authorise {creditor} to send instructions to your "
    "bank to debit your account and your bank to debit your account in accordance with the "
    "instructions from {creditor}. As part of your rights, you are entitled to a refund from "
    "your bank under the terms and conditions of your agreement with your bank. A refund must "
    "be claimed within 8 weeks starting from the date on which your account was debited."
)


@dataclass(frozen=True, slots=True)
class MethodChoice:
    """A method to set: its kind and what that kind needs (None: not given)."""

    kind: str
    iban: str | None = None
    bic: str | None = None
    account_holder: str | None = None
    mandate_reference: str | None = None
    mandate_text: str | None = None
    provider: str | None = None
    provider_customer_id: str | None = None
    provider_payment_method_id: str | None = None


def current_method(session: Session, account_id: int) -> PaymentMethod | None:
    """The method in use (None: the account pays by bank transfer, the default)."""
    return session.scalar(
        select(PaymentMethod).where(
            PaymentMethod.account_id == account_id, PaymentMethod.ended_at.is_(None)
        )
    )


def method_history(session: Session, account_id: int) -> list[PaymentMethod]:
    """Every method the account has had, newest first."""
    return list(
        session.scalars(
            select(PaymentMethod)
            .where(PaymentMethod.account_id == account_id)
            .order_by(PaymentMethod.created_at.desc(), PaymentMethod.id.desc())
        )
    )


def _required(value: str | None, field: str) -> str:
    if value is None or not value.strip():
        raise InvalidInput(field, "is required for this payment method")
    return value


def _provider_id(value: str | None, field: str) -> str:
    text = _required(value, field).strip()
    if len(text) > MAX_PROVIDER_ID:
        raise InvalidInput(field, f"must be at most {MAX_PROVIDER_ID} characters")
    if bank.looks_like_card_number(text):
        raise InvalidInput(field, "looks like a card number; only the provider's id is stored")
    if not text.isascii() or not text.isprintable() or " " in text:
        raise InvalidInput(field, "must be the provider's id: printable ASCII without spaces")
    return text


def _next_mandate_reference(session: Session, account: Account) -> str:
    """LB-<account id>-<n>: the account's n-th mandate (SEPA characters only)."""
    count = session.scalar(
        select(func.count(PaymentMethod.id)).where(
            PaymentMethod.account_id == account.id, PaymentMethod.kind == "sepa_debit"
        )
    )
    return f"LB-{account.id}-{int(count or 0) + 1}"


def _new_method(
    session: Session, account: Account, choice: MethodChoice, at: datetime, by: str | None
) -> PaymentMethod:
    """The new row, every field checked (nothing stored yet)."""
    kind = choice.kind.strip().lower()
    if kind not in KINDS:
        raise InvalidInput("kind", f"{choice.kind!r} is not one of {', '.join(KINDS)}")
    method = PaymentMethod(account_id=account.id, kind=kind, created_at=at, created_by=by)
    try:
        if kind == "sepa_debit":
            iban = bank.check_iban(_required(choice.iban, "iban"))
            bic = bank.check_bic(choice.bic) if choice.bic and choice.bic.strip() else None
            holder = one_line(
                _required(choice.account_holder, "account_holder"),
                "account_holder",
                bank.MAX_ACCOUNT_HOLDER,
            )
            reference = (
                bank.check_mandate_reference(choice.mandate_reference)
                if choice.mandate_reference and choice.mandate_reference.strip()
                else _next_mandate_reference(session, account)
            )
            text = _required(choice.mandate_text, "mandate_text").strip()
            if len(text) > MAX_MANDATE_TEXT:
                raise InvalidInput("mandate_text", f"must be at most {MAX_MANDATE_TEXT} characters")
            method.iban = iban
            method.bic = bic or bank.bic_of(iban)
            method.account_holder = holder
            method.mandate_reference = reference.upper()
            method.mandate_text = text
            method.signed_on = at.astimezone(ZoneInfo(account.time_zone)).date()
            method.sequence = "first"
        elif kind == "card":
            method.provider = one_line(_required(choice.provider, "provider"), "provider", 32)
            method.provider_customer_id = _provider_id(
                choice.provider_customer_id, "provider_customer_id"
            )
            method.provider_payment_method_id = _provider_id(
                choice.provider_payment_method_id, "provider_payment_method_id"
            )
    except RuleViolation as error:
        raise from_rule(error) from None
    return method


def set_method(
    session: Session, account: Account, choice: MethodChoice, as_of: datetime, by: str | None
) -> PaymentMethod:
    """Make `choice` the account's method from `as_of`; the one in use ends then."""
    try:
        at = require_utc(as_of, "as_of")
    except RuleViolation as error:
        raise from_rule(error) from None
    who = one_line(by, "by", 200) if by is not None else None
    method = _new_method(session, account, choice, at, who)
    if method.mandate_reference is not None:
        taken = session.scalar(
            select(PaymentMethod.id).where(
                PaymentMethod.mandate_reference == method.mandate_reference
            )
        )
        if taken is not None:
            raise Conflict(f"mandate reference {method.mandate_reference!r} is already used")
    # Lock the account's method in use (PostgreSQL) so that two changes at once queue.
    session.execute(
        select(PaymentMethod.id)
        .where(PaymentMethod.account_id == account.id, PaymentMethod.ended_at.is_(None))
        .with_for_update()
    )
    session.execute(
        update(PaymentMethod)
        .where(PaymentMethod.account_id == account.id, PaymentMethod.ended_at.is_(None))
        .values(ended_at=at)
        .execution_options(synchronize_session="fetch")
    )
    try:
        with session.begin_nested():
            session.add(method)
    except IntegrityError:
        raise Conflict(
            f"the payment method of {account.code} was changed at the same time; try again"
        ) from None
    return method


def mandate_text(creditor: str) -> str:
    """The mandate text a customer accepts, naming the creditor."""
    return MANDATE_TEXT.format(creditor=creditor)
