"""The staff Outbox page and the invitations from an account's page, over HTTP.

Admin and billing staff search the outbox by account and status, read a
message (its text escaped) and send it again; they invite an account's portal
users. Other staff roles are refused.
"""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from leadbill.accounts.models import Account
from leadbill.mail.models import MailMessage
from leadbill.portal.models import User
from leadbill.portal.users import create_user
from tests.portal.conftest import portal_client, sign_in
from tests.portal.world import PASSWORD, START, PortalWorld

USERS = {"admin": "ada@operator.test", "billing": "bill@operator.test"}


def _staff(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        for role, email in USERS.items():
            create_user(session, email=email, password=PASSWORD, role=role, as_of=START)


def _ids_of(sessions: sessionmaker[Session], code: str) -> list[int]:
    with sessions() as session:
        return list(
            session.scalars(
                select(MailMessage.id)
                .join(Account, Account.id == MailMessage.account_id)
                .where(Account.code == code)
                .order_by(MailMessage.id.desc())
            )
        )


def test_the_outbox_is_searched_by_account_and_status(
    sessions: sessionmaker[Session], database_url: str, world: PortalWorld
) -> None:
    _staff(sessions)
    acme, other = _ids_of(sessions, "acme"), _ids_of(sessions, "other")
    with portal_client(sessions, database_url) as client:
        sign_in(client, USERS["billing"])
        page = client.get("/portal/staff/outbox")
        assert page.status_code == 200
        assert 'href="/portal/staff/outbox" aria-current="page"' in page.text
        for message_id in [*acme, *other]:
            assert f'id="message-{message_id}"' in page.text
        only_acme = client.get("/portal/staff/outbox?account=acme&status=pending").text
        assert all(f'id="message-{i}"' in only_acme for i in acme)
        assert not any(f'id="message-{i}"' in only_acme for i in other)
        assert 'id="message-' not in client.get("/portal/staff/outbox?status=sent").text
        bad = client.get("/portal/staff/outbox?status=lost")
        assert bad.status_code == 422 and "status: &#39;lost&#39; is not one of" in bad.text
        assert client.get("/portal/staff/outbox?account=ghost").status_code == 404


def test_a_message_shows_its_text_escaped_and_is_sent_again_with_csrf(
    sessions: sessionmaker[Session], database_url: str, world: PortalWorld
) -> None:
    _staff(sessions)
    with sessions.begin() as session:
        account = session.scalars(select(Account).where(Account.code == "acme")).one()
        account.name = "Acme <script>alert(1)</script>"
    message_id = _ids_of(sessions, "acme")[0]
    with portal_client(sessions, database_url) as client:
        settings = client.app.state.portal_settings  # type: ignore[attr-defined]
        client.app.state.portal_settings = replace(settings, mail_from="ops@operator.test")  # type: ignore[attr-defined]
        csrf = sign_in(client, USERS["admin"])
        page = client.get(f"/portal/staff/outbox/{message_id}")
        assert page.status_code == 200
        text = page.text.split('id="text-part">')[1].split("</pre>")[0]
        assert "Hello Acme &lt;script&gt;alert(1)&lt;/script&gt;," in text
        assert "<script>alert" not in page.text
        forged = client.post(f"/portal/staff/outbox/{message_id}/resend", data={"csrf_token": "x"})
        assert forged.status_code == 403
        with sessions.begin() as session:
            session.get_one(MailMessage, message_id).status = "failed"
        sent = client.post(f"/portal/staff/outbox/{message_id}/resend", data={"csrf_token": csrf})
        assert sent.status_code == 303
        shown = client.get(sent.headers["location"]).text
        assert f"Mail message {message_id} is queued to be sent again." in shown
    with sessions() as session:
        assert session.get_one(MailMessage, message_id).status == "pending"


def test_staff_invite_a_portal_user_from_the_account_page_and_invite_again(
    sessions: sessionmaker[Session], database_url: str, world: PortalWorld
) -> None:
    _staff(sessions)
    with portal_client(sessions, database_url) as client:
        csrf = sign_in(client, USERS["billing"])
        invited = client.post(
            "/portal/staff/accounts/acme/users", data={"email": "Nia@Acme.test", "csrf_token": csrf}
        )
        assert invited.status_code == 303
        page = client.get("/portal/staff/accounts/acme").text
        assert "nia@acme.test is invited" in page
        with sessions() as session:
            user = session.scalars(select(User).where(User.email == "nia@acme.test")).one()
        row = page.split(f'id="user-{user.id}"')[1].split("</tr>")[0]
        assert "invited, not chosen yet" in row
        again = client.post(
            f"/portal/staff/accounts/acme/users/{user.id}/invite", data={"csrf_token": csrf}
        )
        assert again.status_code == 303
        # Another account's user is not reached through this account.
        assert (
            client.post(
                f"/portal/staff/accounts/other/users/{user.id}/invite", data={"csrf_token": csrf}
            ).status_code
            == 404
        )
        wrong = client.post(
            "/portal/staff/accounts/acme/users", data={"email": "nobody", "csrf_token": csrf}
        )
        assert wrong.status_code == 422 and "email:" in wrong.text
    with sessions() as session:
        kinds = session.scalars(
            select(MailMessage.recipient).where(MailMessage.kind == "portal.invitation")
        ).all()
    assert kinds == ["nia@acme.test", "nia@acme.test"]


def test_other_staff_roles_may_not_read_the_outbox_or_invite(
    sessions: sessionmaker[Session], database_url: str, world: PortalWorld
) -> None:
    with portal_client(sessions, database_url) as client:
        csrf = sign_in(client, world.users["viewer"])
        assert client.get("/portal/staff/outbox").status_code == 403
        assert 'href="/portal/staff/outbox"' not in client.get("/portal/staff/accounts").text
        assert (
            'action="/portal/staff/accounts/acme/users"'
            not in client.get("/portal/staff/accounts/acme").text
        )
        refused = client.post(
            "/portal/staff/accounts/acme/users", data={"email": "x@acme.test", "csrf_token": csrf}
        )
        assert refused.status_code == 403
