"""Issuing invoices: lines from the core, gapless numbers at finalization.

Numbers come from one counter row that is locked (UPDATE ... RETURNING) inside
the finalizing transaction, so they are gapless and never reused, however many
processes finalize at once.

An invoice is a draft (lines may change, no number), then open (finalized:
numbered and immutable), then paid or void. Voiding is a status change of an
open invoice; a paid invoice is never voided (it takes a credit note).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from leadbill.billing.models import Invoice, InvoiceLine, NumberSequence, Payment
from leadbill.core.errors import RuleViolation
from leadbill.core.periods import require_utc
from leadbill.core.rating import Line, invoice_total
from leadbill.errors import Conflict, InvalidInput, NotFound, from_rule
from leadbill.webhooks import events as webhook_events
from leadbill.webhooks.service import Event, emit_many

INVOICE_SEQUENCE = "invoice"
STATUSES = ("draft", "open", "paid", "void")


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


def invoice_event(invoice: Invoice, event_type: str, at: datetime) -> Event:
    """A webhook event about an invoice (invoice.finalized, invoice.paid) as it stands now."""
    data = webhook_events.invoice_data(
        id=invoice.id,
        number=invoice.number,
        kind=invoice.kind,
        status=invoice.status,
        currency=invoice.currency,
        total=invoice.total,
        issued_at=invoice.issued_at,
        finalized_at=invoice.finalized_at,
        paid_at=invoice.paid_at,
        subscription_id=invoice.subscription_id,
    )
    return Event(invoice.account_id, event_type, data, at)


def finalized_events(invoice: Invoice, at: datetime) -> list[Event]:
    """Webhook events of an invoice finalized at `at`: finalized, and paid when nothing is due."""
    found = [invoice_event(invoice, webhook_events.INVOICE_FINALIZED, at)]
    if invoice.status == "paid":
        found.append(invoice_event(invoice, webhook_events.INVOICE_PAID, at))
    return found


def finalized_status(total: Decimal) -> str:
    """Status of a just-finalized invoice: nothing to pay means paid at once."""
    return "paid" if total == 0 else "open"


def _locked_status(session: Session, invoice: Invoice) -> str:
    # Lock the row (PostgreSQL; SQLite already holds the write lock) and read the
    # stored status, so that two finalizations or voids at once cannot both pass.
    session.flush()
    status: str = session.execute(
        select(Invoice.status).where(Invoice.id == invoice.id).with_for_update()
    ).scalar_one()
    return status


def _label(invoice: Invoice) -> str:
    return invoice.number or f"draft {invoice.id}"


def finalize_invoice(session: Session, invoice: Invoice, as_of: datetime) -> Invoice:
    """Give a draft its gapless number and make it immutable (status open)."""
    status = _locked_status(session, invoice)
    if status != "draft":
        raise Conflict(f"invoice {_label(invoice)} is {status}; only a draft can be finalized")
    (value,) = take_numbers(session, 1)
    invoice.number = format_number(value)
    invoice.status = finalized_status(invoice.total)
    invoice.finalized_at = as_of
    if invoice.status == "paid":
        invoice.paid_at = as_of
    session.flush()
    emit_many(session, finalized_events(invoice, as_of))  # the webhook outbox, same transaction
    return invoice


def void_invoice(session: Session, invoice: Invoice, as_of: datetime) -> Invoice:
    """Void an open invoice (a status change; its number and lines stay as they were)."""
    try:
        as_of = require_utc(as_of, "as_of")
    except RuleViolation as error:
        raise from_rule(error) from None
    status = _locked_status(session, invoice)
    if status != "open":
        hint = {
            "paid": "a paid invoice is never voided; issue a credit note",
            "draft": "a draft has no number yet; change its lines instead",
            "void": "it is already void",
        }[status]
        raise Conflict(f"invoice {_label(invoice)} is {status}; {hint}")
    paid = session.scalar(select(func.count(Payment.id)).where(Payment.invoice_id == invoice.id))
    if paid:
        raise Conflict(
            f"invoice {_label(invoice)} has payments recorded against it; it cannot be voided"
        )
    invoice.status = "void"
    invoice.voided_at = as_of
    session.flush()
    return invoice


def _require_draft(session: Session, invoice: Invoice) -> None:
    status = _locked_status(session, invoice)
    if status != "draft":
        raise Conflict(
            f"invoice {_label(invoice)} is {status}; a finalized invoice is immutable "
            "(issue a credit note instead)"
        )


def replace_lines(session: Session, invoice: Invoice, lines: Sequence[Line]) -> Invoice:
    """Replace every line of a draft and recompute its total; refused once finalized."""
    _require_draft(session, invoice)
    for line in lines:
        if line.amount.currency != invoice.currency:
            raise InvalidInput(
                "lines", f"a line in {line.amount.currency} on a {invoice.currency} invoice"
            )
    session.execute(delete(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id))
    session.execute(insert(InvoiceLine), line_rows(invoice.account_id, invoice.id, lines))
    invoice.total = invoice_total(list(lines), invoice.currency).amount
    session.flush()
    return invoice


def add_line(session: Session, invoice: Invoice, line: Line) -> Invoice:
    """Append one line to a draft and recompute its total; refused once finalized."""
    _require_draft(session, invoice)
    if line.amount.currency != invoice.currency:
        raise InvalidInput("line", f"is in {line.amount.currency}, invoice in {invoice.currency}")
    position = session.scalar(
        select(func.coalesce(func.max(InvoiceLine.position), 0)).where(
            InvoiceLine.invoice_id == invoice.id
        )
    )
    row = line_rows(invoice.account_id, invoice.id, [line])[0]
    row["position"] = int(position or 0) + 1
    session.execute(insert(InvoiceLine), [row])
    invoice.total = invoice.total + line.amount.amount
    session.flush()
    return invoice


def list_invoices(
    session: Session, *, account_id: int | None = None, status: str | None = None
) -> list[Invoice]:
    """Invoices, oldest first, optionally of one account and in one status."""
    query = select(Invoice).order_by(Invoice.issued_at, Invoice.id)
    if account_id is not None:
        query = query.where(Invoice.account_id == account_id)
    if status is not None:
        if status not in STATUSES:
            raise InvalidInput("status", f"{status!r} is not one of {', '.join(STATUSES)}")
        query = query.where(Invoice.status == status)
    return list(session.scalars(query))


def get_invoice(session: Session, number_or_id: str, account_id: int | None = None) -> Invoice:
    """An invoice by its number (or database id for drafts), optionally within one account."""
    query = select(Invoice)
    # ASCII digits that fit a BIGINT name a draft by id ("²" is a digit but no number).
    if number_or_id.isascii() and number_or_id.isdigit() and len(number_or_id) <= 18:
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
