"""Issuing invoices: lines from the core, gapless numbers at finalization.

Numbers come from one counter row that is locked (UPDATE ... RETURNING) inside
the finalizing transaction, so they are gapless and never reused, however many
processes finalize at once.

An invoice is a draft (lines may change, no number), then open (finalized:
numbered and immutable), then paid, void or uncollectible. Voiding is a status
change of an open invoice; a paid invoice is never voided (it takes a credit note).

Each line carries its tax (core.tax, decided from the account's billing entity
and billing details); a draft's tax is decided again when it is finalized, and
the finalized invoice keeps a snapshot of its issuer and customer, its due date
and the legal mention of its tax. Each prefix of an entity has its own counter.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from leadbill.billing.models import Invoice, InvoiceLine, NumberSequence, Payment
from leadbill.billing.taxation import AccountBilling, account_billing, format_number, tax_rates
from leadbill.core.bank import creditor_reference
from leadbill.core.errors import RuleViolation
from leadbill.core.money import Money
from leadbill.core.periods import require_utc
from leadbill.core.rating import Line, LineKind
from leadbill.core.tax import TaxDecision, document_amounts, taxed_lines
from leadbill.errors import Conflict, InvalidInput, NotFound, from_rule
from leadbill.mail.service import queue_invoices_issued
from leadbill.webhooks import events as webhook_events
from leadbill.webhooks.service import Event, emit_many

STATUSES = ("draft", "open", "paid", "void", "uncollectible")


def take_numbers(session: Session, count: int, sequence: str) -> list[int]:
    """Reserve `count` consecutive numbers of a prefix's counter, locked until commit."""
    if count <= 0:
        return []
    last = session.execute(
        update(NumberSequence)
        .where(NumberSequence.name == sequence)
        .values(next_value=NumberSequence.next_value + count)
        .returning(NumberSequence.next_value)
        # Counters are never loaded as objects: nothing in the session to bring up to date.
        .execution_options(synchronize_session=False)
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
            "tax_category": line.tax_category,
            "tax_rate": line.tax_rate,
            "tax_amount": line.tax_or_zero.amount,
        }
        for position, line in enumerate(lines, start=1)
    ]


def stored_lines(rows: Sequence[InvoiceLine], currency: str) -> list[Line]:
    """Stored invoice lines as core lines (with their tax), in order."""
    return [
        Line(
            kind=LineKind(row.kind),
            description=row.description,
            quantity=row.quantity,
            unit_price=Money(row.unit_price, currency),
            amount=Money(row.amount, currency),
            period_start=row.period_start,
            period_end=row.period_end,
            tax_category=row.tax_category,
            tax_rate=row.tax_rate,
            tax=Money(row.tax_amount, currency),
        )
        for row in rows
    ]


def totals_of(lines: Sequence[Line], currency: str) -> dict[str, Decimal]:
    """The total columns of an invoice with these lines: net, tax and the total to pay."""
    net, tax, due = document_amounts(lines, currency)
    return {"net_total": net, "tax_total": tax, "total": due}


def payment_reference_of(number: str) -> str | None:
    """The creditor reference (ISO 11649) of an invoice number; None if it has too many
    letters and digits for one (more than 21: a 12-character prefix past 10^9 invoices)."""
    try:
        return creditor_reference(number)
    except RuleViolation:
        return None


def finalized_fields(
    billing: AccountBilling, decision: TaxDecision, issued_at: datetime
) -> dict[str, object]:
    """What an invoice takes from its account when it is finalized (snapshots, due date)."""
    return {
        "billing_entity_id": billing.entity_id,
        "issuer": billing.issuer,
        "customer": billing.customer,
        "due_on": billing.due_on(issued_at),
        "tax_mention": decision.mention,
    }


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
    """Write one invoice with its lines and their tax; finalize it at once unless asked not to."""
    billing = account_billing(session, account_id)
    decision = billing.decision(tax_rates(session), issued_at)
    lines = taxed_lines(lines, decision)
    invoice = Invoice(
        account_id=account_id,
        subscription_id=subscription_id,
        seat_id=seat_id,
        boundary_index=boundary_index,
        kind=kind,
        status="draft",
        currency=currency,
        issued_at=issued_at,
        **totals_of(lines, currency),
    )
    session.add(invoice)
    session.flush()
    session.execute(insert(InvoiceLine), line_rows(account_id, invoice.id, lines))
    if finalize:  # just written and taxed as of now: no need to lock it and tax it again
        _finalize(session, invoice, billing, decision, issued_at)
    return invoice


def _retax(session: Session, invoice: Invoice) -> tuple[AccountBilling, TaxDecision]:
    """Decide a draft's tax again from its account as it is now; rewrite lines and totals."""
    billing = account_billing(session, invoice.account_id)
    decision = billing.decision(tax_rates(session), invoice.issued_at)
    rows = invoice_lines(session, invoice.id)
    lines = taxed_lines(stored_lines(rows, invoice.currency), decision)
    for row, line in zip(rows, lines, strict=True):
        row.tax_category = line.tax_category
        row.tax_rate = line.tax_rate
        row.tax_amount = line.tax_or_zero.amount
    for name, value in totals_of(lines, invoice.currency).items():
        setattr(invoice, name, value)
    session.flush()
    return billing, decision


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
    """Give a draft its tax, snapshots, due date and gapless number; make it immutable."""
    status = _locked_status(session, invoice)
    if status != "draft":
        raise Conflict(f"invoice {_label(invoice)} is {status}; only a draft can be finalized")
    billing, decision = _retax(session, invoice)
    return _finalize(session, invoice, billing, decision, as_of)


def _finalize(
    session: Session,
    invoice: Invoice,
    billing: AccountBilling,
    decision: TaxDecision,
    as_of: datetime,
) -> Invoice:
    """Snapshots, due date, number and status of a draft taxed under `decision`."""
    for name, value in finalized_fields(billing, decision, invoice.issued_at).items():
        setattr(invoice, name, value)
    (value,) = take_numbers(session, 1, billing.invoice_prefix)
    invoice.number = format_number(billing.invoice_prefix, value)
    invoice.payment_reference = payment_reference_of(invoice.number)
    invoice.status = finalized_status(invoice.total)
    invoice.finalized_at = as_of
    if invoice.status == "paid":
        invoice.paid_at = as_of
    session.flush()
    emit_many(session, finalized_events(invoice, as_of))  # the webhook outbox, same transaction
    queue_invoices_issued(session, [(invoice.account_id, invoice.id)])  # and the mail outbox
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
            "uncollectible": "it was written off as uncollectible and stays in the ledger",
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
    _retax(session, invoice)
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
    _retax(session, invoice)
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
