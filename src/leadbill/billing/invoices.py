"""Issuing invoices: lines from the core, gapless numbers at finalization.

Numbers come from one counter row that is locked (UPDATE ... RETURNING) inside
the finalizing transaction, so they are gapless and never reused, however many
processes finalize at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from leadbill.billing.models import Invoice, InvoiceLine, NumberSequence
from leadbill.core.rating import Line, invoice_total
from leadbill.errors import Conflict, NotFound

INVOICE_SEQUENCE = "invoice"


def format_number(value: int) -> str:
    """The printed form of an invoice number."""
    return f"INV-{value:06d}"


def take_numbers(session: Session, count: int, sequence: str = INVOICE_SEQUENCE) -> list[int]:
    """Reserve `count` consecutive numbers; the counter row stays locked until commit."""
    if count <= 0:
        return []
    last = session.execute(
        update(NumberSequence)
        .where(NumberSequence.name == sequence)
        .values(next_value=NumberSequence.next_value + count)
        .returning(NumberSequence.next_value)
    ).scalar_one()
    first = last - count
    return list(range(first, last))


def line_rows(account_id: int, invoice_id: int, lines: Sequence[Line]) -> list[dict[str, object]]:
    """Rows of `invoice_lines` for the given core lines, in order."""
    return [
        {
            "account_id": account_id,
            "invoice_id": invoice_id,
            "position": position,
            "kind": line.kind.value,
            "description": line.description,
            "quantity": line.quantity,
            "unit_price": line.unit_price.amount,
            "amount": line.amount.amount,
            "period_start": line.period_start,
            "period_end": line.period_end,
        }
        for position, line in enumerate(lines, start=1)
    ]


def issue_invoice(
    session: Session,
    *,
    account_id: int,
    currency: str,
    lines: Sequence[Line],
    issued_at: datetime,
    kind: str,
    subscription_id: int | None = None,
    seat_id: int | None = None,
    boundary_index: int | None = None,
    finalize: bool = True,
) -> Invoice:
    """Write one invoice with its lines; finalize it at once unless asked not to."""
    invoice = Invoice(
        account_id=account_id,
        subscription_id=subscription_id,
        seat_id=seat_id,
        boundary_index=boundary_index,
        kind=kind,
        status="draft",
        currency=currency,
        total=invoice_total(list(lines), currency).amount,
        issued_at=issued_at,
    )
    session.add(invoice)
    session.flush()
    session.execute(insert(InvoiceLine), line_rows(account_id, invoice.id, lines))
    if finalize:
        finalize_invoice(session, invoice, issued_at)
    return invoice


def finalize_invoice(session: Session, invoice: Invoice, as_of: datetime) -> Invoice:
    """Give a draft its gapless number and make it immutable (status open)."""
    if invoice.status != "draft":
        raise Conflict(
            f"invoice {invoice.number} is {invoice.status}; only a draft can be finalized"
        )
    (value,) = take_numbers(session, 1)
    invoice.number = format_number(value)
    invoice.status = "open"
    invoice.finalized_at = as_of
    if invoice.total == 0:
        invoice.status = "paid"
        invoice.paid_at = as_of
    session.flush()
    return invoice


def get_invoice(session: Session, number_or_id: str, account_id: int | None = None) -> Invoice:
    """An invoice by its number (or database id for drafts), optionally within one account."""
    query = select(Invoice)
    if number_or_id.isdigit():
        query = query.where(Invoice.id == int(number_or_id))
    else:
        query = query.where(Invoice.number == number_or_id)
    if account_id is not None:
        query = query.where(Invoice.account_id == account_id)
    invoice = session.scalar(query)
    if invoice is None:
        raise NotFound(f"invoice {number_or_id!r} does not exist")
    return invoice


def invoice_lines(session: Session, invoice_id: int) -> list[InvoiceLine]:
    """The lines of an invoice, in order."""
    return list(
        session.scalars(
            select(InvoiceLine)
            .where(InvoiceLine.invoice_id == invoice_id)
            .order_by(InvoiceLine.position)
        )
    )
