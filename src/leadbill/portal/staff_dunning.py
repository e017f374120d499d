"""Staff page of dunning: open invoices in dunning, their last reminder and the next step.

As the API (GET /v1/dunning): admins and billing staff read it; other roles are refused.
The figures come from the same service as the API and `leadbill dunning list`.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from leadbill.auth.dependencies import DbSession
from leadbill.dunning.schemas import DunningInvoiceOut
from leadbill.dunning.service import in_dunning
from leadbill.portal.permissions import READS_DUNNING
from leadbill.portal.web import PortalRoute, SignedIn, clock_of, render

router = APIRouter(route_class=PortalRoute, include_in_schema=False)


@router.get("/staff/dunning")
def dunning(request: Request, visitor: SignedIn, db: DbSession) -> Response:
    """The invoices in dunning now, by invoice."""
    visitor.require(*READS_DUNNING)
    at = clock_of(request)
    items = [DunningInvoiceOut.of(item, at) for item in in_dunning(db, at)]
    return render(
        request,
        "staff_dunning.html",
        visitor,
        db,
        nav="staff-dunning",
        title="Dunning",
        items=items,
        as_of=at,
    )
