"""HTTP routes of billing: runs (admin, billing), invoices (read, explain), payments
(admin, billing)."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from leadbill.accounts.models import Account
from leadbill.auth.dependencies import (
    Caller,
    DbSession,
    StandaloneCaller,
    allow,
    session_factory_of,
    visible_account,
)
from leadbill.auth.idempotency import LeadbillRoute
from leadbill.auth.service import STAFF_READERS, Principal, Role
from leadbill.billing.explain import InvoiceExplanation, explain_invoice, line_leads_page
from leadbill.billing.invoices import STATUSES, get_invoice
from leadbill.billing.ledger import ledger_rows, write_ledger
from leadbill.billing.models import Invoice
from leadbill.billing.payments import balance_due, record_payment
from leadbill.billing.schemas import (
    BillingRunCreate,
    BillingRunOut,
    ExplainedLeadOut,
    ExplainedLeadPage,
    InvoiceDetail,
    InvoiceExplanationOut,
    InvoiceOut,
    InvoicePage,
    PaymentIn,
    PaymentOut,
    PaymentRecorded,
)
from leadbill.billing.service import run_billing
from leadbill.console import now
from leadbill.core.periods import HORIZON
from leadbill.documents.files import InvoiceFormat, invoice_file
from leadbill.errors import InvalidInput, NotFound
from leadbill.pagination import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    PageInfo,
    decode_cursor,
    encode_cursor,
    page_info,
)
from leadbill.receivables.service import invoice_overdue_days, overdue_days
from leadbill.reports.service import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from leadbill.schemas import PROBLEM_RESPONSES, Instant, money
from leadbill.settings import Settings

router = APIRouter(tags=["billing"], route_class=LeadbillRoute, responses=PROBLEM_RESPONSES)
READERS = (*STAFF_READERS, Role.CUSTOMER)
BILLERS = (Role.ADMIN, Role.BILLING)
AS_OF_HELP = "count `days_overdue` at this instant (default: now)"


@router.post("/billing-runs", response_model=BillingRunOut)
def create_billing_run(
    body: BillingRunCreate, request: Request, caller: StandaloneCaller
) -> BillingRunOut:
    """Invoice every period that ended by `as_of` (admin, billing); running again adds nothing."""
    allow(caller, *BILLERS)
    if body.as_of > now() + HORIZON:
        # A run issues final invoices for every period ended by as_of: one years ahead
        # would invoice periods that have not happened (and take as long as they are many).
        raise InvalidInput("as_of", "must not be more than a day ahead of the clock")
    result = run_billing(session_factory_of(request), body.as_of)
    return BillingRunOut(
        as_of=result.as_of,
        invoices_issued=result.invoices_issued,
        subscriptions_renewed=result.subscriptions_renewed,
        subscriptions_ended=result.subscriptions_ended,
        invoice_numbers=result.invoice_numbers,
    )


@router.get("/invoices", response_model=InvoicePage)
def list_invoices(
    session: DbSession,
    caller: Caller,
    account: str | None = None,
    status: str | None = None,
    cursor: str | None = None,
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
    as_of: Instant | None = Query(None, description=AS_OF_HELP),
) -> InvoicePage:
    """Invoices, oldest first (by id); a customer key sees only its account's."""
    allow(caller, *READERS)
    after = decode_cursor(cursor, int)
    query = (
        select(Invoice, Account.code)
        .join(Account, Account.id == Invoice.account_id)
        .order_by(Invoice.id)
        .limit(limit)
    )
    if account is not None:
        query = query.where(
            Invoice.account_id == visible_account(session, caller, account, *READERS).id
        )
    elif caller.role is Role.CUSTOMER:
        query = query.where(Invoice.account_id == caller.account_id)
    if status is not None:
        if status not in STATUSES:
            raise InvalidInput("status", f"{status!r} is not one of {', '.join(STATUSES)}")
        query = query.where(Invoice.status == status)
    if after is not None:
        query = query.where(Invoice.id > after)
    rows = [(invoice, code) for invoice, code in session.execute(query)]
    late = overdue_days(session, [invoice for invoice, _code in rows], as_of or now())
    return InvoicePage(
        data=[
            InvoiceOut(**InvoiceOut.fields(invoice, code, late[invoice.id]))
            for invoice, code in rows
        ],
        page=page_info(rows, limit, lambda row: row[0].id),
    )


def _invoice(session: Session, caller: Principal, number: str) -> tuple[Invoice, str]:
    scope = caller.account_id if caller.role is Role.CUSTOMER else None
    invoice = get_invoice(session, number, account_id=scope)
    return invoice, session.get_one(Account, invoice.account_id).code


def _label(invoice: Invoice) -> str:
    return invoice.number or str(invoice.id)


@router.get("/invoices/{number}", response_model=InvoiceDetail)
def read_invoice(
    number: str,
    session: DbSession,
    caller: Caller,
    as_of: Instant | None = Query(None, description=AS_OF_HELP),
) -> InvoiceDetail:
    """An invoice by number (or id for a draft), with its lines, payments and days overdue."""
    if caller.role is not Role.CUSTOMER:
        allow(caller, *READERS)
    invoice, code = _invoice(session, caller, number)
    days_overdue = invoice_overdue_days(session, invoice, as_of or now())
    return InvoiceDetail.of(session, invoice, code, days_overdue)


@router.post("/invoices/{number}/payments", status_code=201, response_model=PaymentRecorded)
def create_payment(
    number: str, body: PaymentIn, session: DbSession, caller: Caller
) -> PaymentRecorded:
    """Record money received against an invoice (admin, billing); same reference, same payment."""
    if caller.role is not Role.CUSTOMER:
        allow(caller, *BILLERS)
    invoice, _code = _invoice(session, caller, number)
    allow(caller, *BILLERS)
    payment = record_payment(
        session,
        invoice=invoice,
        amount=body.amount,
        currency=body.currency,
        reference=body.reference,
        received_at=body.received_at or now(),
        method=body.method,
        provider_reference=body.provider_reference,
        fee=body.fee,
    )
    return PaymentRecorded(
        payment=PaymentOut.of(payment, _label(invoice)),
        invoice_status=invoice.status,
        balance_due=money(balance_due(session, invoice), invoice.currency),
    )


def _explanation(session: Session, caller: Principal, number: str) -> InvoiceExplanation:
    if caller.role is not Role.CUSTOMER:
        allow(caller, *READERS)
    scope = caller.account_id if caller.role is Role.CUSTOMER else None
    return explain_invoice(session, number, account_id=scope)


@router.get("/invoices/{number}/explain", response_model=InvoiceExplanationOut)
def explain(number: str, session: DbSession, caller: Caller) -> InvoiceExplanationOut:
    """Each line of an invoice explained: the fee, the seat fee, and the leads behind overage."""
    return InvoiceExplanationOut.of(_explanation(session, caller, number))


@router.get("/invoices/{number}/lines/{position}/leads", response_model=ExplainedLeadPage)
def explain_line_leads(
    number: str,
    position: Annotated[int, Path(ge=0, le=100_000)],
    session: DbSession,
    caller: Caller,
    cursor: str | None = None,
    limit: int = Query(DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE),
) -> ExplainedLeadPage:
    """The leads behind an overage line, by lead id: counted or not, why, and which are
    the overage (the last counted ones, in counting order)."""
    explained = _explanation(session, caller, number)
    line = next((line for line in explained.lines if line.position == position), None)
    if line is None:
        raise NotFound(f"invoice {number} has no line {position}")
    leads, next_after = line_leads_page(
        session, line, after=decode_cursor(cursor, str), limit=limit
    )
    return ExplainedLeadPage(
        invoice=explained.invoice_label,
        position=position,
        data=[
            ExplainedLeadOut(
                lead_id=lead.lead_id,
                seat=lead.seat_code,
                counted=lead.counted,
                reason=lead.reason,
                reason_text=lead.reason_text,
                counted_at=lead.counted_at,
                overage=lead.overage,
            )
            for lead in leads
        ],
        page=PageInfo(
            limit=limit, next_cursor=encode_cursor(next_after) if next_after is not None else None
        ),
    )


LEDGER_READERS = (Role.ADMIN, Role.BILLING, Role.VIEWER)


@router.get(
    "/exports/ledger",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "The ledger as CSV"}},
)
def export_ledger(
    session: DbSession,
    caller: Caller,
    start: Annotated[
        datetime, Query(alias="from", description="first instant, RFC 3339 with an offset")
    ],
    end: Annotated[datetime, Query(alias="to", description="end instant (excluded)")],
    entity: Annotated[str | None, Query(max_length=32, description="one billing entity")] = None,
) -> Response:
    """Invoices, credit notes and payments of [from, to) as CSV, one row a document line
    (admin, billing, viewer); the columns are those of `leadbill export ledger`."""
    allow(caller, *LEDGER_READERS)
    buffer = io.StringIO()
    write_ledger(buffer, ledger_rows(session, start, end, entity=entity))
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="ledger.csv"'},
    )


@router.get(
    "/invoices/{number}/pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "The invoice's PDF"}},
)
def invoice_pdf(
    number: Annotated[str, Path(max_length=32)],
    request: Request,
    session: DbSession,
    caller: Caller,
    format: Annotated[
        InvoiceFormat,
        Query(description="pdf, or facturx: the PDF with its EN 16931 XML embedded"),
    ] = InvoiceFormat.PDF,
) -> Response:
    """A finalized invoice as a PDF, or as a Factur-X e-invoice (409 when it has no issuer)."""
    allow(caller, *READERS)
    invoice, _label_text = _invoice(session, caller, number)
    settings = getattr(request.app.state, "portal_settings", None) or Settings.from_env()
    content, name = invoice_file(
        session,
        str(invoice.number or number),
        invoice.account_id,
        seller=settings.operator_name,
        file_format=format,
    )
    return Response(
        content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
