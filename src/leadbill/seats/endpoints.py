"""HTTP routes of seats (R8): create (admin, billing), list, read, manage the backup.

The primary of a seat is fixed: `PUT .../primary` always answers 409.
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from leadbill.auth.dependencies import Caller, DbSession, acting_key, visible_account
from leadbill.auth.idempotency import LeadbillRoute
from leadbill.auth.service import STAFF_READERS, Role
from leadbill.console import now
from leadbill.schemas import PROBLEM_RESPONSES
from leadbill.seats import service
from leadbill.seats.schemas import PersonIn, SeatCreate, SeatCreated, SeatList, SeatOut

router = APIRouter(
    prefix="/accounts/{account}/seats",
    tags=["seats"],
    route_class=LeadbillRoute,
    responses=PROBLEM_RESPONSES,
)
READERS = (*STAFF_READERS, Role.CUSTOMER)
WRITERS = (Role.ADMIN, Role.BILLING)
BACKUP_EDITORS = (Role.ADMIN, Role.BILLING, Role.CUSTOMER)


@router.post("", status_code=201, response_model=SeatCreated)
def create_seat(account: str, body: SeatCreate, session: DbSession, caller: Caller) -> SeatCreated:
    """Create a seat on the account's active subscription and invoice its fee (admin, billing).

    `at` (default now) dates the seat and its fee invoice; the API key is recorded as who.
    """
    owner = visible_account(session, caller, account, *WRITERS)
    backup = body.backup
    clock = now()
    seat, invoice = service.create_seat(
        session,
        account=owner,
        code=body.code,
        primary_name=body.primary.name,
        primary_email=body.primary.email,
        primary_phone=body.primary.phone,
        backup_name=backup.name if backup else None,
        backup_email=backup.email if backup else None,
        backup_phone=backup.phone if backup else None,
        as_of=body.at or clock,
        by=acting_key(session, caller),
        clock=clock,
    )
    return SeatCreated(seat=SeatOut.of(seat, owner.code), fee_invoice=invoice.number)


@router.get("", response_model=SeatList)
def list_seats(account: str, session: DbSession, caller: Caller) -> SeatList:
    """The account's seats, oldest first."""
    owner = visible_account(session, caller, account, *READERS)
    return SeatList(data=[SeatOut.of(s, owner.code) for s in service.list_seats(session, owner)])


@router.get("/{seat}", response_model=SeatOut)
def get_seat(account: str, seat: str, session: DbSession, caller: Caller) -> SeatOut:
    """One seat by its code."""
    owner = visible_account(session, caller, account, *READERS)
    return SeatOut.of(service.get_seat(session, owner, seat), owner.code)


@router.put("/{seat}/backup", response_model=SeatOut)
def set_backup(
    account: str, seat: str, body: PersonIn, session: DbSession, caller: Caller
) -> SeatOut:
    """Add or replace the seat's backup person."""
    owner = visible_account(session, caller, account, *BACKUP_EDITORS)
    row = service.get_seat(session, owner, seat)
    service.set_backup(session, row, name=body.name, email=body.email, phone=body.phone)
    return SeatOut.of(row, owner.code)


@router.delete("/{seat}/backup", response_model=SeatOut)
def remove_backup(account: str, seat: str, session: DbSession, caller: Caller) -> SeatOut:
    """Remove the seat's backup person; the primary stays."""
    owner = visible_account(session, caller, account, *BACKUP_EDITORS)
    row = service.get_seat(session, owner, seat)
    return SeatOut.of(service.remove_backup(session, row), owner.code)


@router.put("/{seat}/primary", status_code=409, response_class=Response)
def change_primary(account: str, seat: str, session: DbSession, caller: Caller) -> None:
    """Always refused (409): a seat's primary is fixed; a new primary means a new seat."""
    owner = visible_account(session, caller, account, *BACKUP_EDITORS)
    service.change_primary(session, service.get_seat(session, owner, seat))
