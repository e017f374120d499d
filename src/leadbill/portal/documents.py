"""Invoices and credit notes as documents: the invoice page's data, PDF downloads, payments.

The invoice page and its PDF read the same `InvoiceDocument`, so both show the
same lines, payments, balance and credit notes. A customer reaches only their
own account's documents: another account's invoice or credit note answers 404,
as if it did not exist. Staff reach every account's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from fastapi import APIRouter, Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from leadbill.accounts.models import Account
from leadbill.auth.dependencies import DbSession
from leadbill.billing.invoices import get_invoice, invoice_lines
from leadbill.billing.models import Invoice, InvoiceLine, Payment
from leadbill.billing.payments import balance_due, list_payments, payments_of
from leadbill.credit_notes.models import CreditNote, CreditNoteLine
from leadbill.credit_notes.service import credited_lines, get_credit_note, list_credit_notes
from leadbill.errors import NotFound
from leadbill.portal import pdf
from leadbill.portal.web import (
    COOKIE_PATH,
    PortalRoute,
    SignedIn,
    Visitor,
    redirect,
    render,
    settings_of,
)

router = APIRouter(route_class=PortalRoute, include_in_schema=False)


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
    def period(self) -> tuple[datetime, datetime] | None:
        """From the earliest start to the latest end of the lines' periods (None: no period)."""
        starts = [line.period_start for line in self.lines if line.period_start is not None]
        ends = [line.period_end for line in self.lines if line.period_end is not None]
        return (min(starts), max(ends)) if starts and ends else None


def _account_scope(visitor: Visitor, db: Session) -> int | None:
    """The account a visitor may read (None: staff, every account)."""
    return None if visitor.is_staff else visitor.customer_account(db).id


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


def _pdf_response(content: bytes, name: str) -> Response:
    return Response(
        content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/invoices/{number}/pdf")
def invoice_pdf(request: Request, number: str, visitor: SignedIn, db: DbSession) -> Response:
    """The invoice as a PDF, with the figures of its page."""
    document = invoice_document(db, number, _account_scope(visitor, db))
    content = pdf.invoice_pdf(document, seller=settings_of(request).operator_name)
    return _pdf_response(content, f"{document.invoice.number}.pdf")


@router.get("/credit-notes/{number}/pdf")
def credit_note_pdf(request: Request, number: str, visitor: SignedIn, db: DbSession) -> Response:
    """A credit note as a PDF: what it credits, its lines and where it was applied."""
    view = get_credit_note(db, number, account_id=_account_scope(visitor, db))
    account = db.get_one(Account, view.note.account_id)
    content = pdf.credit_note_pdf(view, account, seller=settings_of(request).operator_name)
    return _pdf_response(content, f"{view.note.number}.pdf")


@router.get("/payments")
def payments(request: Request, visitor: SignedIn, db: DbSession) -> Response:
    """Every payment of the account, newest first, with the invoice it paid (staff: their
    list, paged)."""
    if visitor.is_staff:
        return redirect(f"{COOKIE_PATH}/staff/payments")
    rows = list(reversed(list_payments(db, account_id=visitor.customer_account(db).id)))
    ids = sorted({payment.invoice_id for payment in rows})
    numbers: dict[int, str | None] = {}
    for start in range(0, len(ids), 500):
        query = select(Invoice.id, Invoice.number).where(Invoice.id.in_(ids[start : start + 500]))
        numbers.update((id_, number) for id_, number in db.execute(query))
    return render(
        request,
        "payments.html",
        visitor,
        db,
        nav="payments",
        title="Payments",
        payments=rows,
        numbers=numbers,
    )
