"""HTTP routes of receivables: the aging report (staff roles, JSON or CSV) and writing an
invoice off as uncollectible (admin, billing)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Response

from leadbill.accounts.models import Account
from leadbill.auth.dependencies import Caller, DbSession, allow
from leadbill.auth.idempotency import LeadbillRoute
from leadbill.auth.service import STAFF_READERS, Role
from leadbill.billing.endpoints import BILLERS
from leadbill.billing.invoices import get_invoice
from leadbill.billing.schemas import InvoiceOut
from leadbill.console import now
from leadbill.receivables.export import csv_text
from leadbill.receivables.schemas import ReceivablesOut, UncollectibleIn
from leadbill.receivables.service import aging_report, mark_uncollectible
from leadbill.schemas import PROBLEM_RESPONSES, Instant

router = APIRouter(tags=["receivables"], route_class=LeadbillRoute, responses=PROBLEM_RESPONSES)
READERS = tuple(sorted(STAFF_READERS))
WRITES_OFF = BILLERS
CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The report; as CSV with `format=csv`",
        "content": {"text/csv": {"schema": {"type": "string"}}},
    }
}


@router.post("/invoices/{number}/uncollectible", response_model=InvoiceOut)
def write_off(number: str, body: UncollectibleIn, session: DbSession, caller: Caller) -> InvoiceOut:
    """Mark an open invoice with a balance due uncollectible (admin, billing): it leaves the
    receivables and stays in the ledger. A payment recorded later still counts, and pays the
    invoice once the payments cover it."""
    if caller.role is not Role.CUSTOMER:
        allow(caller, *WRITES_OFF)
    scope = caller.account_id if caller.role is Role.CUSTOMER else None
    invoice = get_invoice(session, number, account_id=scope)
    allow(caller, *WRITES_OFF)
    mark_uncollectible(session, invoice, body.reason, body.at or now())
    code = session.get_one(Account, invoice.account_id).code
    return InvoiceOut(**InvoiceOut.fields(invoice, code, 0))


@router.get("/reports/receivables", response_model=ReceivablesOut, responses=CSV_RESPONSE)
def receivables(
    session: DbSession,
    caller: Caller,
    as_of: Instant | None = Query(None, description="the instant of the report (default: now)"),
    entity: str | None = Query(None, max_length=32, description="only this entity's invoices"),
    account: str | None = Query(None, max_length=64, description="only this account's"),
    format_: Literal["json", "csv"] = Query(
        "json", alias="format", description="csv: the rows of `leadbill reports receivables`"
    ),
) -> ReceivablesOut | Response:
    """Open balances at `as_of` by days past due (current, 1-30, 31-60, 61-90, over 90) in
    the account's time zone: per entity and account, per entity and in all, per currency.

    An invoice counts when it was finalized by `as_of` and not paid, void or uncollectible
    by then; only payments received by then reduce its balance (staff roles)."""
    allow(caller, *READERS)
    report = aging_report(session, as_of or now(), entity=entity, account=account)
    if format_ == "json":
        return ReceivablesOut.of(report)
    name = f"receivables-{report.as_of:%Y-%m-%d}.csv"
    return Response(
        csv_text(report),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
