"""Credit notes: numbered without gaps, immutable (R15, R7).

A credit note is issued once per approved review of an invoiced lead (R15), or
for an immediate downgrade, once per invoice that charged the reduced fee (R7).
Numbers come from their own counter row (`credit_note`), shared by both, locked
inside the issuing transaction exactly like invoice numbers, so they are gapless
and never reused. `credit_notes.review_id` is unique: however many approvals
race, one review credits at most once (the loser's transaction fails and takes
back its number); `(subscription_change_id, invoice_id)` is unique likewise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from leadbill.accounts.models import Account
from leadbill.billing.invoices import invoice_lines, stored_lines, take_numbers
from leadbill.billing.models import Invoice
from leadbill.billing.taxation import billing_of, format_number
from leadbill.core.money import Money
from leadbill.core.rating import Line
from leadbill.core.tax import credited_tax, document_totals
from leadbill.credit_notes.models import CreditApplication, CreditNote, CreditNoteLine
from leadbill.errors import Conflict, NotFound
from leadbill.leads.models import Lead
from leadbill.mail.service import queue_credit_note_issued
from leadbill.plans.models import Plan
from leadbill.subscriptions.models import SubscriptionChange
from leadbill.webhooks import events
from leadbill.webhooks.service import emit


def _with_invoice_tax(session: Session, invoice: Invoice, lines: Sequence[Line]) -> list[Line]:
    """The credit lines with the tax of the invoice lines they correct (core.tax.credited_tax).

    A line takes the category and rate of the invoice's line of the same kind (else
    of its first taxed line); the tax refunded at a rate never exceeds what the
    invoice charged at it, less what earlier credit notes refunded.
    """
    charged_lines = stored_lines(invoice_lines(session, invoice.id), invoice.currency)
    taxed = [line for line in charged_lines if line.tax_category is not None]
    if not taxed:
        return list(lines)
    by_kind = {line.kind: line for line in reversed(taxed)}
    zero = Money.zero(invoice.currency).rounded()
    charged: dict[tuple[str, Decimal], Money] = {}
    for line in taxed:
        key = (str(line.tax_category), line.tax_rate)
        charged[key] = charged.get(key, zero) + line.tax_or_zero
    refunded: dict[tuple[str, Decimal], Money] = {}
    for row in credited_lines(session, invoice.id):
        if row.tax_category is not None:
            key = (row.tax_category, row.tax_rate)
            refunded[key] = refunded.get(key, zero) + Money(row.tax_amount, invoice.currency)
    model = [by_kind.get(line.kind, taxed[0]) for line in lines]
    return credited_tax(
        [
            replace(line, tax_category=source.tax_category, tax_rate=source.tax_rate)
            for line, source in zip(lines, model, strict=True)
        ],
        charged,
        refunded,
    )


def issue_credit_note(
    session: Session,
    *,
    account_id: int,
    invoice: Invoice,
    reason: str,
    lines: Sequence[Line],
    issued_at: datetime,
    review_id: int | None = None,
    lead_id: int | None = None,
    subscription_change_id: int | None = None,
) -> CreditNote:
    """Write a credit note with its lines and its gapless number.

    Either for a review (with its lead), once per review, or for a subscription
    change, once per change and invoice.
    """
    if (review_id is None) == (subscription_change_id is None):
        raise ValueError("a credit note comes from a review or from a subscription change")
    lines = _with_invoice_tax(session, invoice, lines)
    totals = document_totals(lines, invoice.currency)
    if totals.net.amount <= 0:
        raise Conflict("a credit note must credit something")
    # The entity that issued the invoice issues its correction.
    billing = billing_of(session, [account_id], entity_id=invoice.billing_entity_id)[account_id]
    (value,) = take_numbers(session, 1, billing.credit_note_prefix)
    note = CreditNote(
        account_id=account_id,
        number=format_number(billing.credit_note_prefix, value),
        review_id=review_id,
        subscription_change_id=subscription_change_id,
        invoice_id=invoice.id,
        lead_id=lead_id,
        currency=invoice.currency,
        total=totals.gross.amount,
        net_total=totals.net.amount,
        tax_total=totals.tax.amount,
        reason=reason,
        issued_at=issued_at,
        billing_entity_id=billing.entity_id,
        issuer=billing.issuer,
        customer=billing.customer,
    )
    try:
        with session.begin_nested():
            session.add(note)
            session.flush()
    except IntegrityError:
        if review_id is not None:
            raise Conflict(f"review {review_id} has already been credited") from None
        raise Conflict(
            f"change {subscription_change_id} has already credited invoice "
            f"{invoice.number or invoice.id}"
        ) from None
    session.execute(
        insert(CreditNoteLine),
        [
            {
                "account_id": account_id,
                "credit_note_id": note.id,
                "position": position,
                "kind": line.kind.value,
                "description": line.description[:400],
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
        ],
    )
    emit(
        session,
        account_id,
        events.CREDIT_NOTE_ISSUED,
        events.credit_note_data(
            credit_note_id=note.id,
            number=note.number,
            invoice_number=invoice.number or str(invoice.id),
            currency=note.currency,
            total=note.total,
            issued_at=issued_at,
            reason=reason,
            review_id=review_id,
            subscription_change_id=subscription_change_id,
        ),
        occurred_at=issued_at,
    )
    queue_credit_note_issued(session, account_id, note.id)  # the mail outbox, same transaction
    return note


def credited_lines(session: Session, invoice_id: int) -> list[CreditNoteLine]:
    """Every line of the credit notes issued against one invoice."""
    return list(
        session.scalars(
            select(CreditNoteLine)
            .join(CreditNote, CreditNote.id == CreditNoteLine.credit_note_id)
            .where(CreditNote.invoice_id == invoice_id)
            .order_by(CreditNote.id, CreditNoteLine.position)
        )
    )


@dataclass(frozen=True, slots=True)
class CreditNoteView:
    """A credit note with what it references, its lines and where it was applied."""

    note: CreditNote
    account_code: str
    invoice_number: str
    lead_id: str  # the operator's lead id; "" for a plan change's credit
    lines: list[CreditNoteLine]
    applications: list[tuple[str, Decimal, datetime]]
    subject: str  # what it credits: "lead L-1 (review 3)" or "plan change isa-200 -> isa-100 ..."

    @property
    def applied(self) -> Money:
        """What later invoices have taken of it so far."""
        amount = sum((amount for _number, amount, _at in self.applications), Decimal(0))
        return Money(amount, self.note.currency)

    @property
    def remaining(self) -> Money:
        """What is still to be applied to the account's next invoices."""
        return Money(self.note.total, self.note.currency) - self.applied


def list_credit_notes(session: Session, *, account_id: int | None = None) -> list[CreditNote]:
    """Credit notes in number order, optionally of one account."""
    query = select(CreditNote).order_by(CreditNote.issued_at, CreditNote.id)
    if account_id is not None:
        query = query.where(CreditNote.account_id == account_id)
    return list(session.scalars(query))


def get_credit_note(
    session: Session, number_or_id: str, *, account_id: int | None = None
) -> CreditNoteView:
    """One credit note by number (or id); with `account_id`, another account's is NotFound."""
    query = select(CreditNote)
    if number_or_id.isdigit():
        query = query.where(CreditNote.id == int(number_or_id))
    else:
        query = query.where(CreditNote.number == number_or_id.strip())
    if account_id is not None:
        query = query.where(CreditNote.account_id == account_id)
    note = session.scalar(query)
    if note is None:
        raise NotFound(f"credit note {number_or_id!r} does not exist")
    account = session.get_one(Account, note.account_id)
    invoice = session.get_one(Invoice, note.invoice_id)
    lead_id, subject = credited_subject(session, note)
    lines = list(
        session.scalars(
            select(CreditNoteLine)
            .where(CreditNoteLine.credit_note_id == note.id)
            .order_by(CreditNoteLine.position)
        )
    )
    applications = [
        (number or f"draft {invoice_id}", amount, at)
        for invoice_id, number, amount, at in session.execute(
            select(
                CreditApplication.invoice_id,
                Invoice.number,
                CreditApplication.amount,
                CreditApplication.applied_at,
            )
            .join(Invoice, Invoice.id == CreditApplication.invoice_id)
            .where(CreditApplication.credit_note_id == note.id)
            .order_by(CreditApplication.sequence)
        )
    ]
    return CreditNoteView(
        note, account.code, invoice.number or "", lead_id, lines, applications, subject
    )


def credited_subject(session: Session, note: CreditNote) -> tuple[str, str]:
    """The credited lead's id ("" for none) and a label of what the credit note is for."""
    if note.lead_id is not None:
        lead = session.get_one(Lead, note.lead_id)
        return lead.external_id, f"lead {lead.external_id} (review {note.review_id})"
    change = session.get_one(SubscriptionChange, note.subscription_change_id)
    return "", change_label(session, change)


def change_label(session: Session, change: SubscriptionChange) -> str:
    """How a credit note names the plan change it credits."""
    codes = [
        session.get_one(Plan, plan_id).code if plan_id is not None else "?"
        for plan_id in (change.from_plan_id, change.to_plan_id)
    ]
    return (
        f"plan change {codes[0]} -> {codes[1]} at {change.requested_at:%Y-%m-%d %H:%M} UTC "
        f"(change {change.id})"
    )
