"""R8: seats have a fixed primary, an optional backup, and a one-time fee invoiced at once."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

from leadbill.accounts.service import create_account
from leadbill.billing.invoices import invoice_lines
from leadbill.errors import Conflict, InvalidInput
from leadbill.plans.service import create_plan
from leadbill.seats import service as seats
from leadbill.subscriptions.service import create_subscription
from tests.conftest import utc

START = utc(2026, 1, 1)


def _subscribed(session: Session) -> object:
    account = create_account(
        session,
        code="brokerage",
        name="Brokerage",
        currency="USD",
        time_zone="America/New_York",
        billing_email="billing@brokerage.test",
        as_of=START,
    )
    plan = create_plan(
        session,
        code="pkg-100",
        name="Package 100",
        currency="USD",
        interval="month",
        fee="1000.00",
        included_leads=100,
        per_lead_rate="10.00",
        seat_fee="57.00",
        as_of=START,
    )
    create_subscription(session, account=account, plan=plan, start=START)
    return account


def test_r8_seat_fee_invoiced_at_once(session: Session) -> None:
    account = _subscribed(session)
    _seat, invoice = seats.create_seat(
        session,
        account=account,
        code="s1",
        primary_name="Pat Primary",
        primary_email="pat@brokerage.test",
        as_of=utc(2026, 1, 10, 15),
    )
    assert invoice.status == "open"
    assert invoice.number is not None
    assert invoice.total == Decimal("57.00")
    assert invoice.issued_at == utc(2026, 1, 10, 15)
    (line,) = invoice_lines(session, invoice.id)
    assert line.kind == "seat_fee"
    assert line.amount == Decimal("57.00")


def test_r8_any_number_of_seats_each_with_its_own_fee(session: Session) -> None:
    account = _subscribed(session)
    numbers = set()
    for index in range(4):
        _, invoice = seats.create_seat(
            session,
            account=account,
            code=f"s{index}",
            primary_name=f"Agent {index}",
            primary_email=f"agent{index}@brokerage.test",
            as_of=START,
        )
        numbers.add(invoice.number)
    assert len(numbers) == 4
    assert len(seats.list_seats(session, account)) == 4


def test_r8_primary_is_fixed(session: Session) -> None:
    account = _subscribed(session)
    seat, _ = seats.create_seat(
        session,
        account=account,
        code="s1",
        primary_name="Pat Primary",
        primary_email="pat@brokerage.test",
        backup_name="Bo Backup",
        backup_email="bo@brokerage.test",
        as_of=START,
    )
    with pytest.raises(Conflict, match="primary of seat s1 is fixed"):
        seats.change_primary(session, seat)
    with pytest.raises(InvalidInput, match="backup_email"):
        seats.set_backup(session, seat, name="Pat Primary", email="PAT@brokerage.test")
    assert seat.primary_name == "Pat Primary"


def test_r8_backup_added_replaced_removed(session: Session) -> None:
    account = _subscribed(session)
    seat, _ = seats.create_seat(
        session,
        account=account,
        code="s1",
        primary_name="Pat Primary",
        primary_email="pat@brokerage.test",
        as_of=START,
    )
    assert seat.backup_name is None
    seats.set_backup(session, seat, name="Bo Backup", email="bo@brokerage.test")
    assert seats.get_seat(session, account, "s1").backup_name == "Bo Backup"
    seats.set_backup(session, seat, name="Cy Backup", email="cy@brokerage.test")
    assert seats.get_seat(session, account, "s1").backup_email == "cy@brokerage.test"
    seats.remove_backup(session, seat)
    assert seats.get_seat(session, account, "s1").backup_name is None
    assert seats.get_seat(session, account, "s1").primary_email == "pat@brokerage.test"


def test_seat_needs_an_active_subscription(session: Session) -> None:
    account = create_account(
        session,
        code="solo",
        name="Solo",
        currency="USD",
        time_zone="UTC",
        billing_email="solo@agent.test",
        as_of=START,
    )
    with pytest.raises(Conflict, match="no active subscription"):
        seats.create_seat(
            session,
            account=account,
            code="s1",
            primary_name="Solo",
            primary_email="solo@agent.test",
            as_of=START,
        )
