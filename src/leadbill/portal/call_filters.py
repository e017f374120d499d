"""The call report's filter form (seat, counted or not, reason, a phone or e-mail search),
its pages and its CSV download: one code for the customer's page and the staff's.

The form only reads and checks what the visitor chose; the filtering itself is
the REST API's (`reports.service.filtered_call_report_page`), so the pages, their
CSV export and the API always keep the same leads.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import Depends, Query
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session, sessionmaker

from leadbill.accounts.models import Account
from leadbill.core.billability import REASON_TEXT, Reason
from leadbill.csv_cells import ExportWriter
from leadbill.errors import InvalidInput, NotFound
from leadbill.reports.csv_rows import CALL_REPORT_COLUMNS, call_report_csv_row
from leadbill.reports.service import (
    DEFAULT_PAGE_SIZE,
    CallReportFilter,
    CallReportPage,
    CallReportRow,
    ReportScope,
    call_report_page,
    filtered_call_report_page,
    iter_call_report,
    report_scope,
)

# The choices of the reason select: every reason code, with the text the report shows.
REASON_CHOICES = [(reason.value, REASON_TEXT[reason]) for reason in Reason]
_REASON_CODES = frozenset(reason.value for reason in Reason)
_COUNTED = {"yes": True, "no": False}


def _clean(value: str | None) -> str | None:
    """A form field: an empty one (the form's "any") is no filter."""
    return value.strip() or None if value is not None else None


@dataclass(frozen=True, slots=True)
class CallFilterForm:
    """What the visitor chose in the filter form (None: any)."""

    seat: str | None = None
    counted: str | None = None  # "yes" or "no"
    reason: str | None = None
    search: str | None = None  # a phone, or an e-mail (it has an @)

    @classmethod
    def of(
        cls,
        seat: str | None = None,
        counted: str | None = None,
        reason: str | None = None,
        search: str | None = None,
    ) -> CallFilterForm:
        """The form's fields as submitted; empty ones are dropped, bad ones refused."""
        chosen = cls(_clean(seat), _clean(counted), _clean(reason), _clean(search))
        if chosen.counted is not None and chosen.counted not in _COUNTED:
            raise InvalidInput("counted", f"{chosen.counted!r} is not one of yes, no")
        if chosen.reason is not None and chosen.reason not in _REASON_CODES:
            raise InvalidInput("reason", f"{chosen.reason!r} is not a reason code")
        if chosen.search is not None and len(chosen.search) > 254:
            raise InvalidInput("q", "a phone or e-mail has at most 254 characters")
        return chosen

    @property
    def active(self) -> bool:
        """Whether anything is filtered."""
        return any((self.seat, self.counted, self.reason, self.search))

    def wanted(self) -> CallReportFilter:
        """The call report filter of the API with these choices."""
        search = self.search
        is_email = search is not None and "@" in search
        return CallReportFilter(
            seat=self.seat,
            counted=_COUNTED[self.counted] if self.counted is not None else None,
            reason=self.reason,
            phone=search if search is not None and not is_email else None,
            email=search if is_email else None,
        )

    def query(self, period: int, after: str | None = None) -> str:
        """The query string of these choices in `period` (and from `after`), for links."""
        fields = {
            "period": str(period),
            "seat": self.seat,
            "counted": self.counted,
            "reason": self.reason,
            "q": self.search,
            "after": after,
        }
        return urlencode({name: value for name, value in fields.items() if value is not None})


def iter_filtered_call_report(
    session: Session, scope: ReportScope, wanted: CallReportFilter
) -> Iterator[CallReportRow]:
    """Every row of the call report that `wanted` keeps, page by page (keyset pagination)."""
    after: str | None = None
    while True:
        page = filtered_call_report_page(
            session, scope, wanted, after=after, limit=DEFAULT_PAGE_SIZE
        )
        yield from page.rows
        if page.next_after is None:
            return
        after = page.next_after


@dataclass(frozen=True, slots=True)
class FilterQuery:
    """The filter fields as the page's address carries them, not yet checked."""

    seat: str | None
    counted: str | None
    reason: str | None
    q: str | None

    def form(self) -> CallFilterForm:
        """The checked form (a bad value is refused, naming its field)."""
        return CallFilterForm.of(self.seat, self.counted, self.reason, self.q)


def _filter_query(
    seat: Annotated[str | None, Query(max_length=64)] = None,
    counted: Annotated[str | None, Query(max_length=8)] = None,
    reason: Annotated[str | None, Query(max_length=32)] = None,
    q: Annotated[str | None, Query(max_length=254)] = None,
) -> FilterQuery:
    return FilterQuery(seat, counted, reason, q)


# The call report pages' and CSV downloads' filter parameters, checked by `.form()`
# where each handler checks them (after the visitor's access to the account).
FilterParams = Annotated[FilterQuery, Depends(_filter_query)]


def period_scope(db: Session, account: Account, as_of: datetime, period: int | None) -> ReportScope:
    """The current period, or period number `period` (0 is the first), never a future one."""
    current = report_scope(db, account, as_of=as_of)
    if period is None or period == current.period.index:
        return current
    if period < 0 or period > current.period.index:
        raise NotFound(f"period {period} has not started")
    return report_scope(db, account, as_of=as_of, period_index=period)


def call_page(
    db: Session, scope: ReportScope, form: CallFilterForm, after: str | None, limit: int
) -> CallReportPage:
    """One page of the call report: the leads the form keeps, from `after`."""
    if form.active:
        return filtered_call_report_page(db, scope, form.wanted(), after=after, limit=limit)
    return call_report_page(db, scope, after=after, limit=limit)


def call_report_csv(
    db: Session,
    factory: sessionmaker[Session],
    scope: ReportScope,
    form: CallFilterForm,
    account_code: str,
) -> StreamingResponse:
    """The call report of a period as CSV, the columns of `leadbill reports call-report`.

    With the form's filters: the leads the page lists, all of them, not one page.
    """
    wanted = form.wanted()
    if wanted.seat is not None:  # refuse another account's seat now, not mid-download
        filtered_call_report_page(db, scope, CallReportFilter(seat=wanted.seat), limit=1)

    def lines() -> Iterator[str]:
        # The request's transaction ends before the body is sent: read in one of its own.
        buffer = io.StringIO()
        writer = ExportWriter(buffer)
        writer.writerow(CALL_REPORT_COLUMNS)
        with factory() as session, session.begin():
            rows = (
                iter_filtered_call_report(session, scope, wanted)
                if form.active
                else iter_call_report(session, scope)
            )
            for row in rows:
                writer.writerow(call_report_csv_row(row))
                if buffer.tell() > 64_000:
                    yield buffer.getvalue()
                    buffer.seek(0)
                    buffer.truncate()
        yield buffer.getvalue()

    name = f"call-report-{account_code}-{scope.period.start:%Y-%m-%d}.csv"
    return StreamingResponse(
        lines(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
