"""Customer page of seats (R8): list, add a seat with its one-time fee, manage the backup.

The primary of a seat is fixed for good: the page shows it read-only and a post
that tries to change it is refused by the seat service, with the reason. A seat
of another account answers 404, as if it did not exist.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from sqlalchemy.orm import Session

from leadbill.accounts.models import Account
from leadbill.auth.dependencies import DbSession
from leadbill.core.money import Money
from leadbill.errors import Conflict, LeadbillError, NotFound
from leadbill.portal.web import (
    PortalRoute,
    SignedIn,
    Text,
    Visitor,
    check_csrf,
    clock_of,
    money,
    redirect,
    render,
    set_flash,
)
from leadbill.seats.models import Seat
from leadbill.seats.service import (
    change_primary,
    create_seat,
    list_seats,
    remove_backup,
    seat_fee_of,
    set_backup,
)

router = APIRouter(route_class=PortalRoute, include_in_schema=False)


def _seat_fee(db: Session, account: Account) -> Money | None:
    """The fee a new seat would be invoiced, or None without an active subscription."""
    try:
        return seat_fee_of(db, account)
    except Conflict:
        return None


def _page(
    request: Request,
    visitor: Visitor,
    db: Session,
    account: Account,
    *,
    error: LeadbillError | None = None,
    form: dict[str, str] | None = None,
    error_seat: int | None = None,
) -> Response:
    """The seats page; after a refused form, with the reason and what was typed."""
    return render(
        request,
        "seats.html",
        visitor,
        db,
        status_code=error.http_status if error else 200,
        nav="seats",
        title="Seats",
        account=account,
        seats=list_seats(db, account),
        seat_fee=_seat_fee(db, account),
        error=error.detail if error else None,
        error_seat=error_seat,
        form=form or {},
    )


def _own_seat(db: Session, account: Account, seat_id: int) -> Seat:
    """A seat of the account by id; another account's seat does not exist (404)."""
    seat = db.get(Seat, seat_id)
    if seat is None or seat.account_id != account.id:
        raise NotFound(f"seat {seat_id} does not exist")
    return seat


@router.get("/seats")
def seats(request: Request, visitor: SignedIn, db: DbSession) -> Response:
    """The account's seats: fixed primary, optional backup, and the form to add one."""
    return _page(request, visitor, db, visitor.customer_account(db))


@router.post("/seats")
def add_seat(
    request: Request,
    visitor: SignedIn,
    db: DbSession,
    code: Text = "",
    primary_name: Text = "",
    primary_email: Text = "",
    primary_phone: Text = "",
    backup_name: Text = "",
    backup_email: Text = "",
    backup_phone: Text = "",
    csrf_token: Text = "",
) -> Response:
    """Add a seat (onboarding): its one-time fee is invoiced at once (R8)."""
    check_csrf(visitor, csrf_token)
    account = visitor.customer_account(db)
    typed = {
        "code": code,
        "primary_name": primary_name,
        "primary_email": primary_email,
        "primary_phone": primary_phone,
        "backup_name": backup_name,
        "backup_email": backup_email,
        "backup_phone": backup_phone,
    }
    try:
        with db.begin_nested():
            seat, invoice = create_seat(
                db,
                account=account,
                code=code,
                primary_name=primary_name,
                primary_email=primary_email,
                primary_phone=primary_phone.strip() or None,
                backup_name=backup_name.strip() or None,
                backup_email=backup_email.strip() or None,
                backup_phone=backup_phone.strip() or None,
                as_of=clock_of(request),
                by=visitor.email,
            )
    except LeadbillError as error:
        return _page(request, visitor, db, account, error=error, form=typed)
    set_flash(
        db,
        visitor,
        f"Seat {seat.code} was added for {seat.primary_name}. Its one-time fee of "
        f"{money(invoice.total, invoice.currency)} is on invoice {invoice.number}.",
    )
    return redirect("/portal/seats")


@router.post("/seats/{seat_id}/backup")
def save_backup(
    request: Request,
    seat_id: int,
    visitor: SignedIn,
    db: DbSession,
    backup_name: Text = "",
    backup_email: Text = "",
    backup_phone: Text = "",
    csrf_token: Text = "",
    # Not on the form: a crafted post naming another primary is refused (R8).
    primary_name: Annotated[str | None, Form()] = None,
    primary_email: Annotated[str | None, Form()] = None,
) -> Response:
    """Add or replace the seat's backup; a post that touches the primary is refused (R8)."""
    check_csrf(visitor, csrf_token)
    account = visitor.customer_account(db)
    seat = _own_seat(db, account, seat_id)
    try:
        with db.begin_nested():
            _refuse_primary_change(db, seat, primary_name, primary_email)
            set_backup(
                db,
                seat,
                name=backup_name,
                email=backup_email,
                phone=backup_phone.strip() or None,
            )
    except LeadbillError as error:
        typed = {"backup_name": backup_name, "backup_email": backup_email}
        return _page(request, visitor, db, account, error=error, form=typed, error_seat=seat.id)
    set_flash(db, visitor, f"Seat {seat.code}: {seat.backup_name} is now the backup.")
    return redirect("/portal/seats")


def _refuse_primary_change(db: Session, seat: Seat, name: str | None, email: str | None) -> None:
    """A form that names a primary different from the seat's is an attempt to change it."""
    for posted, stored in ((name, seat.primary_name), (email, seat.primary_email)):
        if posted is not None and posted.strip().casefold() != stored.casefold():
            change_primary(db, seat)


@router.post("/seats/{seat_id}/primary")
def change_seat_primary(
    request: Request,
    seat_id: int,
    visitor: SignedIn,
    db: DbSession,
    csrf_token: Text = "",
) -> Response:
    """Always refused with the reason: a seat's primary never changes (R8)."""
    check_csrf(visitor, csrf_token)
    account = visitor.customer_account(db)
    seat = _own_seat(db, account, seat_id)
    try:
        change_primary(db, seat)
    except LeadbillError as error:
        return _page(request, visitor, db, account, error=error, error_seat=seat.id)
    return redirect("/portal/seats")  # pragma: no cover - change_primary always refuses


@router.post("/seats/{seat_id}/backup/remove")
def drop_backup(
    request: Request,
    seat_id: int,
    visitor: SignedIn,
    db: DbSession,
    csrf_token: Text = "",
) -> Response:
    """Remove the seat's backup; the primary stays."""
    check_csrf(visitor, csrf_token)
    account = visitor.customer_account(db)
    seat = _own_seat(db, account, seat_id)
    try:
        with db.begin_nested():
            remove_backup(db, seat)
    except LeadbillError as error:
        return _page(request, visitor, db, account, error=error, error_seat=seat.id)
    set_flash(db, visitor, f"Seat {seat.code} has no backup now; {seat.primary_name} stays.")
    return redirect("/portal/seats")
