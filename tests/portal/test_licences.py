"""The licences page (R19-R22): preview then confirm, removals at period end, the self-serve cap."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from leadbill.accounts.service import get_account
from leadbill.billing.models import Invoice
from leadbill.portal.web import money
from leadbill.subscriptions.models import Subscription
from leadbill.subscriptions.service import current_subscription, preview_licence_change
from tests.portal.account_world import TEAM_AS_OF, TEAM_USER, build_team, portal_client
from tests.portal.conftest import sign_in
from tests.portal.world import PortalWorld, csrf_of


@pytest.fixture
def clock() -> list[datetime]:
    """The portal's clock: July 2, 183/365 of the team's year left."""
    return [TEAM_AS_OF]


@pytest.fixture
def team_client(
    sessions: sessionmaker[Session], database_url: str, clock: list[datetime]
) -> Iterator[TestClient]:
    """A client on the team's data."""
    build_team(sessions)
    with portal_client(sessions, database_url, clock) as client:
        yield client


def _figure(html: str, name: str) -> str:
    found = re.search(rf'data-figure="{name}">([^<]+)<', html)
    assert found, name
    return found.group(1)


def _hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, name
    return found.group(1)


def _subscription(sessions: sessionmaker[Session]) -> Subscription:
    with sessions() as session:
        subscription = current_subscription(session, get_account(session, "team"))
        session.expunge(subscription)
        return subscription


def _licence_invoices(sessions: sessionmaker[Session]) -> list[Invoice]:
    with sessions() as session:
        return list(session.scalars(select(Invoice).where(Invoice.kind == "licences")))


def test_r20_adding_licences_previews_then_charges_the_prorated_amount(
    team_client: TestClient, sessions: sessionmaker[Session]
) -> None:
    client = team_client
    token = sign_in(client, TEAM_USER)
    page = client.get("/portal/licences")
    assert page.status_code == 200
    assert _figure(page.text, "licences_now") == "3"
    assert _figure(page.text, "licence_cap") == "5"
    assert "up to <strong>5</strong> licences yourself" in page.text and "(2 more now)" in page.text
    assert 'href="/portal/licences" aria-current="page"' in page.text

    preview = client.post(
        "/portal/licences/preview", data={"direction": "add", "count": "2", "csrf_token": token}
    )
    assert preview.status_code == 200
    with sessions() as session:
        expected = preview_licence_change(
            session, _subscription(sessions), 2, TEAM_AS_OF, actor="customer"
        )
    assert _figure(preview.text, "total_due_today") == money(expected.total_due_today)
    assert money(expected.total_due_today) == "1,203.29 USD"  # 2 x 1200.00 x 183/365
    assert _figure(preview.text, "next_renewal_amount") == "6,000.00 USD"  # 5 x 1200.00
    assert _figure(preview.text, "licences_next_period") == "5"
    assert _licence_invoices(sessions) == []  # a preview charges nothing

    form = {
        "count": _hidden(preview.text, "count"),
        "expected": _hidden(preview.text, "expected"),
        "key": _hidden(preview.text, "key"),
        "csrf_token": csrf_of(preview.text),
    }
    assert form["expected"] == "1203.29"
    confirmed = client.post("/portal/licences/add", data=form)
    assert confirmed.status_code == 303
    (invoice,) = _licence_invoices(sessions)
    assert confirmed.headers["location"] == f"/portal/invoices/{invoice.number}"
    assert invoice.total == Decimal("1203.29") and invoice.issued_at == TEAM_AS_OF
    assert _subscription(sessions).licences == 5
    shown = client.get(confirmed.headers["location"]).text
    assert (
        f"2 licences added: invoice {invoice.number} charges 1,203.29 USD today, prorated to "
        "the rest of the period. The next renewal charges 6,000.00 USD for 5 licences." in shown
    )
    assert 'data-figure="invoice_total">1,203.29 USD<' in shown

    # The same confirmation sent again adds nothing and charges nothing more.
    again = client.post("/portal/licences/add", data=form)
    assert again.status_code == 303
    assert again.headers["location"] == f"/portal/invoices/{invoice.number}"
    assert len(_licence_invoices(sessions)) == 1 and _subscription(sessions).licences == 5
    # At the cap the page says how to get more.
    full = " ".join(client.get("/portal/licences").text.split())
    assert "You have reached your plan's self-serve cap of <strong>5</strong> licences." in full
    assert "To add more, contact your account manager at the operator" in full


def test_r22_adding_beyond_the_self_serve_cap_is_refused_with_the_reason(
    team_client: TestClient, sessions: sessionmaker[Session]
) -> None:
    client = team_client
    token = sign_in(client, TEAM_USER)
    refused = client.post(
        "/portal/licences/preview", data={"direction": "add", "count": "3", "csrf_token": token}
    )
    assert refused.status_code == 403
    assert (
        "plan team-annual lets a customer manage at most 5 licences; 6 licences need operator "
        "staff to make the change" in refused.text
    )
    assert "contact your account manager" in refused.text
    # A confirmation crafted without a preview is refused the same way.
    crafted = client.post(
        "/portal/licences/add",
        data={"count": "3", "expected": "1804.93", "key": "k" * 24, "csrf_token": token},
    )
    assert crafted.status_code == 403 and "at most 5 licences" in crafted.text
    assert _licence_invoices(sessions) == [] and _subscription(sessions).licences == 3
    bad = client.post(
        "/portal/licences/preview", data={"direction": "add", "count": "two", "csrf_token": token}
    )
    assert bad.status_code == 422 and "count: &#39;two&#39; is not a whole number" in bad.text


def test_r22_past_the_cap_only_staff_change_the_licences(
    sessions: sessionmaker[Session], database_url: str, clock: list[datetime]
) -> None:
    build_team(sessions, licences=7)  # set by staff
    with portal_client(sessions, database_url, clock) as client:
        token = sign_in(client, TEAM_USER)
        page = " ".join(client.get("/portal/licences").text.split())
        assert "only operator staff can change the number of licences" in page
        assert 'id="add-licences"' not in page and 'id="remove-licences"' not in page
        refused = client.post(
            "/portal/licences/preview",
            data={"direction": "remove", "count": "1", "csrf_token": token},
        )
        assert refused.status_code == 403 and "7 licences need operator staff" in refused.text
    assert _subscription(sessions).scheduled_licences is None


def test_r21_a_removal_takes_effect_at_the_period_end_without_refund(
    team_client: TestClient, sessions: sessionmaker[Session]
) -> None:
    client = team_client
    token = sign_in(client, TEAM_USER)
    preview = client.post(
        "/portal/licences/preview",
        data={"direction": "remove", "count": "1", "csrf_token": token},
    )
    assert preview.status_code == 200
    assert _figure(preview.text, "total_due_today") == "0.00 USD"
    assert _figure(preview.text, "next_renewal_amount") == "2,400.00 USD"  # 2 x 1200.00
    confirmed = client.post(
        "/portal/licences/remove",
        data={
            "count": _hidden(preview.text, "count"),
            "key": _hidden(preview.text, "key"),
            "csrf_token": csrf_of(preview.text),
        },
    )
    assert confirmed.status_code == 303
    subscription = _subscription(sessions)
    assert (subscription.licences, subscription.scheduled_licences) == (3, 2)
    assert _licence_invoices(sessions) == []
    page = client.get("/portal/licences").text
    assert (
        "1 licences will be removed at the end of the period (2027-01-01 00:00 UTC), with no "
        "refund. The renewal then charges 2,400.00 USD for 2 licences." in page
    )
    assert _figure(page, "licences_now") == "3" and _figure(page, "licences_next") == "2"
    # The same confirmation again removes nothing more.
    again = client.post(
        "/portal/licences/remove",
        data={"count": "1", "key": _hidden(preview.text, "key"), "csrf_token": token},
    )
    assert again.status_code == 303
    assert _subscription(sessions).scheduled_licences == 2


def test_a_confirmation_at_a_stale_amount_charges_nothing_and_shows_the_new_one(
    team_client: TestClient, sessions: sessionmaker[Session], clock: list[datetime]
) -> None:
    client = team_client
    token = sign_in(client, TEAM_USER)
    preview = client.post(
        "/portal/licences/preview", data={"direction": "add", "count": "2", "csrf_token": token}
    )
    clock[0] = datetime.fromisoformat("2026-07-02T02:00:00+00:00")  # two hours less of the year
    stale = client.post(
        "/portal/licences/add",
        data={
            "count": "2",
            "expected": _hidden(preview.text, "expected"),
            "key": _hidden(preview.text, "key"),
            "csrf_token": token,
        },
    )
    assert stale.status_code == 409
    assert "Nothing was charged" in stale.text
    # 2 x 1200.00 x (183 days - 2 hours) / 365 days = 1202.739...
    assert _figure(stale.text, "total_due_today") == "1,202.74 USD"
    assert _licence_invoices(sessions) == [] and _subscription(sessions).licences == 3


def test_licence_forms_without_the_csrf_token_are_refused(
    team_client: TestClient, sessions: sessionmaker[Session]
) -> None:
    client = team_client
    sign_in(client, TEAM_USER)
    for path, data in (
        ("/portal/licences/preview", {"direction": "add", "count": "1"}),
        ("/portal/licences/add", {"count": "1", "expected": "601.64", "key": "k" * 24}),
        ("/portal/licences/remove", {"count": "1", "key": "k" * 24}),
    ):
        response = client.post(path, data=data)
        assert response.status_code == 403, path
        assert "This form has expired" in response.text
    subscription = _subscription(sessions)
    assert (subscription.licences, subscription.scheduled_licences) == (3, None)
    assert _licence_invoices(sessions) == []


def test_a_lead_plan_has_no_licences_menu_and_the_page_explains_why(
    client: TestClient, world: PortalWorld
) -> None:
    sign_in(client, "ana@acme.test")
    page = client.get("/portal/licences")
    assert page.status_code == 200
    assert "charges for leads, not per licence" in " ".join(page.text.split())
    assert 'href="/portal/licences"' not in page.text
    assert 'href="/portal/seats"' in page.text and 'href="/portal/plan"' in page.text
