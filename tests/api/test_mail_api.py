"""The mail outbox over the API: list with filters and pages, one message, resend, roles.

The world's two subscribed accounts each have two "invoice issued" messages
(the first fee, the seat fee); a subscription created over the API invites its new
billing contact.
"""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from leadbill.accounts.models import Account
from leadbill.mail.models import MailMessage
from leadbill.password_links.service import invite_customer
from leadbill.portal.models import User
from tests.api.conftest import START, World


def _ids(client: TestClient, world: World, role: str, query: str = "") -> list[int]:
    response = client.get(f"/v1/mail-messages{query}", headers=world.auth(role))
    assert response.status_code == 200, response.text
    return [m["id"] for m in response.json()["data"]]


def _messages_of(sessions: sessionmaker[Session], code: str) -> list[MailMessage]:
    """The account's messages, newest first."""
    with sessions() as session:
        return list(
            session.scalars(
                select(MailMessage)
                .join(Account, Account.id == MailMessage.account_id)
                .where(Account.code == code)
                .order_by(MailMessage.id.desc())
            )
        )


def _message_of(sessions: sessionmaker[Session], code: str) -> MailMessage:
    return _messages_of(sessions, code)[0]


def test_staff_list_every_message_newest_first_and_filter_by_account_status_and_kind(
    client: TestClient, world: World, sessions: sessionmaker[Session]
) -> None:
    acme = [m.id for m in _messages_of(sessions, "acme")]
    other = [m.id for m in _messages_of(sessions, "other")]
    every = sorted([*acme, *other], reverse=True)
    assert len(every) == 4
    assert _ids(client, world, "billing") == every
    assert _ids(client, world, "admin", "?account=acme") == acme
    assert _ids(client, world, "admin", "?status=pending&kind=invoice.issued") == every
    assert _ids(client, world, "admin", "?status=sent") == []
    assert _ids(client, world, "admin", "?kind=portal.invitation") == []
    listed = client.get("/v1/mail-messages?account=acme", headers=world.auth("admin")).json()
    item = listed["data"][0]
    assert (item["kind"], item["account"], item["recipient"], item["status"]) == (
        "invoice.issued",
        "acme",
        "billing@acme.test",
        "pending",
    )


def test_the_list_is_paged_with_the_cursor(client: TestClient, world: World) -> None:
    every = _ids(client, world, "admin")
    seen: list[int] = []
    query = "?limit=3"
    while True:
        page = client.get(f"/v1/mail-messages{query}", headers=world.auth("admin")).json()
        seen += [m["id"] for m in page["data"]]
        if page["page"]["next_cursor"] is None:
            break
        query = f"?limit=3&cursor={page['page']['next_cursor']}"
    assert seen == every and len(every) == 4


def test_a_customer_key_sees_only_its_own_accounts_messages(
    client: TestClient, world: World, sessions: sessionmaker[Session]
) -> None:
    acme, other = _message_of(sessions, "acme"), _message_of(sessions, "other")
    own = [m.id for m in _messages_of(sessions, "acme")]
    assert _ids(client, world, "customer") == own
    assert _ids(client, world, "customer", "?account=acme") == own
    hidden = client.get(f"/v1/mail-messages/{other.id}", headers=world.auth("customer"))
    assert hidden.status_code == 404
    assert hidden.headers["content-type"] == "application/problem+json"
    refused = client.post(f"/v1/mail-messages/{other.id}/resend", headers=world.auth("customer"))
    assert refused.status_code == 404
    elsewhere = client.post(
        f"/v1/mail-messages/{acme.id}/resend",
        json={"to": "me@elsewhere.test"},
        headers=world.auth("customer"),
    )
    assert elsewhere.status_code == 403


def test_one_message_with_its_attempts_and_a_resend(
    client: TestClient, world: World, sessions: sessionmaker[Session]
) -> None:
    acme = _message_of(sessions, "acme")
    shown = client.get(f"/v1/mail-messages/{acme.id}", headers=world.auth("billing")).json()
    assert shown["message_id"] == acme.message_id
    assert (shown["text_body"], shown["attempt_log"]) == (None, [])
    resent = client.post(
        f"/v1/mail-messages/{acme.id}/resend",
        json={"to": "ap@acme.test"},
        headers=world.auth("billing"),
    )
    assert resent.status_code == 200, resent.text
    assert (resent.json()["recipient"], resent.json()["status"]) == ("ap@acme.test", "pending")


def test_bad_input_is_a_problem_naming_the_field(
    client: TestClient, world: World, sessions: sessionmaker[Session]
) -> None:
    acme = _message_of(sessions, "acme")
    status = client.get("/v1/mail-messages?status=lost", headers=world.auth("admin"))
    assert status.status_code == 422
    assert status.headers["content-type"] == "application/problem+json"
    assert status.json()["errors"][0]["field"] == "status"
    address = client.post(
        f"/v1/mail-messages/{acme.id}/resend",
        json={"to": "not an address"},
        headers=world.auth("admin"),
    )
    assert address.status_code == 422
    assert address.json()["errors"][0]["field"] == "to"
    missing = client.get("/v1/mail-messages/999999", headers=world.auth("admin"))
    assert missing.status_code == 404


def test_a_password_link_is_sent_again_only_to_its_user(
    client: TestClient, world: World, sessions: sessionmaker[Session]
) -> None:
    with sessions() as session, session.begin():
        _user, message = invite_customer(
            session, email="nia@acme.test", account_code="acme", as_of=START
        )
    redirected = client.post(
        f"/v1/mail-messages/{message.id}/resend",
        json={"to": "thief@elsewhere.test"},
        headers=world.auth("admin"),
    )
    assert redirected.status_code == 422
    assert redirected.json()["errors"][0]["field"] == "to"
    again = client.post(f"/v1/mail-messages/{message.id}/resend", headers=world.auth("customer"))
    assert again.status_code == 200
    assert again.json()["recipient"] == "nia@acme.test"


def test_a_subscription_for_a_new_contact_invites_its_billing_email(
    client: TestClient, world: World, sessions: sessionmaker[Session]
) -> None:
    created = client.post(
        "/v1/accounts",
        json={"code": "fresh", "billing_email": "Owner@Fresh.test"},
        headers=world.auth("admin"),
    )
    assert created.status_code == 201, created.text
    subscribed = client.post(
        "/v1/subscriptions",
        json={"account": "fresh", "plan": "pkg-100", "start": "2026-02-01T00:00:00Z"},
        headers=world.auth("billing"),
    )
    assert subscribed.status_code == 201, subscribed.text
    invitations = client.get(
        "/v1/mail-messages?account=fresh&kind=portal.invitation", headers=world.auth("admin")
    ).json()["data"]
    assert [(m["recipient"], m["status"]) for m in invitations] == [("owner@fresh.test", "pending")]
    with sessions() as session:
        user = session.scalars(select(User).where(User.email == "owner@fresh.test")).one()
    assert (user.role, user.password_hash) == ("customer", "!")


def test_the_kind_filter_offers_every_kind_the_outbox_queues() -> None:
    from typing import get_args

    from leadbill.mail.schemas import MailKind
    from leadbill.mail.service import KINDS

    assert sorted(get_args(MailKind)) == sorted(KINDS)


def test_the_status_filter_offers_every_status_a_message_takes() -> None:
    from typing import get_args

    from leadbill.mail.schemas import MailStatus
    from leadbill.mail.service import STATUSES

    assert sorted(get_args(MailStatus)) == sorted(STATUSES)
