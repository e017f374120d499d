"""Due dates, overdue badges, writing an invoice off and the receivables page, over HTTP."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from leadbill.api import create_app
from leadbill.billing.invoices import get_invoice
from leadbill.settings import Settings
from tests.integration.receivables_world import (
    AS_OF,
    UNCOLLECTIBLE_REASON,
    USERS,
    ReceivablesWorld,
    build_receivables_world,
)
from tests.portal.conftest import sign_in


@pytest.fixture
def world(sessions: sessionmaker[Session]) -> ReceivablesWorld:
    """The invoices of receivables_world, with portal users."""
    return build_receivables_world(sessions, users=True)


@pytest.fixture
def client(sessions: sessionmaker[Session], database_url: str) -> Iterator[TestClient]:
    """A browser-like client with the portal's clock at the world's AS_OF."""
    app = create_app(sessions)
    app.state.portal_clock = lambda: AS_OF
    app.state.portal_settings = Settings(database_url=database_url)
    with TestClient(
        app, base_url="https://testserver", raise_server_exceptions=False, follow_redirects=False
    ) as client:
        yield client


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def _row(html: str, row_id: str) -> str:
    found = re.search(rf'<tr id="{row_id}">(.*?)</tr>', html, re.S)
    assert found, row_id
    return _text(found.group(1))


def _badges(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-overdue="([^"]+)">([^<]+)<', html))


def test_a_customer_sees_due_dates_and_only_its_own_overdue_invoices(
    client: TestClient, world: ReceivablesWorld
) -> None:
    numbers = world.numbers
    sign_in(client, USERS["acme"])
    listing = client.get("/portal/invoices").text
    # New York is still on June 30: A3 (due June 29) is one day late, A4 (due June 30) is not.
    assert _badges(listing) == {numbers["A2"]: "Overdue 14 days", numbers["A3"]: "Overdue 1 day"}
    assert _row(listing, f"invoice-{numbers['A2']}") == (
        f"{numbers['A2']} 2026-06-01 2026-06-16 Overdue 14 days open 500.00 USD 300.00 USD"
    )
    assert _row(listing, f"invoice-{numbers['A4']}") == (
        f"{numbers['A4']} 2026-06-15 2026-06-30 open 40.00 USD 40.00 USD"
    )
    assert numbers["B1"] not in listing
    page = client.get(f"/portal/invoices/{numbers['A3']}").text
    assert 'data-figure="due_on">2026-06-29<' in page
    assert _badges(page) == {numbers["A3"]: "Overdue 1 day"}
    for name in ("B1", "F1"):  # another account's overdue invoice does not exist for acme
        assert client.get(f"/portal/invoices/{numbers[name]}").status_code == 404
    assert client.get("/portal/staff/receivables").status_code == 403


def test_staff_invoices_show_due_dates_and_overdue_badges(
    client: TestClient, world: ReceivablesWorld
) -> None:
    numbers = world.numbers
    sign_in(client, USERS["viewer"])
    page = client.get("/portal/staff/invoices?account=bolt").text
    assert _badges(page) == {
        numbers["B1"]: "Overdue 61 days",
        numbers["B2"]: "Overdue 91 days",
        numbers["B4"]: "Overdue 30 days",
    }
    assert _row(page, f"invoice-{numbers['B3']}").endswith(
        "2026-03-03 period uncollectible 700.00 USD 700.00 USD"
    )
    assert ">Mark uncollectible<" not in page  # a viewer writes nothing off
    detail = client.get(f"/portal/invoices/{numbers['B3']}").text
    assert f"Marked uncollectible on 2026-06-19 20:00: {UNCOLLECTIBLE_REASON}" in _text(detail)


def test_billing_marks_an_invoice_uncollectible_from_the_invoices_page(
    client: TestClient, world: ReceivablesWorld, sessions: sessionmaker[Session]
) -> None:
    number = world.numbers["B1"]
    token = sign_in(client, USERS["billing"])
    page = client.get("/portal/staff/invoices?account=bolt&status=open").text
    assert f'action="/portal/staff/invoices/{number}/uncollectible"' in page
    done = client.post(
        f"/portal/staff/invoices/{number}/uncollectible",
        data={
            "reason": "No answer since April",
            "account": "bolt",
            "status": "open",
            "csrf_token": token,
        },
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/portal/staff/invoices?account=bolt&status=open"
    after = client.get(done.headers["location"]).text
    assert f"Invoice {number} is uncollectible: it left the receivables" in after
    assert f'id="invoice-{number}"' not in after  # no longer open
    with sessions() as session:
        invoice = get_invoice(session, number)
        assert invoice.status == "uncollectible" and invoice.uncollectible_at == AS_OF
        assert invoice.uncollectible_reason == "No answer since April"
    aging = client.get("/portal/staff/receivables?account=bolt").text
    assert _row(aging, "aging-us-bolt-USD") == (
        "bolt USD 2 0.00 USD 10.01 USD 0.00 USD 0.00 USD 999.00 USD 1,009.01 USD"
    )


@pytest.mark.parametrize(
    ("name", "reason", "status", "problem"),
    [
        ("B1", "x" * 301, 422, "reason: must be at most 300 characters"),
        ("B1", "   ", 422, "reason: is required"),
        ("A5", "Gone", 409, "is paid; nothing is left to collect"),
    ],
)
def test_a_refused_write_off_shows_the_form_again_with_the_text_kept(
    client: TestClient,
    world: ReceivablesWorld,
    sessions: sessionmaker[Session],
    name: str,
    reason: str,
    status: int,
    problem: str,
) -> None:
    number = world.numbers[name]
    token = sign_in(client, USERS["admin"])
    response = client.post(
        f"/portal/staff/invoices/{number}/uncollectible",
        data={"reason": reason, "account": "", "status": "", "csrf_token": token},
    )
    assert response.status_code == status
    assert f"Invoice {number} was not marked uncollectible: " in response.text
    assert problem in response.text
    if name == "B1":  # the open invoice's form is open again, with what was typed
        assert re.search(r'<details class="write-off" open>', response.text)
        assert f">{reason}</textarea>" in response.text
    with sessions() as session:
        assert get_invoice(session, number).status in ("open", "paid")


def test_a_write_off_needs_the_billing_role_and_the_csrf_token(
    client: TestClient, world: ReceivablesWorld, sessions: sessionmaker[Session]
) -> None:
    number = world.numbers["B1"]
    token = sign_in(client, USERS["viewer"])
    form = {"reason": "Gone", "csrf_token": token}
    refused = client.post(f"/portal/staff/invoices/{number}/uncollectible", data=form)
    assert refused.status_code == 403 and "may not do this" in refused.text
    forged = client.post(f"/portal/staff/invoices/{number}/uncollectible", data={"reason": "x"})
    assert forged.status_code == 403 and "This form has expired" in forged.text
    with sessions() as session:
        assert get_invoice(session, number).status == "open"


def test_receivables_page_buckets_each_entity_and_account(
    client: TestClient, world: ReceivablesWorld
) -> None:
    sign_in(client, USERS["viewer"])
    page = client.get("/portal/staff/receivables").text
    assert 'data-figure="aging_as_of">2026-06-30 23:00<' in page  # AS_OF in New York
    assert _row(page, "aging-us-acme-USD") == (
        "acme USD 4 140.00 USD 350.00 USD 0.00 USD 0.00 USD 0.00 USD 490.00 USD"
    )
    assert _row(page, "aging-us-bolt-USD") == (
        "bolt USD 3 0.00 USD 10.01 USD 0.00 USD 1,200.00 USD 999.00 USD 2,209.01 USD"
    )
    assert _row(page, "aging-nordic-fjord-EUR") == (
        "fjord EUR 2 250.00 EUR 0.00 EUR 400.00 EUR 0.00 EUR 0.00 EUR 650.00 EUR"
    )
    assert _row(page, "aging-us-USD") == (
        "All accounts USD 7 140.00 USD 360.01 USD 0.00 USD 1,200.00 USD 999.00 USD 2,699.01 USD"
    )
    assert _row(page, "aging-total-USD") == (
        "Total USD 9 140.00 USD 360.01 USD 60.00 USD 1,275.50 USD 999.00 USD 2,834.51 USD"
    )
    assert _row(page, "aging-total-EUR").startswith("Total EUR 2 250.00 EUR")


def test_receivables_csv_totals_equal_the_pages(
    client: TestClient, world: ReceivablesWorld
) -> None:
    sign_in(client, USERS["billing"])
    page = client.get("/portal/staff/receivables?as_of=2026-06-30T23:00&entity=us").text
    link = re.search(r'href="(/portal/staff/receivables\.csv\?[^"]+)"', page)
    assert link, "the page links its CSV"
    response = client.get(link.group(1).replace("&amp;", "&"))
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["row"], r["account"], r["total"]) for r in rows] == [
        ("account", "acme", "490.00"),
        ("account", "bolt", "2209.01"),
        ("entity", "", "2699.01"),
        ("total", "", "2699.01"),
    ]
    shown = _row(page, "aging-total-USD").replace(",", "").replace(" USD", "").split()
    (total,) = [r for r in rows if r["row"] == "total"]
    columns = ("invoices", "current", "days_1_30", "days_31_60", "days_61_90", "over_90", "total")
    assert shown[1:] == [total[c] for c in columns]


def test_receivables_page_refuses_a_bad_as_of_and_an_unknown_entity(
    client: TestClient, world: ReceivablesWorld
) -> None:
    sign_in(client, USERS["viewer"])
    bad = client.get("/portal/staff/receivables?as_of=June")
    assert bad.status_code == 422
    assert "as_of: " in bad.text and 'value="June"' in bad.text
    assert client.get("/portal/staff/receivables?entity=ghost").status_code == 404
    empty = client.get("/portal/staff/receivables?as_of=2026-01-15T00:00").text
    assert "Nothing is owed as of then." in empty
