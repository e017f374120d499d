"""Staff pages of billing: runs, credit notes, payments (invoices: staff_invoices).

Every staff role reads them, as through the API; admins and billing staff run
billing and record payments (`POST /v1/billing-runs`, `POST .../payments`).
A billing run commits batch by batch in transactions of its own, so its page
reads the visitor in a short transaction and holds none open around the run.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from leadbill.accounts.models import Account
from leadbill.auth.dependencies import DbSession, session_factory_of
from leadbill.billing.invoices import get_invoice
from leadbill.billing.models import Invoice, Payment
from leadbill.billing.payments import record_payment
from leadbill.billing.service import BillingRunResult, run_billing
from leadbill.core.periods import HORIZON
from leadbill.credit_notes.models import CreditNote
from leadbill.errors import InvalidInput
from leadbill.portal.paging import instant_cursor, keyset_page, older_than
from leadbill.portal.permissions import RECORDS_PAYMENTS, RUNS_BILLING, may, staff_only
from leadbill.portal.web import (
    PortalRoute,
    SignedIn,
    Visitor,
    check_csrf,
    clock_of,
    current_visitor,
    instant_field,
    money,
    read_instant,
    redirect,
    render,
    set_flash,
)

router = APIRouter(route_class=PortalRoute, include_in_schema=False)

RECENT_RUN_INVOICES = 25


def _visitor_outside_transaction(request: Request) -> Visitor:
    """The signed-in visitor, read in a short transaction of its own."""
    with session_factory_of(request)() as session, session.begin():
        return current_visitor(request, session)


StandaloneVisitor = Annotated[Visitor, Depends(_visitor_outside_transaction)]


@dataclass(frozen=True, slots=True)
class IssuedInvoice:
    """One invoice a billing run issued, with its account."""

    invoice: Invoice
    account_code: str


def _issued(db: Session, invoice_ids: list[int]) -> list[IssuedInvoice]:
    if not invoice_ids:
        return []
    rows = db.execute(
        select(Invoice, Account.code)
        .join(Account, Account.id == Invoice.account_id)
        .where(Invoice.id.in_(invoice_ids))
        .order_by(Account.code, Invoice.subscription_id, Invoice.boundary_index)
    )
    return [IssuedInvoice(invoice, code) for invoice, code in rows]


def _totals(invoices: list[Invoice]) -> dict[str, Decimal]:
    """Sum of invoice totals per currency."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for invoice in invoices:
        totals[invoice.currency] += invoice.total
    return dict(sorted(totals.items()))


def _runs_page(
    request: Request,
    visitor: Visitor,
    db: Session,
    *,
    result: BillingRunResult | None = None,
    as_of_text: str = "",
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    issued = _issued(db, result.invoice_ids) if result else []
    recent = [
        IssuedInvoice(invoice, code)
        for invoice, code in db.execute(
            select(Invoice, Account.code)
            .join(Account, Account.id == Invoice.account_id)
            .where(Invoice.kind == "period", Invoice.boundary_index > 0)
            .order_by(Invoice.id.desc())
            .limit(RECENT_RUN_INVOICES)
        )
    ]
    clock = clock_of(request)
    return render(
        request,
        "staff_billing_runs.html",
        visitor,
        db,
        status_code=status_code,
        nav="staff-billing-runs",
        title="Billing runs",
        can_run=may(visitor, RUNS_BILLING),
        result=result,
        issued=issued,
        totals=_totals([row.invoice for row in issued]),
        recent=recent,
        as_of_text=as_of_text or instant_field(clock, visitor.time_zone),
        error=error,
    )


@router.get("/staff/billing-runs")
def billing_runs(request: Request, visitor: SignedIn, db: DbSession) -> Response:
    """The form to run billing (admin, billing) and the invoices runs issued lately."""
    staff_only(visitor)
    return _runs_page(request, visitor, db)


@router.post("/staff/billing-runs")
def run(
    request: Request,
    visitor: StandaloneVisitor,
    as_of: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Invoice every period ended by `as_of`; the same as_of again issues nothing more."""
    check_csrf(visitor, csrf_token)
    visitor.require(*RUNS_BILLING)
    factory = session_factory_of(request)
    try:
        instant = read_instant(as_of, visitor.time_zone, "as_of")
        if instant > clock_of(request) + HORIZON:
            raise InvalidInput("as_of", "must not be more than a day ahead of the clock")
    except InvalidInput as error:
        with factory() as db, db.begin():
            return _runs_page(
                request,
                visitor,
                db,
                as_of_text=as_of,
                error=f"{error.field}: {error.reason}",
                status_code=422,
            )
    result = run_billing(factory, instant)
    with factory() as db, db.begin():
        return _runs_page(request, visitor, db, result=result, as_of_text=as_of)


def _paid(db: Session, invoice_ids: list[int]) -> dict[int, Decimal]:
    """What was paid on each invoice (summed as Decimals, as billing.payments does)."""
    paid: dict[int, Decimal] = defaultdict(Decimal)
    if invoice_ids:
        for invoice_id, amount in db.execute(
            select(Payment.invoice_id, Payment.amount).where(Payment.invoice_id.in_(invoice_ids))
        ):
            paid[invoice_id] += amount
    return paid


def _balance(invoice: Invoice, paid: dict[int, Decimal]) -> Decimal:
    if invoice.status in ("void", "paid"):
        return Decimal(0)
    return invoice.total - paid.get(invoice.id, Decimal(0))


@router.get("/staff/credit-notes")
def credit_notes(
    request: Request,
    visitor: SignedIn,
    db: DbSession,
    before: Annotated[str, Query()] = "",
) -> Response:
    """The credit notes, newest first, with the invoice each corrects, a page at a time
    (`before`: the link of the previous page)."""
    staff_only(visitor)
    query = (
        select(CreditNote, Account.code, Invoice.number)
        .join(Account, Account.id == CreditNote.account_id)
        .join(Invoice, Invoice.id == CreditNote.invoice_id)
        .order_by(CreditNote.issued_at.desc(), CreditNote.id.desc())
    )
    if before:
        query = query.where(older_than(before, CreditNote.issued_at, CreditNote.id))
    rows, more = keyset_page(db, query)
    last = rows[-1][0] if more else None
    return render(
        request,
        "staff_credit_notes.html",
        visitor,
        db,
        nav="staff-credit-notes",
        title="Credit notes",
        rows=rows,
        older=instant_cursor(last.issued_at, last.id) if last else None,
    )


def _payments_page(
    request: Request,
    visitor: Visitor,
    db: Session,
    *,
    account: str = "",
    chosen: str = "",
    before: str = "",
    form: dict[str, str] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    query = (
        select(Payment, Account.code, Invoice.number)
        .join(Account, Account.id == Payment.account_id)
        .join(Invoice, Invoice.id == Payment.invoice_id)
        .order_by(Payment.received_at.desc(), Payment.id.desc())
    )
    if before:
        query = query.where(older_than(before, Payment.received_at, Payment.id))
    payments, more = keyset_page(db, query)
    last = payments[-1][0] if more else None
    can_pay = may(visitor, RECORDS_PAYMENTS)
    payer = _payer(db, account, chosen) if can_pay else None
    return render(
        request,
        "staff_payments.html",
        visitor,
        db,
        status_code=status_code,
        nav="staff-payments",
        title="Payments",
        payments=payments,
        older=instant_cursor(last.received_at, last.id) if last else None,
        can_pay=can_pay,
        account=payer.code if payer else account.strip(),
        payable=_payable(db, payer) if payer else [],
        chosen=chosen,
        form=form or {},
        error=error,
    )


def _payer(db: Session, account: str, invoice: str) -> Account | None:
    """The account a payment is recorded for: the one named, else the chosen invoice's."""
    if account.strip():
        found = db.scalar(select(Account).where(Account.code == account.strip()))
        if found is None:
            raise InvalidInput("account", f"{account.strip()!r} is not an account code")
        return found
    if invoice.strip():
        return db.scalar(
            select(Account)
            .join(Invoice, Invoice.account_id == Account.id)
            .where(Invoice.number == invoice.strip())
        )
    return None


def _payable(db: Session, account: Account) -> list[tuple[Invoice, Decimal]]:
    """The account's invoices that take payments, oldest first, each with its balance due:
    the open ones, and those written off as uncollectible (the money may come after all)."""
    open_ = list(
        db.scalars(
            select(Invoice)
            .where(
                Invoice.account_id == account.id,
                Invoice.status.in_(("open", "uncollectible")),
            )
            .order_by(Invoice.id)
        )
    )
    paid = _paid(db, [invoice.id for invoice in open_])
    return [(invoice, _balance(invoice, paid)) for invoice in open_]


@router.get("/staff/payments")
def payments(
    request: Request,
    visitor: SignedIn,
    db: DbSession,
    account: Annotated[str, Query(max_length=64)] = "",
    invoice: Annotated[str, Query(max_length=64)] = "",
    before: Annotated[str, Query()] = "",
) -> Response:
    """Payments received, newest first, a page at a time (`before`: the cursor of the
    previous page's last payment). Admins and billing staff record one here: they choose
    the account, then one of its open invoices (`invoice` chooses both)."""
    staff_only(visitor)
    try:
        return _payments_page(request, visitor, db, account=account, chosen=invoice, before=before)
    except InvalidInput as error:
        return _payments_page(
            request,
            visitor,
            db,
            before=before,
            error=f"{error.field}: {error.reason}",
            form={"account": account},
            status_code=422,
        )


@router.post("/staff/payments")
def pay(
    request: Request,
    visitor: SignedIn,
    db: DbSession,
    account: Annotated[str, Form()] = "",
    invoice: Annotated[str, Form()] = "",
    amount: Annotated[str, Form()] = "",
    reference: Annotated[str, Form()] = "",
    received_at: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Record money received against an open invoice (admin, billing); the invoice must
    be the chosen account's when one was chosen."""
    check_csrf(visitor, csrf_token)
    visitor.require(*RECORDS_PAYMENTS)
    form = {"amount": amount, "reference": reference, "received_at": received_at}
    try:
        if not invoice.strip():
            raise InvalidInput("invoice", "choose the invoice the payment is for")
        payer = _payer(db, account, "")
        target = get_invoice(db, invoice.strip())
        if payer is not None and target.account_id != payer.id:
            raise InvalidInput("invoice", f"{invoice.strip()} is not an invoice of {payer.code}")
        if not amount.strip():
            raise InvalidInput("amount", "is required")
        at = (
            read_instant(received_at, visitor.time_zone, "received_at")
            if received_at.strip()
            else clock_of(request)
        )
        payment = record_payment(
            db,
            invoice=target,
            amount=amount.strip(),
            currency=target.currency,
            reference=reference,
            received_at=at,
        )
    except InvalidInput as error:
        return _payments_page(
            request,
            visitor,
            db,
            account="" if error.field == "account" else account,
            chosen=invoice,
            form=form,
            error=f"{error.field}: {error.reason}",
            status_code=422,
        )
    set_flash(
        db,
        visitor,
        f"Payment {payment.reference} of {money(payment.amount, payment.currency)} recorded "
        f"against {target.number}; the invoice is {target.status}.",
    )
    return redirect("/portal/staff/payments")
