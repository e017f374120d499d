"""Invoices and credit notes as documents: the invoice page's data, PDF downloads, payments.

The invoice page and its PDF read the same `InvoiceDocument`, so both show the
same lines, payments, balance and credit notes. A customer reaches only their
own account's documents: another account's invoice or credit note answers 404,
as if it did not exist. Staff reach every account's.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from leadbill.accounts.models import Account
from leadbill.auth.dependencies import DbSession
from leadbill.billing.models import Invoice
from leadbill.billing.payments import list_payments
from leadbill.credit_notes.service import get_credit_note
from leadbill.documents import pdf
from leadbill.documents.files import InvoiceFormat, invoice_file
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


def _account_scope(visitor: Visitor, db: Session) -> int | None:
    """The account a visitor may read (None: staff, every account)."""
    return None if visitor.is_staff else visitor.customer_account(db).id


def _pdf_response(content: bytes, name: str) -> Response:
    return Response(
        content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/invoices/{number}/pdf")
def invoice_pdf(
    request: Request,
    number: str,
    visitor: SignedIn,
    db: DbSession,
    format: InvoiceFormat = InvoiceFormat.PDF,
) -> Response:
    """The invoice as a PDF with the figures of its page, or as Factur-X (?format=facturx)."""
    content, name = invoice_file(
        db,
        number,
        _account_scope(visitor, db),
        seller=settings_of(request).operator_name,
        file_format=format,
    )
    return _pdf_response(content, name)


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
