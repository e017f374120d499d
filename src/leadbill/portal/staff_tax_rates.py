"""Staff page of tax rates: every rate by country, region and first day.

As the API: every staff role reads them; admins add a rate and end one (its last
day), before the next rate takes over. Rates of one country and region never
overlap. A refused value shows the form again with what was typed and the reason
beside its field.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from sqlalchemy.orm import Session

from leadbill.auth.dependencies import DbSession
from leadbill.console import parse_date
from leadbill.errors import LeadbillError
from leadbill.portal.billing_details import countries, form_errors
from leadbill.portal.permissions import CHANGES_TAX_RATES, may, staff_only
from leadbill.portal.web import (
    PortalRoute,
    SignedIn,
    Text,
    Visitor,
    check_csrf,
    clock_of,
    redirect,
    render,
    set_flash,
)
from leadbill.taxes.service import create_rate, describe, end_rate, list_rates, percent

router = APIRouter(route_class=PortalRoute, include_in_schema=False)

FIELDS = ("name", "rate", "country", "region", "valid_from", "valid_to")


def _page(
    request: Request,
    visitor: Visitor,
    db: Session,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    error: str | None = None,
    ending: int | None = None,
    status_code: int = 200,
) -> Response:
    """The rates, the form to add one; after a refusal, with what was typed."""
    return render(
        request,
        "staff_tax_rates.html",
        visitor,
        db,
        status_code=status_code,
        nav="staff-tax-rates",
        title="Tax rates",
        rates=list_rates(db),
        percent=percent,
        can_change=may(visitor, CHANGES_TAX_RATES),
        form=form or {},
        errors=errors or {},
        error=error,
        ending=ending,
        countries=countries(),
    )


@router.get("/staff/tax-rates")
def tax_rates(request: Request, visitor: SignedIn, db: DbSession) -> Response:
    """Every tax rate; admins add one and end one here."""
    staff_only(visitor)
    return _page(request, visitor, db)


@router.post("/staff/tax-rates")
def add_rate(
    request: Request,
    visitor: SignedIn,
    db: DbSession,
    name: Text = "",
    rate: Text = "",
    country: Text = "",
    region: Text = "",
    valid_from: Text = "",
    valid_to: Text = "",
    csrf_token: Text = "",
) -> Response:
    """Add a tax rate (admin); refused when it overlaps another of its country and region."""
    check_csrf(visitor, csrf_token)
    visitor.require(*CHANGES_TAX_RATES)
    typed = {
        "name": name,
        "rate": rate,
        "country": country,
        "region": region,
        "valid_from": valid_from,
        "valid_to": valid_to,
    }
    try:
        with db.begin_nested():
            added = create_rate(
                db,
                name=name,
                rate=rate,
                country=country,
                region=region.strip() or None,
                valid_from=parse_date(valid_from, "valid_from"),
                valid_to=parse_date(valid_to, "valid_to") if valid_to.strip() else None,
                as_of=clock_of(request),
            )
    except LeadbillError as refused:
        errors, error = form_errors(refused, FIELDS)
        return _page(
            request,
            visitor,
            db,
            form=typed,
            errors=errors,
            error=error,
            status_code=refused.http_status,
        )
    set_flash(db, visitor, f"Tax rate {added.id} added: {describe(added)}.")
    return redirect(f"/portal/staff/tax-rates#rate-{added.id}")


@router.post("/staff/tax-rates/{rate_id}/end")
def end(
    request: Request,
    rate_id: int,
    visitor: SignedIn,
    db: DbSession,
    valid_to: Text = "",
    csrf_token: Text = "",
) -> Response:
    """Set the last day a rate applies (admin)."""
    check_csrf(visitor, csrf_token)
    visitor.require(*CHANGES_TAX_RATES)
    try:
        with db.begin_nested():
            ended = end_rate(db, rate_id, parse_date(valid_to, "valid_to"))
    except LeadbillError as refused:
        if refused.http_status == 404:
            raise
        return _page(
            request,
            visitor,
            db,
            error=refused.detail,
            ending=rate_id,
            status_code=refused.http_status,
        )
    set_flash(db, visitor, f"Tax rate {ended.id} ends: {describe(ended)}.")
    return redirect(f"/portal/staff/tax-rates#rate-{ended.id}")
