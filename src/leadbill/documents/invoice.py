"""An invoice as a document: everything its page, its PDF and its e-invoice show.

The invoice page and its PDF read the same `InvoiceDocument`, so both show the
same lines, taxes, payments, balance and credit notes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from leadbill.accounts.models import Account
from leadbill.billing.instructions import PaymentInstructions, payment_instructions
from leadbill.billing.invoices import get_invoice, invoice_lines, stored_lines
from leadbill.billing.models import Invoice, InvoiceLine, Payment
from leadbill.billing.payments import balance_due, payments_of
from leadbill.core.tax import DocumentTotals, document_totals
from leadbill.credit_notes.models import CreditNote, CreditNoteLine
from leadbill.credit_notes.service import credited_lines, list_credit_notes
from leadbill.errors import NotFound


@dataclass(frozen=True, slots=True)
class InvoiceDocument:
    """A finalized invoice with everything its page and its PDF show."""

    invoice: Invoice
    account: Account
    lines: list[InvoiceLine]
    payments: list[Payment]
    balance: Decimal
    credit_notes: list[CreditNote]
    credited: list[CreditNoteLine]

    @property
    def totals(self) -> DocumentTotals:
        """Net, tax by rate, gross and the credit notes applied, from the stored lines."""
        return document_totals(
            stored_lines(self.lines, self.invoice.currency), self.invoice.currency
        )

    @property
    def instructions(self) -> PaymentInstructions | None:
        """How to pay the balance by bank transfer (None: the issuer had no bank account)."""
        return payment_instructions(self.invoice, self.balance)

    @property
    def paid(self) -> Decimal:
        """What payments have covered so far."""
        return sum((payment.amount for payment in self.payments), Decimal(0))

    @property
    def period(self) -> tuple[datetime, datetime] | None:
        """From the earliest start to the latest end of the lines' periods (None: no period)."""
        starts = [line.period_start for line in self.lines if line.period_start is not None]
        ends = [line.period_end for line in self.lines if line.period_end is not None]
        return (min(starts), max(ends)) if starts and ends else None


def invoice_document(db: Session, number: str, account_id: int | None) -> InvoiceDocument:
    """A finalized invoice by number, within `account_id` when given; drafts are NotFound."""
    found = get_invoice(db, number, account_id=account_id)
    if found.status == "draft" or found.number is None:
        raise NotFound(f"invoice {number!r} does not exist")
    notes = [
        note
        for note in list_credit_notes(db, account_id=found.account_id)
        if note.invoice_id == found.id
    ]
    return InvoiceDocument(
        invoice=found,
        account=db.get_one(Account, found.account_id),
        lines=invoice_lines(db, found.id),
        payments=payments_of(db, found.id),
        balance=balance_due(db, found),
        credit_notes=notes,
        credited=credited_lines(db, found.id),
    )
