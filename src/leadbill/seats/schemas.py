"""API shapes of seats."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from leadbill.schemas import Instant, RequestModel
from leadbill.seats.models import Seat
from leadbill.seats.service import SEAT_CODE


class PersonIn(RequestModel):
    """A person of a seat."""

    name: str = Field(min_length=1, max_length=200)
    email: str = Field(min_length=3, max_length=254)
    phone: str | None = Field(default=None, max_length=32)


class SeatCreate(RequestModel):
    """A new seat with its fixed primary and an optional backup; its fee is invoiced at once."""

    code: str = Field(
        min_length=1,
        max_length=64,
        # Documented, and checked by the service with a plain-language reason.
        json_schema_extra={"pattern": f"^{SEAT_CODE.pattern}$"},
        examples=["s1"],
        description="letters, digits, '-' and '_'",
    )
    primary: PersonIn
    backup: PersonIn | None = None
    at: Instant | None = Field(
        default=None,
        description="instant of the seat's creation and of its fee invoice, at most a day "
        "ahead of the clock (default: now)",
    )


class PersonOut(BaseModel):
    """A person of a seat."""

    name: str
    email: str
    phone: str | None


class SeatOut(BaseModel):
    """A seat: the primary never changes, the backup may."""

    code: str
    account: str
    subscription_id: int
    primary: PersonOut
    backup: PersonOut | None
    created_at: datetime
    created_by: str | None = Field(description="who created the seat (staff or API key)")

    @classmethod
    def of(cls, seat: Seat, account_code: str) -> SeatOut:
        """The API shape of a stored seat."""
        backup = None
        if seat.backup_name is not None and seat.backup_email is not None:
            backup = PersonOut(
                name=seat.backup_name, email=seat.backup_email, phone=seat.backup_phone
            )
        return cls(
            code=seat.code,
            account=account_code,
            subscription_id=seat.subscription_id,
            primary=PersonOut(
                name=seat.primary_name, email=seat.primary_email, phone=seat.primary_phone
            ),
            backup=backup,
            created_at=seat.created_at,
            created_by=seat.created_by,
        )


class SeatCreated(BaseModel):
    """The new seat and the number of the invoice that carries its one-time fee."""

    seat: SeatOut
    fee_invoice: str | None


class SeatList(BaseModel):
    """The account's seats, oldest first."""

    data: list[SeatOut]
