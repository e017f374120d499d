"""Customer pages: dashboard, invoices, call report, reviews. Always the user's own account.

Every figure comes from the services the API and CLI use: the billing summary,
the call report, the invoices, the review flow. Another account's invoice or
lead answers 404, as if it did not exist.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import StreamingResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from leadbill.accounts.models import Account
from leadbill.auth.dependencies import DbSession, session_factory_of
from leadbill.billing.invoices import get_invoice, invoice_lines, list_invoices
from leadbill.billing.payments import balance_due, payments_of
from leadbill.core.billability import NON_BILLABLE_REASONS, REASON_TEXT
from leadbill.core.reviews import ReviewFacts, eligibility
from leadbill.credit_notes.service import credited_lines, list_credit_notes
from leadbill.errors import NotFound
from leadbill.portal.repository import page_review_facts
from leadbill.portal.usage import chart, daily_counts
from leadbill.portal.web import (
    PortalRoute,
    SignedIn,
    check_csrf,
    clock_of,
    redirect,
    render,
    set_flash,
)
from leadbill.reports.commands import CALL_REPORT_COLUMNS, call_report_csv_row
from leadbill.reports.service import (
    ReportScope,
    billing_summary,
    call_report_page,
    iter_call_report,
    report_scope,
)
from leadbill.reviews.calendar import review_config
from leadbill.reviews.service import review_queue, submit_review

router = APIRouter(route_class=PortalRoute, include_in_schema=False)

# The reasons a customer may give (R10): every non-billable reason of the fixed vocabulary.
REVIEW_REASONS = [
    (reason.value, REASON_TEXT[reason].removeprefix("not billable: "))
    for reason in NON_BILLABLE_REASONS
]
CALLS_PAGE_SIZE = 50


@router.get("/dashboard")
def dashboard(request: Request, visitor: SignedIn, db: DbSession) -> Response:
    """Plan, period, counted leads against the allowance, thresholds, projected cost."""
    account = visitor.customer_account(db)
    as_of = clock_of(request)
    summary = billing_summary(db, account, as_of)
    scope = report_scope(db, account, as_of=as_of)
    days = daily_counts(
        db,
        account_id=account.id,
        subscription_id=scope.subscription_id,
        time_zone=account.time_zone,
        summary=summary,
        policy=scope.plan.counting_policy,
    )
    return render(
        request,
        "dashboard.html",
        visitor,
        db,
        nav="dashboard",
        title="Dashboard",
        account=account,
        summary=summary,
        days=days,
        chart=chart(days, summary.included_leads),
        used_percent=(
            round(100 * summary.counted_leads / summary.included_leads)
            if summary.included_leads
            else None
        ),
    )


@router.get("/invoices")
def invoices(request: Request, visitor: SignedIn, db: DbSession) -> Response:
    """The account's invoices, newest first (staff: every account's)."""
    account_id = None if visitor.is_staff else visitor.customer_account(db).id
    rows = [
        invoice
        for invoice in reversed(list_invoices(db, account_id=account_id))
        if invoice.status != "draft"
    ]
    codes: dict[int, str] = {}
    if visitor.is_staff:
        codes = {id_: code for id_, code in db.execute(select(Account.id, Account.code))}
    return render(
        request,
        "invoices.html",
        visitor,
        db,
        nav="invoices",
        title="Invoices",
        invoices=rows,
        accounts=codes,
    )


@router.get("/invoices/{number}")
def invoice(request: Request, number: str, visitor: SignedIn, db: DbSession) -> Response:
    """One invoice with its lines, payments and the credit notes issued against it."""
    account_id = None if visitor.is_staff else visitor.customer_account(db).id
    found = get_invoice(db, number, account_id=account_id)
    if found.status == "draft" or found.number is None:
        raise NotFound(f"invoice {number!r} does not exist")
    notes = [
        note
        for note in list_credit_notes(db, account_id=found.account_id)
        if note.invoice_id == found.id
    ]
    return render(
        request,
        "invoice.html",
        visitor,
        db,
        nav="invoices",
        title=f"Invoice {found.number}",
        invoice=found,
        lines=invoice_lines(db, found.id),
        payments=payments_of(db, found.id),
        balance=balance_due(db, found),
        credit_notes=notes,
        credited=credited_lines(db, found.id),
    )


def _scope(db: Session, account: Account, as_of: datetime, period: int | None) -> ReportScope:
    """The current period, or period number `period` (0 is the first), never a future one."""
    current = report_scope(db, account, as_of=as_of)
    if period is None or period == current.period.index:
        return current
    if period < 0 or period > current.period.index:
        raise NotFound(f"period {period} has not started")
    return report_scope(db, account, as_of=as_of, period_index=period)


@router.get("/calls")
def calls(
    request: Request,
    visitor: SignedIn,
    db: DbSession,
    after: Annotated[str | None, Query()] = None,
    period: Annotated[int | None, Query()] = None,
) -> Response:
    """The call report of a period (the current one by default), a page at a time."""
    account = visitor.customer_account(db)
    as_of = clock_of(request)
    scope = _scope(db, account, as_of, period)
    current = report_scope(db, account, as_of=as_of).period.index
    page = call_report_page(db, scope, after=after or None, limit=CALLS_PAGE_SIZE)
    events, reviews = page_review_facts(db, account.id, [row.lead_id for row in page.rows])
    rules = review_config().rules
    eligible: dict[str, str | None] = {}
    for row in page.rows:
        kinds = events.get(row.lead_id, set())
        refusal = eligibility(
            ReviewFacts(row.received_at, "call_answered" in kinds, "recording_available" in kinds),
            as_of,
            rules,
        )
        eligible[row.lead_id] = None if refusal is None else refusal.text
    return render(
        request,
        "calls.html",
        visitor,
        db,
        nav="calls",
        title="Call report",
        account=account,
        scope=scope,
        current_period=current,
        page=page,
        eligible=eligible,
        reviews=reviews,
        reasons=REVIEW_REASONS,
    )


@router.get("/calls.csv")
def calls_csv(
    request: Request,
    visitor: SignedIn,
    db: DbSession,
    period: Annotated[int | None, Query()] = None,
) -> Response:
    """The whole call report of a period as CSV, the columns of `leadbill reports call-report`."""
    account = visitor.customer_account(db)
    scope = _scope(db, account, clock_of(request), period)
    factory = session_factory_of(request)

    def lines() -> Iterator[str]:
        # The request's transaction ends before the body is sent: read in one of its own.
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(CALL_REPORT_COLUMNS)
        with factory() as session, session.begin():
            for row in iter_call_report(session, scope):
                writer.writerow(call_report_csv_row(row))
                if buffer.tell() > 64_000:
                    yield buffer.getvalue()
                    buffer.seek(0)
                    buffer.truncate()
        yield buffer.getvalue()

    name = f"call-report-{account.code}-{scope.period.start:%Y-%m-%d}.csv"
    return StreamingResponse(
        lines(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.post("/calls/{lead_id}/review")
def submit_for_review(
    request: Request,
    lead_id: str,
    visitor: SignedIn,
    db: DbSession,
    reason: Annotated[str, Form()] = "",
    explanation: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Submit one lead for review (R13); a refusal names the failed condition."""
    check_csrf(visitor, csrf_token)
    account = visitor.customer_account(db)
    review = submit_review(
        db,
        account.code,
        lead_id,
        reason=reason,
        explanation=explanation,
        submitted_by=visitor.email,
        as_of=clock_of(request),
    )
    set_flash(db, visitor, f"Lead {lead_id} was submitted for review (review {review.id}).")
    return redirect("/portal/reviews")


@router.get("/reviews")
def reviews(request: Request, visitor: SignedIn, db: DbSession) -> Response:
    """The account's reviews, with their status and decision."""
    account = visitor.customer_account(db)
    queue = review_queue(db, as_of=clock_of(request), account_code=account.code, status="all")
    return render(
        request,
        "reviews.html",
        visitor,
        db,
        nav="reviews",
        title="Reviews",
        account=account,
        queue=queue,
    )
