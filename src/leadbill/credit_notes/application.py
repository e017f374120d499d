"""Applying credit notes: the billing run puts unapplied credit on the next invoice (R15, R7).

Credit notes of approved reviews and of immediate downgrades are applied alike.

Each invoice the run issues for an account takes that account's credit notes
issued at or before the invoice's boundary, oldest first, as negative lines,
up to the invoice's total: an invoice never goes below zero, and what is left of
a credit note is carried forward to the account's following invoice.

Exactly once is the database's: the billing run holds the account's
subscription locked while it bills, and every application of a credit note
carries its sequence number, unique per credit note, so that a second run
applying the same credit at once fails on the constraint and takes its batch
again, finding the credit applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from leadbill.billing.boundaries import Boundary
from leadbill.billing.models import Invoice
from leadbill.core.money import Money
from leadbill.core.rating import Line, LineKind, invoice_total
from leadbill.core.reviews import credit_to_apply
from leadbill.credit_notes.models import CreditApplication, CreditNote
from leadbill.leads.models import Lead
from leadbill.subscriptions.models import SubscriptionChange

CHUNK = 1000


@dataclass(slots=True)
class OpenCredit:
    """A credit note with something left to apply."""

    id: int
    account_id: int
    number: str
    currency: str
    issued_at: datetime
    invoice_number: str
    subject: str  # "lead L-1" or "plan change on 2026-04-11"
    remaining: Money
    next_sequence: int


@dataclass(frozen=True, slots=True)
class PendingApplication:
    """An application decided for a boundary's invoice, written once the invoice has its id."""

    subscription_id: int
    boundary_index: int
    row: dict[str, Any]


def open_credits(session: Session, account_ids: list[int]) -> dict[int, list[OpenCredit]]:
    """Per account, its credit notes not yet fully applied, oldest first (locked on PostgreSQL).

    Amounts are summed in Python, as Decimals: SQLite keeps money as text and would
    sum it as floats. An account has few credit notes (one per review approved
    after invoicing, one per invoice an immediate downgrade credits), so reading
    them all is cheap.
    """
    found: dict[int, list[OpenCredit]] = {}
    postgresql = session.get_bind().dialect.name == "postgresql"
    for offset in range(0, len(account_ids), CHUNK):
        chunk = account_ids[offset : offset + CHUNK]
        query = (
            select(CreditNote, Invoice.number, Lead.external_id, SubscriptionChange.requested_at)
            .join(Invoice, Invoice.id == CreditNote.invoice_id)
            .outerjoin(Lead, Lead.id == CreditNote.lead_id)
            .outerjoin(
                SubscriptionChange, SubscriptionChange.id == CreditNote.subscription_change_id
            )
            .where(CreditNote.account_id.in_(chunk))
            .order_by(CreditNote.issued_at, CreditNote.id)
        )
        if postgresql:
            query = query.with_for_update(of=CreditNote)
        rows = session.execute(query).all()
        if not rows:
            continue
        applied: dict[int, list[Decimal]] = {}
        ids = [row[0].id for row in rows]
        for note_id, amount in session.execute(
            select(CreditApplication.credit_note_id, CreditApplication.amount).where(
                CreditApplication.credit_note_id.in_(ids)
            )
        ):
            applied.setdefault(int(note_id), []).append(amount)
        for note, invoice_number, lead_label, changed_at in rows:
            used = applied.get(note.id, [])
            remaining = Money(note.total - sum(used, Decimal(0)), note.currency)
            if remaining.amount <= 0:
                continue
            found.setdefault(note.account_id, []).append(
                OpenCredit(
                    id=note.id,
                    account_id=note.account_id,
                    number=note.number,
                    currency=note.currency,
                    issued_at=note.issued_at,
                    invoice_number=invoice_number or "",
                    subject=(
                        f"lead {lead_label}"
                        if lead_label is not None
                        else f"plan change on {changed_at:%Y-%m-%d}"
                    ),
                    remaining=remaining,
                    next_sequence=len(used) + 1,
                )
            )
    return found


def credit_line(credit: OpenCredit, amount: Money) -> Line:
    """The negative invoice line that applies `amount` of a credit note."""
    return Line(
        kind=LineKind.CREDIT,
        description=(
            f"Credit note {credit.number} (invoice {credit.invoice_number}, {credit.subject})"
        ),
        quantity=1,
        unit_price=-amount,
        amount=-amount,
    )


def apply_credit_notes(
    session: Session, rated: list[tuple[Boundary, list[Line]]]
) -> tuple[list[tuple[Boundary, list[Line]]], list[PendingApplication]]:
    """Add each account's open credit to its invoices of this batch, in time order.

    Returns the lines with the credit lines appended and the applications to
    record once the invoices have ids (`record_applications`).
    """
    accounts = sorted({b.subscription.account_id for b, _lines in rated})
    credits = open_credits(session, accounts) if accounts else {}
    if not credits:
        return rated, []
    result: list[tuple[Boundary, list[Line]]] = []
    pending: list[PendingApplication] = []
    for b, lines in rated:
        notes = credits.get(b.subscription.account_id, [])
        lines = list(lines)
        for credit in notes:
            if credit.remaining.amount <= 0 or credit.issued_at > b.at:
                continue
            if credit.currency != b.subscription.currency:
                continue
            total = invoice_total(lines, b.subscription.currency)
            amount = credit_to_apply(credit.remaining, total)
            if amount.amount <= 0:
                break
            lines.append(credit_line(credit, amount))
            credit.remaining = credit.remaining - amount
            pending.append(
                PendingApplication(
                    b.subscription.id,
                    b.index,
                    {
                        "account_id": b.subscription.account_id,
                        "credit_note_id": credit.id,
                        "sequence": credit.next_sequence,
                        "amount": amount.amount,
                        "remaining_after": credit.remaining.amount,
                        "applied_at": b.at,
                    },
                )
            )
            credit.next_sequence += 1
        result.append((b, lines))
    return result, pending


def record_applications(
    session: Session, pending: list[PendingApplication], invoice_ids: dict[tuple[int, int], int]
) -> None:
    """Write the applications with their invoice ids (one bulk insert)."""
    if not pending:
        return
    session.execute(
        insert(CreditApplication),
        [
            {**p.row, "invoice_id": invoice_ids[(p.subscription_id, p.boundary_index)]}
            for p in pending
        ],
    )
