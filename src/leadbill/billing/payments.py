"""Payments: money received against one finalized invoice.

A payment's reference is unique per account, so re-sending the same payment
changes nothing. An invoice becomes paid when its payments cover its total; a
payment may never exceed what is still due. An invoice written off as
uncollectible still takes payments (the money came after all) and becomes paid
once they cover it. Amounts are summed as Decimals in Python, never in SQL
(SQLite keeps money as text).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from leadbill.billing.invoices import invoice_event
from leadbill.billing.models import PAYMENT_METHODS, Invoice, Payment
from leadbill.core.errors import RuleViolation
from leadbill.core.money import Money, check_currency, format_money, minor_unit, parse_decimal
from leadbill.core.periods import require_utc
from leadbill.errors import Conflict, InvalidInput, from_rule
from leadbill.notifications.service import queue_payment_received
from leadbill.webhooks import events as webhook_events
from leadbill.webhooks.service import emit_many


def payments_of(session: Session, invoice_id: int) -> list[Payment]:
    """The payments recorded against an invoice, in the order they were received."""
    return list(
        session.scalars(
            select(Payment)
            .where(Payment.invoice_id == invoice_id)
            .order_by(Payment.received_at, Payment.id)
        )
    )


def amount_paid(session: Session, invoice: Invoice) -> Decimal:
    """The sum of the payments recorded against the invoice."""
    return sum((payment.amount for payment in payments_of(session, invoice.id)), Decimal(0))


def balance_due(session: Session, invoice: Invoice) -> Decimal:
    """What remains to be paid on the invoice (zero for a void or paid one)."""
    if invoice.status in ("void", "paid"):
        return Decimal(0)
    return invoice.total - amount_paid(session, invoice)


def balances_due(session: Session, invoices: Sequence[Invoice]) -> dict[int, Decimal]:
    """`balance_due` of many invoices at once, by invoice id: one query for all payments."""
    paid: dict[int, Decimal] = {}
    ids = [invoice.id for invoice in invoices if invoice.status not in ("void", "paid")]
    for start in range(0, len(ids), 500):  # far below every driver's bind limit
        rows = session.execute(
            select(Payment.invoice_id, Payment.amount).where(
                Payment.invoice_id.in_(ids[start : start + 500])
            )
        )
        for invoice_id, amount in rows:
            paid[invoice_id] = paid.get(invoice_id, Decimal(0)) + amount
    return {
        invoice.id: (
            Decimal(0)
            if invoice.status in ("void", "paid")
            else invoice.total - paid.get(invoice.id, Decimal(0))
        )
        for invoice in invoices
    }


def list_payments(session: Session, *, account_id: int | None = None) -> list[Payment]:
    """Payments, oldest first, optionally of one account."""
    query = select(Payment).order_by(Payment.received_at, Payment.id)
    if account_id is not None:
        query = query.where(Payment.account_id == account_id)
    return list(session.scalars(query))


def _same(payment: Payment, invoice: Invoice, amount: Decimal, currency: str, at: datetime) -> bool:
    # Method, provider reference and fee describe the payment; they do not make it another.
    return (
        payment.invoice_id == invoice.id
        and payment.amount == amount
        and payment.currency == currency
        and payment.received_at == at
    )


def _existing(session: Session, account_id: int, reference: str) -> Payment | None:
    return session.scalar(
        select(Payment).where(Payment.account_id == account_id, Payment.reference == reference)
    )


def _replay(
    existing: Payment, invoice: Invoice, amount: Decimal, currency: str, at: datetime
) -> Payment:
    if _same(existing, invoice, amount, currency, at):
        return existing
    raise Conflict(
        f"payment reference {existing.reference!r} was already recorded with different "
        f"details ({format_money(existing.amount, existing.currency)} on invoice "
        f"{existing.invoice_id} "
        f"at {existing.received_at:%Y-%m-%dT%H:%M:%SZ})"
    )


def _parse(invoice: Invoice, amount: object, currency: str) -> tuple[Decimal, str]:
    try:
        value = parse_decimal(amount, "amount")
        code = check_currency(currency)
    except RuleViolation as error:
        raise from_rule(error) from None
    if code != invoice.currency:
        raise InvalidInput(
            "currency", f"{code} does not match the invoice currency {invoice.currency}"
        )
    if value <= 0:
        raise InvalidInput("amount", f"{value} must be greater than zero")
    rounded = Money(value, code).rounded().amount
    if rounded != value:
        raise InvalidInput(
            "amount", f"{value} has more than {minor_unit(code)} decimal places for {code}"
        )
    return rounded, code


def _fee(fee: Decimal | str, amount: Decimal, currency: str) -> Decimal:
    """A provider's fee: zero up to the payment's amount, in the currency's minor unit."""
    try:
        value = parse_decimal(fee, "fee")
    except RuleViolation as error:
        raise from_rule(error) from None
    if value < 0 or value > amount:
        raise InvalidInput("fee", f"{value} must be from 0 to the payment's amount {amount}")
    if Money(value, currency).rounded().amount != value:
        raise InvalidInput(
            "fee", f"{value} has more than {minor_unit(currency)} decimal places for {currency}"
        )
    return Money(value, currency).rounded().amount


def record_payment(
    session: Session,
    *,
    invoice: Invoice,
    amount: Decimal | str,
    currency: str,
    reference: str,
    received_at: datetime,
    method: str = "bank_transfer",
    provider_reference: str | None = None,
    fee: Decimal | str | None = None,
) -> Payment:
    """Record money received against an invoice; the invoice is paid once covered.

    `method` is how it came (PAYMENT_METHODS); `provider_reference` what the bank or
    provider calls it; `fee` what the provider kept, where known (at most the amount).

    Re-sending a payment with the same reference returns the stored payment when
    it is identical, and is refused with Conflict when it differs.
    """
    value, code = _parse(invoice, amount, currency)
    reference = reference.strip()
    if not reference:
        raise InvalidInput("reference", "must not be empty")
    if len(reference) > 128:
        raise InvalidInput("reference", "must be at most 128 characters")
    try:
        received_at = require_utc(received_at, "received_at")
    except RuleViolation as error:
        raise from_rule(error) from None

    if method not in PAYMENT_METHODS:
        raise InvalidInput("method", f"{method!r} is not one of {', '.join(PAYMENT_METHODS)}")
    if provider_reference is not None:
        provider_reference = provider_reference.strip() or None
        if provider_reference is not None and len(provider_reference) > 128:
            raise InvalidInput("provider_reference", "must be at most 128 characters")
    fee_value = None if fee is None or str(fee).strip() == "" else _fee(fee, value, code)

    existing = _existing(session, invoice.account_id, reference)
    if existing is not None:
        return _replay(existing, invoice, value, code, received_at)

    # Lock the invoice (PostgreSQL; SQLite holds the write lock) so that two
    # payments at once cannot both fit in the same remaining balance.
    session.execute(select(Invoice.id).where(Invoice.id == invoice.id).with_for_update())
    session.refresh(invoice)
    label = invoice.number or f"draft {invoice.id}"
    if invoice.status == "draft":
        raise InvalidInput("invoice", f"{label} is a draft; finalize it before recording payments")
    if invoice.status == "void":
        raise InvalidInput("invoice", f"{label} is void; it takes no payments")
    remaining = balance_due(session, invoice)
    if value > remaining:
        raise InvalidInput(
            "amount",
            f"{format_money(value, code)} exceeds the remaining balance "
            f"{format_money(remaining, code)} of {label}",
        )

    payment = Payment(
        account_id=invoice.account_id,
        invoice_id=invoice.id,
        amount=value,
        currency=code,
        reference=reference,
        received_at=received_at,
        method=method,
        provider_reference=provider_reference,
        fee=fee_value,
    )
    try:
        with session.begin_nested():
            session.add(payment)
    except IntegrityError:
        # The same reference was recorded by a concurrent request just now.
        raced = _existing(session, invoice.account_id, reference)
        if raced is None:
            raise
        return _replay(raced, invoice, value, code, received_at)
    # The receipt goes to the mail outbox with the payment (a replay above queues none).
    queue_payment_received(session, invoice.account_id, payment.id, created_at=received_at)
    if value == remaining:
        invoice.status = "paid"
        invoice.paid_at = received_at
        session.flush()
        # invoice.paid goes to the webhook outbox in this same transaction.
        emit_many(session, [invoice_event(invoice, webhook_events.INVOICE_PAID, received_at)])
    return payment
