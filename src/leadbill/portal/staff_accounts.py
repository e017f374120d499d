"""Staff pages of the catalogue and the accounts: plans, accounts, an account, its call report.

Every staff role reads these, as through the API. From an account's call report,
admins and reviewers mark a lead non-billable before invoicing (R16, proactive
review) through the same service as `POST /v1/accounts/{account}/lead-decisions`.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Form, Query, Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from leadbill.accounts.billing_details import details_of
from leadbill.accounts.models import Account
from leadbill.accounts.service import get_account
from leadbill.auth.dependencies import DbSession, session_factory_of
from leadbill.billing.invoices import list_invoices
from leadbill.billing.taxation import account_billing
from leadbill.core.billability import NON_BILLABLE_REASONS, REASON_TEXT, Reason
from leadbill.errors import InvalidInput
from leadbill.leads.decisions import exclude_leads
from leadbill.leads.models import Lead, LeadDecision
from leadbill.plans.models import Plan
from leadbill.plans.service import list_plans
from leadbill.portal.call_filters import (
    REASON_CHOICES,
    CallFilterForm,
    FilterParams,
    call_page,
    call_report_csv,
    period_scope,
)
from leadbill.portal.paging import keyset_page
from leadbill.portal.permissions import DECIDES_LEADS, may, staff_only
from leadbill.portal.staff_users import portal_users_of
from leadbill.portal.web import (
    PortalRoute,
    SignedIn,
    check_csrf,
    clock_of,
    redirect,
    render,
    set_flash,
)
from leadbill.reports.repository import seat_codes
from leadbill.reports.service import billing_summary, report_scope
from leadbill.reviews.service import review_queue
from leadbill.seats.service import list_seats
from leadbill.subscriptions.models import Subscription
from leadbill.subscriptions.service import periods, segments

router = APIRouter(route_class=PortalRoute, include_in_schema=False)

DECISION_REASONS = [
    (reason.value, REASON_TEXT[reason].removeprefix("not billable: "))
    for reason in NON_BILLABLE_REASONS
]
RECENT_INVOICES = 10
CALLS_PAGE_SIZE = 50


@router.get("/staff/plans")
def plans(request: Request, visitor: SignedIn, db: DbSession) -> Response:
    """The catalogue: every plan with its terms."""
    staff_only(visitor)
    return render(
        request,
        "staff_plans.html",
        visitor,
        db,
        nav="staff-plans",
        title="Plans",
        plans=list_plans(db),
    )


def _subscriptions(db: Session, *account_ids: int) -> dict[int, list[Subscription]]:
    """Subscriptions of these accounts, by account, the active one first, then the newest."""
    query = (
        select(Subscription)
        .where(Subscription.account_id.in_(account_ids))
        .order_by(
            Subscription.account_id,
            (Subscription.status == "active").desc(),
            Subscription.id.desc(),
        )
    )
    found: dict[int, list[Subscription]] = {}
    for subscription in db.scalars(query):
        found.setdefault(subscription.account_id, []).append(subscription)
    return found


@router.get("/staff/accounts")
def accounts(
    request: Request,
    visitor: SignedIn,
    db: DbSession,
    after: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    """The accounts by code, a page at a time (`after`: the last code of the previous
    page), each with its plan, subscription status and current period."""
    staff_only(visitor)
    query = select(Account).order_by(Account.code)
    if after:
        query = query.where(Account.code > after)
    page, more = keyset_page(db, query)
    subscriptions = _subscriptions(db, *(account.id for (account,) in page))
    plan_by_id = {plan.id: plan for plan in db.scalars(select(Plan))}
    rows = []
    for (account,) in page:
        current = subscriptions.get(account.id, [None])[0]
        rows.append((account, current, plan_by_id[current.plan_id] if current else None))
    return render(
        request,
        "staff_accounts.html",
        visitor,
        db,
        nav="staff-accounts",
        title="Accounts",
        rows=rows,
        next_after=page[-1][0].code if more else None,
    )


@router.get("/staff/accounts/{code}")
def account(request: Request, code: str, visitor: SignedIn, db: DbSession) -> Response:
    """One account: its billing details, usage this period, subscriptions with periods
    and segments, seats, recent invoices and open reviews."""
    staff_only(visitor)
    found = get_account(db, code)
    as_of = clock_of(request)
    subscriptions = _subscriptions(db, found.id).get(found.id, [])
    plan_by_id = {plan.id: plan for plan in db.scalars(select(Plan))}
    summary = billing_summary(db, found, as_of) if subscriptions else None
    invoices = [i for i in reversed(list_invoices(db, account_id=found.id)) if i.number]
    return render(
        request,
        "staff_account.html",
        visitor,
        db,
        nav="staff-accounts",
        title=f"Account {found.code}",
        account=found,
        billing=account_billing(db, found.id),
        stored_details=details_of(db, found.id),
        summary=summary,
        subscriptions=[(s, periods(db, s.id), segments(db, s.id)) for s in subscriptions],
        plans=plan_by_id,
        seats=list_seats(db, found),
        invoices=invoices[:RECENT_INVOICES],
        reviews=review_queue(db, as_of=as_of, account_code=found.code, status="undecided"),
        portal_users=portal_users_of(db, found.id),
    )


def _decisions(db: Session, account_id: int, lead_ids: list[str]) -> dict[str, LeadDecision]:
    """The latest staff decision of each lead on the page (one query)."""
    if not lead_ids:
        return {}
    latest: dict[str, LeadDecision] = {}
    for decision, external_id in db.execute(
        select(LeadDecision, Lead.external_id)
        .join(Lead, Lead.id == LeadDecision.lead_id)
        .where(LeadDecision.account_id == account_id, Lead.external_id.in_(lead_ids))
        .order_by(LeadDecision.decided_at, LeadDecision.id)
    ):
        latest[external_id] = decision
    return latest


@router.get("/staff/accounts/{code}/calls")
def calls(
    request: Request,
    code: str,
    visitor: SignedIn,
    db: DbSession,
    filters: FilterParams,
    after: Annotated[str | None, Query()] = None,
    period: Annotated[int | None, Query()] = None,
) -> Response:
    """The account's call report (R9) as its customer sees it, with the customer page's
    filters, and staff decisions (R16)."""
    staff_only(visitor)
    found = get_account(db, code)
    as_of = clock_of(request)
    scope = period_scope(db, found, as_of, period)
    current = report_scope(db, found, as_of=as_of).period.index
    form = filters.form()
    page = call_page(db, scope, form, after or None, CALLS_PAGE_SIZE)
    return render(
        request,
        "staff_calls.html",
        visitor,
        db,
        nav="staff-accounts",
        title=f"Call report of {found.code}",
        account=found,
        scope=scope,
        current_period=current,
        page=page,
        decisions=_decisions(db, found.id, [row.lead_id for row in page.rows]),
        reasons=DECISION_REASONS,
        can_decide=may(visitor, DECIDES_LEADS),
        form=form,
        seats=[seat_code for _id, seat_code in seat_codes(db, found.id)],
        reason_choices=REASON_CHOICES,
    )


@router.get("/staff/accounts/{code}/calls.csv")
def calls_csv(
    request: Request,
    code: str,
    visitor: SignedIn,
    db: DbSession,
    filters: FilterParams,
    period: Annotated[int | None, Query()] = None,
) -> Response:
    """The account's call report of a period as CSV, with the page's filters (the
    customer's CSV, staff decisions included in each lead's reason)."""
    staff_only(visitor)
    found = get_account(db, code)
    scope = period_scope(db, found, clock_of(request), period)
    form = filters.form()
    return call_report_csv(db, session_factory_of(request), scope, form, found.code)


@router.post("/staff/accounts/{code}/calls/{lead_id}/decision")
def decide_lead(
    request: Request,
    code: str,
    lead_id: str,
    visitor: SignedIn,
    db: DbSession,
    reason: Annotated[str, Form()] = "",
    period: Annotated[int | None, Form()] = None,
    filters: Annotated[str, Form(max_length=1024)] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Mark one lead non-billable before its period is invoiced (R16; admin, reviewer).

    Back to the report as it was shown: the period, and the filters (`filters`, the
    page's query string) when they still read as filters.
    """
    check_csrf(visitor, csrf_token)
    visitor.require(*DECIDES_LEADS)
    found = get_account(db, code)
    exclude_leads(
        db, found.code, [lead_id], reason=reason, decided_by=visitor.email, as_of=clock_of(request)
    )
    # exclude_leads has refused anything but a non-billable reason.
    set_flash(db, visitor, f"Lead {lead_id} is now {REASON_TEXT[Reason(reason.strip())]}.")
    back = f"/portal/staff/accounts/{found.code}/calls"
    if period is not None:
        back += f"?{_shown_filters(filters).query(period)}"
    return redirect(f"{back}#lead-{lead_id}")


def _shown_filters(query: str) -> CallFilterForm:
    """The filters of the page a decision was made on (none if they do not read as filters)."""
    fields = {name: values[-1] for name, values in parse_qs(query).items()}
    try:
        return CallFilterForm.of(
            fields.get("seat"), fields.get("counted"), fields.get("reason"), fields.get("q")
        )
    except InvalidInput:
        return CallFilterForm()
