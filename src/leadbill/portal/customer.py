"""Customer pages: dashboard, invoices, call report. Always the user's own account.

The review pages (submit, the reviews, replies) are in `portal.customer_reviews`.

Every figure comes from the services the API and CLI use: the billing summary,
the call report, the invoices, the review flow. Another account's invoice or
lead answers 404, as if it did not exist.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from leadbill.auth.dependencies import DbSession, session_factory_of
from leadbill.billing.invoices import list_invoices
from leadbill.billing.payments import balances_due
from leadbill.core.reviews import ReviewFacts, call_answered, eligibility
from leadbill.documents.invoice import invoice_document
from leadbill.portal.call_filters import (
    REASON_CHOICES,
    FilterParams,
    call_page,
    call_report_csv,
    period_scope,
)
from leadbill.portal.customer_reviews import REVIEW_LIMITS, REVIEW_REASONS
from leadbill.portal.repository import page_review_facts
from leadbill.portal.usage import chart, daily_counts
from leadbill.portal.web import (
    PortalRoute,
    SignedIn,
    clock_of,
    redirect,
    render,
)
from leadbill.receivables.service import invoice_overdue_days, overdue_days
from leadbill.reports.repository import seat_codes
from leadbill.reports.service import billing_summary, report_scope
from leadbill.reviews.calendar import review_config

router = APIRouter(route_class=PortalRoute, include_in_schema=False)

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
    """The account's invoices, newest first (staff: their list, paged and filtered)."""
    if visitor.is_staff:
        return redirect("/portal/staff/invoices")
    account_id = visitor.customer_account(db).id
    rows = [
        invoice
        for invoice in reversed(list_invoices(db, account_id=account_id))
        if invoice.status != "draft"
    ]
    return render(
        request,
        "invoices.html",
        visitor,
        db,
        nav="invoices",
        title="Invoices",
        invoices=rows,
        balances=balances_due(db, rows),
        overdue=overdue_days(db, rows, clock_of(request)),
    )


@router.get("/invoices/{number}")
def invoice(request: Request, number: str, visitor: SignedIn, db: DbSession) -> Response:
    """One invoice with its lines, payments and the credit notes issued against it."""
    account_id = None if visitor.is_staff else visitor.customer_account(db).id
    document = invoice_document(db, number, account_id)
    return render(
        request,
        "invoice.html",
        visitor,
        db,
        nav="invoices",
        title=f"Invoice {document.invoice.number}",
        invoice=document.invoice,
        lines=document.lines,
        payments=document.payments,
        balance=document.balance,
        instructions=document.instructions,
        credit_notes=document.credit_notes,
        credited=document.credited,
        totals=document.totals,
        days_overdue=invoice_overdue_days(db, document.invoice, clock_of(request)),
    )


@router.get("/calls")
def calls(
    request: Request,
    visitor: SignedIn,
    db: DbSession,
    filters: FilterParams,
    after: Annotated[str | None, Query()] = None,
    period: Annotated[int | None, Query()] = None,
) -> Response:
    """The call report of a period (the current one by default), a page at a time.

    Filtered by seat, counted or not, reason, and a phone or e-mail search, the
    way the API's call report filters. An htmx request (the filter form, the
    next page) gets only the table, any other the whole page.
    """
    account = visitor.customer_account(db)
    as_of = clock_of(request)
    scope = period_scope(db, account, as_of, period)
    current = report_scope(db, account, as_of=as_of).period.index
    form = filters.form()
    page = call_page(db, scope, form, after or None, CALLS_PAGE_SIZE)
    events, reviews = page_review_facts(db, account.id, [row.lead_id for row in page.rows])
    rules = review_config().rules
    eligible: dict[str, str | None] = {}
    for row in page.rows:
        kinds = events.get(row.lead_id, set())
        calls = [(kind, result) for kind, result in kinds if kind != "recording_available"]
        facts = ReviewFacts(
            received_at=row.received_at,
            answered=call_answered(calls),
            recording_enabled=any(kind == "recording_available" for kind, _r in kinds),
            calls=row.calls,
            last_call_result=row.last_call_result,
            reviewed=row.lead_id in reviews,
        )
        refusal = eligibility(facts, as_of, rules, account.time_zone)
        eligible[row.lead_id] = None if refusal is None else refusal.text
    # A history restore after a reload asks with HX-Request too, and needs the whole page.
    fragment = "HX-Request" in request.headers and (
        "HX-History-Restore-Request" not in request.headers
    )
    response = render(
        request,
        "calls_table.html" if fragment else "calls.html",
        visitor,
        None if fragment else db,  # a fragment leaves the flash message to the next page
        nav="calls",
        title="Call report",
        account=account,
        scope=scope,
        current_period=current,
        page=page,
        eligible=eligible,
        reviews=reviews,
        reasons=REVIEW_REASONS,
        limits=REVIEW_LIMITS,
        form=form,
        seats=[] if fragment else [code for _id, code in seat_codes(db, account.id)],
        reason_choices=REASON_CHOICES,
    )
    response.headers["Vary"] = "HX-Request"
    return response


@router.get("/calls.csv")
def calls_csv(
    request: Request,
    visitor: SignedIn,
    db: DbSession,
    filters: FilterParams,
    period: Annotated[int | None, Query()] = None,
) -> Response:
    """The call report of a period as CSV, with the page's filters (all its leads)."""
    account = visitor.customer_account(db)
    scope = period_scope(db, account, clock_of(request), period)
    form = filters.form()
    return call_report_csv(db, session_factory_of(request), scope, form, account.code)
