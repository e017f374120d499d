"""The seats page (R8): fixed primary, one-time fee, backups, and only the account's own seats."""

from __future__ import annotations

import re
from decimal import Decimal

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from leadbill.accounts.service import get_account
from leadbill.billing.models import Invoice
from leadbill.seats.models import Seat
from leadbill.seats.service import get_seat
from tests.portal.conftest import sign_in
from tests.portal.world import AS_OF, PortalWorld


def _seat(sessions: sessionmaker[Session], account: str, code: str) -> Seat:
    with sessions() as session:
        seat = get_seat(session, get_account(session, account), code)
        session.expunge(seat)
        return seat


def _error(html: str) -> str:
    found = re.search(r'<p class="error" role="alert"[^>]*>([^<]+)<', html)
    assert found, "no error message on the page"
    return found.group(1)


def test_r8_seats_page_shows_the_primary_read_only_and_the_seat_fee(
    client: TestClient, world: PortalWorld
) -> None:
    sign_in(client, "ana@acme.test")
    page = client.get("/portal/seats")
    assert page.status_code == 200
    assert 'data-seat="acme-seat"' in page.text and "pat@acme.test" in page.text
    assert "other-seat" not in page.text and "pat@other.test" not in page.text
    # The primary is shown, never offered as a field of a form.
    assert 'name="primary_name"' in page.text  # only in the form that adds a new seat
    seat_card = page.text.split('data-seat="acme-seat"', 1)[1].split("</li>", 1)[0]
    assert "primary_" not in seat_card and "(fixed)" in seat_card
    assert 'data-figure="seat_fee">57.00 USD<' in page.text
    assert 'href="/portal/seats" aria-current="page"' in page.text


def test_r8_adding_a_seat_invoices_its_one_time_fee(
    client: TestClient, world: PortalWorld, sessions: sessionmaker[Session]
) -> None:
    token = sign_in(client, "ana@acme.test")
    added = client.post(
        "/portal/seats",
        data={
            "code": "north",
            "primary_name": "Nora North",
            "primary_email": "nora@acme.test",
            "backup_name": "Ned North",
            "backup_email": "ned@acme.test",
            "csrf_token": token,
        },
    )
    assert added.status_code == 303, added.text
    seat = _seat(sessions, "acme", "north")
    assert (seat.primary_name, seat.primary_email) == ("Nora North", "nora@acme.test")
    assert (seat.backup_name, seat.backup_email) == ("Ned North", "ned@acme.test")
    with sessions() as session:
        invoice = session.scalars(select(Invoice).where(Invoice.seat_id == seat.id)).one()
    assert invoice.kind == "seat_fee" and invoice.total == Decimal("57.00")
    assert invoice.issued_at == AS_OF
    page = client.get("/portal/seats").text
    assert (
        f"Seat north was added for Nora North. Its one-time fee of 57.00 USD is on invoice "
        f"{invoice.number}." in page
    )
    assert 'data-seat="north"' in page and "ned@acme.test" in page
    assert client.get(f"/portal/invoices/{invoice.number}").status_code == 200


def test_r8_adding_a_seat_without_a_backup_and_refusals_name_the_field(
    client: TestClient, world: PortalWorld, sessions: sessionmaker[Session]
) -> None:
    token = sign_in(client, "ana@acme.test")
    missing = client.post(
        "/portal/seats",
        data={"code": "west", "primary_name": "Wes West", "primary_email": "", "csrf_token": token},
    )
    assert missing.status_code == 422
    assert "primary_email" in _error(missing.text)
    assert 'value="Wes West"' in missing.text  # what was typed is kept
    taken = client.post(
        "/portal/seats",
        data={
            "code": "acme-seat",
            "primary_name": "Al Again",
            "primary_email": "al@acme.test",
            "csrf_token": token,
        },
    )
    assert taken.status_code == 409
    assert "already exists" in _error(taken.text)
    ok = client.post(
        "/portal/seats",
        data={
            "code": "west",
            "primary_name": "Wes West",
            "primary_email": "wes@acme.test",
            "csrf_token": token,
        },
    )
    assert ok.status_code == 303
    assert _seat(sessions, "acme", "west").backup_name is None
    with sessions() as session:
        fees = session.scalars(select(Invoice).where(Invoice.kind == "seat_fee")).all()
    assert len(fees) == 3  # acme-seat, other-seat and west: nothing for the refused forms


def test_r8_backup_is_added_replaced_and_removed(
    client: TestClient, world: PortalWorld, sessions: sessionmaker[Session]
) -> None:
    token = sign_in(client, "ana@acme.test")
    seat_id = _seat(sessions, "acme", "acme-seat").id
    for name, email in (("Bo Backup", "bo@acme.test"), ("Cy Roe", "cy@acme.test")):
        saved = client.post(
            f"/portal/seats/{seat_id}/backup",
            data={"backup_name": name, "backup_email": email, "csrf_token": token},
        )
        assert saved.status_code == 303
        seat = _seat(sessions, "acme", "acme-seat")
        assert (seat.backup_name, seat.backup_email) == (name, email)
        assert (seat.primary_name, seat.primary_email) == ("Pat Primary", "pat@acme.test")
    page = client.get("/portal/seats").text
    assert "Seat acme-seat: Cy Roe is now the backup." in page
    assert "Remove backup Cy Roe" in page
    removed = client.post(f"/portal/seats/{seat_id}/backup/remove", data={"csrf_token": token})
    assert removed.status_code == 303
    seat = _seat(sessions, "acme", "acme-seat")
    assert seat.backup_name is None and seat.primary_name == "Pat Primary"
    again = client.post(f"/portal/seats/{seat_id}/backup/remove", data={"csrf_token": token})
    assert again.status_code == 409
    assert "has no backup to remove" in _error(again.text)


def test_r8_a_crafted_post_changing_or_swapping_the_primary_is_refused(
    client: TestClient, world: PortalWorld, sessions: sessionmaker[Session]
) -> None:
    token = sign_in(client, "ana@acme.test")
    seat_id = _seat(sessions, "acme", "acme-seat").id
    crafted = client.post(
        f"/portal/seats/{seat_id}/backup",
        data={
            "primary_name": "Mallory",
            "primary_email": "mallory@acme.test",
            "backup_name": "Bo Backup",
            "backup_email": "bo@acme.test",
            "csrf_token": token,
        },
    )
    assert crafted.status_code == 409
    assert _error(crafted.text) == (
        "the primary of seat acme-seat is fixed and cannot be changed or swapped with the "
        "backup; create a new seat for a new primary"
    )
    direct = client.post(
        f"/portal/seats/{seat_id}/primary",
        data={"primary_name": "Mallory", "primary_email": "m@acme.test", "csrf_token": token},
    )
    assert direct.status_code == 409 and "is fixed" in _error(direct.text)
    # Swapping: the primary's e-mail as the backup is refused too.
    swap = client.post(
        f"/portal/seats/{seat_id}/backup",
        data={"backup_name": "Pat Primary", "backup_email": "PAT@acme.test", "csrf_token": token},
    )
    assert swap.status_code == 422
    assert "backup_email" in _error(swap.text) and "swapped" in _error(swap.text)
    seat = _seat(sessions, "acme", "acme-seat")
    assert (seat.primary_name, seat.primary_email) == ("Pat Primary", "pat@acme.test")
    assert seat.backup_name is None  # nothing of the refused forms was kept
    # Posting the seat's own primary unchanged with a backup is an ordinary backup change.
    same = client.post(
        f"/portal/seats/{seat_id}/backup",
        data={
            "primary_name": "Pat Primary",
            "primary_email": "pat@acme.test",
            "backup_name": "Bo Backup",
            "backup_email": "bo@acme.test",
            "csrf_token": token,
        },
    )
    assert same.status_code == 303


def test_another_accounts_seat_answers_404_and_is_left_alone(
    client: TestClient, world: PortalWorld, sessions: sessionmaker[Session]
) -> None:
    token = sign_in(client, "ana@acme.test")
    theirs = _seat(sessions, "other", "other-seat").id
    for path, data in (
        (f"/portal/seats/{theirs}/backup", {"backup_name": "Eve", "backup_email": "eve@x.test"}),
        (f"/portal/seats/{theirs}/backup/remove", {}),
        (f"/portal/seats/{theirs}/primary", {}),
        ("/portal/seats/999999/backup", {"backup_name": "Eve", "backup_email": "eve@x.test"}),
    ):
        response = client.post(path, data={**data, "csrf_token": token})
        assert response.status_code == 404, path
        assert "does not exist" in response.text and "Other Realty" not in response.text
    seat = _seat(sessions, "other", "other-seat")
    assert seat.backup_name is None and seat.primary_email == "pat@other.test"


def test_seat_forms_without_the_csrf_token_are_refused(
    client: TestClient, world: PortalWorld, sessions: sessionmaker[Session]
) -> None:
    sign_in(client, "ana@acme.test")
    seat_id = _seat(sessions, "acme", "acme-seat").id
    for path, data in (
        ("/portal/seats", {"code": "x", "primary_name": "X", "primary_email": "x@acme.test"}),
        (f"/portal/seats/{seat_id}/backup", {"backup_name": "B", "backup_email": "b@acme.test"}),
        (f"/portal/seats/{seat_id}/backup/remove", {}),
        (f"/portal/seats/{seat_id}/primary", {}),
    ):
        response = client.post(path, data=data)
        assert response.status_code == 403, path
        assert "This form has expired" in response.text
    with sessions() as session:
        assert session.scalar(select(Seat).where(Seat.code == "x")) is None
    assert _seat(sessions, "acme", "acme-seat").backup_name is None


def test_staff_do_not_get_the_customer_pages(client: TestClient, world: PortalWorld) -> None:
    sign_in(client, "vic@operator.test")
    for path in ("/portal/seats", "/portal/licences", "/portal/plan", "/portal/plan/cancel"):
        assert client.get(path).status_code == 403, path
    home = client.get("/portal/staff/reviews").text
    assert 'href="/portal/seats"' not in home and 'href="/portal/plan"' not in home
