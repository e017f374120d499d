"""Staff page of receivables: the aging report per entity and account, and its CSV.

Every staff role reads it, as `GET /v1/reports/receivables`; the figures and the CSV
come from the same service and rows as the API and `leadbill reports receivables`.
The as-of field is read in the operator's time zone, as the other staff pages do.
"""

from __future__ import annotations

from itertools import groupby
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from leadbill.accounts.models import Account
from leadbill.auth.dependencies import DbSession
from leadbill.core.receivables import BUCKETS
from leadbill.entities.service import list_entities
from leadbill.errors import InvalidInput
from leadbill.portal.permissions import staff_only
from leadbill.portal.web import (
    PortalRoute,
    SignedIn,
    clock_of,
    instant_field,
    read_instant,
    render,
)
from leadbill.receivables.export import csv_text
from leadbill.receivables.service import AgingReport, aging_report
from leadbill.reports.csv_rows import instant_text

router = APIRouter(route_class=PortalRoute, include_in_schema=False)

AsOf = Annotated[str, Query(max_length=40)]
Code = Annotated[str, Query(max_length=64)]


def _report(
    request: Request, db: Session, time_zone: str, as_of: str, entity: str, account: str
) -> AgingReport:
    at = read_instant(as_of, time_zone, "as_of") if as_of.strip() else clock_of(request)
    return aging_report(db, at, entity=entity.strip() or None, account=account.strip() or None)


@router.get("/staff/receivables")
def receivables(
    request: Request,
    visitor: SignedIn,
    db: DbSession,
    as_of: AsOf = "",
    entity: Code = "",
    account: Code = "",
) -> Response:
    """Open balances by days past due, each entity's accounts and subtotal, then the totals."""
    staff_only(visitor)
    error = None
    try:
        report = _report(request, db, visitor.time_zone, as_of, entity, account)
    except InvalidInput as refused:
        error = f"{refused.field}: {refused.reason}"
        report = aging_report(db, clock_of(request))
    sections = [
        (name, list(rows)) for name, rows in groupby(report.accounts, key=lambda row: row.entity)
    ]
    subtotals = {name: [r for r in report.entities if r.entity == name] for name, _ in sections}
    # The CSV is the report shown: the same instant, to the second, with its offset.
    query = urlencode({"as_of": instant_text(report.as_of), "entity": entity, "account": account})
    return render(
        request,
        "staff_receivables.html",
        visitor,
        db,
        status_code=422 if error else 200,
        nav="staff-receivables",
        title="Receivables",
        report=report,
        sections=sections,
        subtotals=subtotals,
        buckets=BUCKETS,
        as_of_text=as_of if error else instant_field(report.as_of, visitor.time_zone),
        entity=entity,
        account=account,
        entities=[e.code for e in list_entities(db)],
        accounts=list(db.scalars(select(Account.code).order_by(Account.code))),
        csv_query=query,
        error=error,
    )


@router.get("/staff/receivables.csv")
def receivables_csv(
    request: Request,
    visitor: SignedIn,
    db: DbSession,
    as_of: AsOf = "",
    entity: Code = "",
    account: Code = "",
) -> Response:
    """The aging report as CSV: the columns of `leadbill reports receivables --format csv`."""
    staff_only(visitor)
    report = _report(request, db, visitor.time_zone, as_of, entity, account)
    name = f"receivables-{report.as_of:%Y-%m-%d}.csv"
    return Response(
        csv_text(report),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
