"""The Notifications form on a customer's billing details page: per user, default on, CSRF."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from leadbill.notifications.service import settings_of
from leadbill.portal.models import User
from tests.portal.conftest import sign_in
from tests.portal.world import PortalWorld


def _choices(sessions: sessionmaker[Session], email: str) -> dict[str, bool]:
    with sessions() as session:
        user_id = session.scalars(select(User.id).where(User.email == email)).one()
        return settings_of(session, user_id)


def test_every_optional_kind_is_on_until_the_user_turns_it_off(
    client: TestClient, world: PortalWorld, sessions: sessionmaker[Session]
) -> None:
    token = sign_in(client, "ana@acme.test")
    page = client.get("/portal/billing-details")
    assert page.status_code == 200
    assert 'id="notifications-heading">Notifications</h2>' in page.text
    assert page.text.count('type="checkbox" name="kind"') == 2
    assert 'value="usage.threshold_reached" checked' in page.text
    saved = client.post(
        "/portal/notifications",
        data={"kind": ["payment.received"], "csrf_token": token},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    assert _choices(sessions, "ana@acme.test") == {
        "usage.threshold_reached": False,
        "payment.received": True,
    }
    page = client.get("/portal/billing-details")
    assert "Notifications saved." in page.text
    assert 'value="usage.threshold_reached" >' in page.text  # unchecked now
    # Another user's choice is theirs: untouched.
    assert _choices(sessions, "oli@other.test") == {
        "usage.threshold_reached": True,
        "payment.received": True,
    }


def test_a_form_without_the_csrf_token_or_with_an_unknown_kind_changes_nothing(
    client: TestClient, world: PortalWorld, sessions: sessionmaker[Session]
) -> None:
    token = sign_in(client, "ana@acme.test")
    forged = client.post("/portal/notifications", data={"kind": []}, follow_redirects=False)
    assert forged.status_code == 403
    unknown = client.post(
        "/portal/notifications",
        data={"kind": ["invoice.issued"], "csrf_token": token},
        follow_redirects=False,
    )
    assert unknown.status_code == 422
    assert "kind" in unknown.text
    assert _choices(sessions, "ana@acme.test") == {
        "usage.threshold_reached": True,
        "payment.received": True,
    }


def test_staff_have_no_notifications_to_choose(client: TestClient, world: PortalWorld) -> None:
    token = sign_in(client, "rosa@operator.test")
    refused = client.post(
        "/portal/notifications", data={"csrf_token": token}, follow_redirects=False
    )
    assert refused.status_code == 403
