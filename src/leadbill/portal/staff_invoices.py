"""Staff page of invoices: every account's, with due dates and days overdue, and writing
an open invoice off as uncollectible.

Every staff role reads the list, as through `GET /v1/invoices`; admins and billing
staff mark an invoice uncollectible with a reason, as through `POST
/v1/invoices/{number}/uncollectible`. A refused write-off shows the list again with
the form open and the reason as it was typed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from leadbill.accounts.models import Account
from leadbill.accounts.service import get_account
from leadbill.auth.dependencies import DbSession
from leadbill.billing.invoices import STATUSES, get_invoice
from leadbill.billing.models import Invoice
from leadbill.billing.payments import balances_due
from leadbill.errors import Conflict, InvalidInput
from leadbill.portal.paging import keyset_page
from leadbill.portal.permissions import MARKS_UNCOLLECTIBLE, RECORDS_PAYMENTS, may, staff_only
from leadbill.portal.web import (
    PortalRoute,
    SignedIn,
    Visitor,
    check_csrf,
    clock_of,
    redirect,
    render,
    set_flash,
)
from leadbill.receivables.service import REASON_LIMIT, mark_uncollectible, overdue_days

router = APIRouter(route_class=PortalRoute, include_in_schema=False)


@dataclass(frozen=True, slots=True)
class WriteOffForm:
    """A refused write-off: the invoice, what was typed, and why it was refused."""

    number: str
    reason: str
    error: str
    status: int  # 422 for a bad reason, 409 for an invoice that cannot be written off


def _filters(account: str, status: str) -> str:
    return urlencode({"account": account, "status": status})


def _invoices_page(
    request: Request,
    visitor: Visitor,
    db: Session,
    *,
    account: str = "",
    status: str = "",
    before: int | None = None,
    refused: WriteOffForm | None = None,
) -> Response:
    query = (
        select(Invoice, Account.code)
        .join(Account, Account.id == Invoice.account_id)
        .where(Invoice.number.is_not(None))
        .order_by(Invoice.id.desc())
    )
    if before is not None:
        query = query.where(Invoice.id < before)
    if account:
        query = query.where(Invoice.account_id == get_account(db, account.strip()).id)
    if status:
        if status not in STATUSES:
            raise InvalidInput("status", f"{status!r} is not one of {', '.join(STATUSES)}")
        query = query.where(Invoice.status == status)
    rows, more = keyset_page(db, query)
    invoices = [invoice for invoice, _code in rows]
    balances = balances_due(db, invoices)
    late = overdue_days(db, invoices, clock_of(request))
    return render(
        request,
        "staff_invoices.html",
        visitor,
        db,
        status_code=refused.status if refused else 200,
        nav="staff-invoices",
        title="Invoices",
        rows=[(invoice, code, balances[invoice.id], late[invoice.id]) for invoice, code in rows],
        older=rows[-1][0].id if more else None,
        account=account,
        status=status,
        statuses=[s for s in STATUSES if s != "draft"],
        accounts=list(db.scalars(select(Account.code).order_by(Account.code))),
        can_pay=may(visitor, RECORDS_PAYMENTS),
        can_write_off=may(visitor, MARKS_UNCOLLECTIBLE),
        reason_limit=REASON_LIMIT,
        refused=refused,
    )


@router.get("/staff/invoices")
def invoices(
    request: Request,
    visitor: SignedIn,
    db: DbSession,
    account: Annotated[str, Query()] = "",
    status: Annotated[str, Query()] = "",
    before: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    """Every account's finalized invoices, newest first, by account and status, a page at
    a time (`before`: the id of the last invoice of the previous page), each with its due
    date and, when overdue, the days past it."""
    staff_only(visitor)
    return _invoices_page(request, visitor, db, account=account, status=status, before=before)


@router.post("/staff/invoices/{number}/uncollectible")
def write_off(
    request: Request,
    number: str,
    visitor: SignedIn,
    db: DbSession,
    reason: Annotated[str, Form()] = "",
    account: Annotated[str, Form()] = "",
    status: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Mark an open invoice uncollectible (admin, billing): it leaves the receivables and
    stays in the ledger; the list keeps its filters."""
    check_csrf(visitor, csrf_token)
    visitor.require(*MARKS_UNCOLLECTIBLE)
    invoice = get_invoice(db, number)
    try:
        with db.begin_nested():
            mark_uncollectible(db, invoice, reason, clock_of(request))
    except (InvalidInput, Conflict) as error:
        text = f"{error.field}: {error.reason}" if isinstance(error, InvalidInput) else error.detail
        db.refresh(invoice)
        return _invoices_page(
            request,
            visitor,
            db,
            account=account,
            status=status,
            refused=WriteOffForm(number, reason, text, error.http_status),
        )
    set_flash(
        db,
        visitor,
        f"Invoice {invoice.number} is uncollectible: it left the receivables and stays in "
        "the ledger; a payment recorded later still counts.",
    )
    return redirect(f"/portal/staff/invoices?{_filters(account, status)}")
