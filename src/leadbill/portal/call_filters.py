"""The call report's filter form: seat, counted or not, reason, and a phone or e-mail search.

The form only reads and checks what the visitor chose; the filtering itself is
the REST API's (`reports.service.filtered_call_report_page`), so the page, its
CSV export and the API always keep the same leads.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlencode

from sqlalchemy.orm import Session

from leadbill.core.billability import REASON_TEXT, Reason
from leadbill.errors import InvalidInput
from leadbill.reports.service import (
    DEFAULT_PAGE_SIZE,
    CallReportFilter,
    CallReportRow,
    ReportScope,
    filtered_call_report_page,
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
