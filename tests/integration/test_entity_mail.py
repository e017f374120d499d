"""Each billing entity may send its e-mails from its own address and SMTP server.

Two real SMTP servers on 127.0.0.1 (aiosmtpd): the default one (LEADBILL_SMTP_*)
and the Nordic entity's own, which requires a login whose password the worker
reads from LEADBILL_SMTP_PASSWORD_NORDIC. On both databases.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from leadbill.entities.service import EntityFields, get_entity, update_entity
from leadbill.errors import InvalidInput
from leadbill.mail.delivery import deliver_due
from leadbill.mail.models import MailAttempt, MailMessage
from leadbill.mail.smtp import SmtpServer
from leadbill.settings import Settings
from leadbill.webhooks.delivery import DeliveryPolicy
from tests.integration.payment_world import START, world
from tests.mail_server import Handler, smtp_server

POLICY = DeliveryPolicy(timeout=2, max_attempts=3, backoff_base=30, backoff_cap=600)


def _later() -> datetime:
    """A minute past the wall clock, when every message queued so far is due.

    Messages are queued at the wall clock when the test runs, which in a full suite
    is long after this module was imported, so this is read at each delivery.
    """
    return datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1)


PASSWORD = "nordic mail secret"


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[tuple[Handler, int], tuple[Handler, int]]]:
    """The default server and the Nordic entity's own (login required)."""
    with smtp_server() as default, smtp_server(login=("nordic-mailer", PASSWORD)) as nordic:
        yield default, nordic


@pytest.fixture
def handlers(
    servers: tuple[tuple[Handler, int], tuple[Handler, int]],
) -> Iterator[tuple[Handler, Handler, int, int]]:
    (default, default_port), (nordic, nordic_port) = servers
    default.reset()
    nordic.reset()
    yield default, nordic, default_port, nordic_port
    default.reset()
    nordic.reset()


def _settings(password: str | None = PASSWORD) -> Settings:
    passwords = (("LEADBILL_SMTP_PASSWORD_NORDIC", password),) if password else ()
    return Settings(
        database_url="",
        mail_from="billing@operator.test",
        portal_url="https://bill.example",
        entity_smtp_passwords=passwords,
    )


def _nordic_sends_itself(sessions: sessionmaker[Session], port: int) -> None:
    with sessions.begin() as session:
        world(session)
        update_entity(
            session,
            "nordic",
            EntityFields(
                mail_from="fakturor@leaddata.se",
                smtp_host="127.0.0.1",
                smtp_port=port,
                smtp_security="none",
                smtp_user="nordic-mailer",
            ),
            START,
        )


def _statuses(sessions: sessionmaker[Session]) -> dict[str, str]:
    with sessions() as session:
        return dict(session.execute(select(MailMessage.recipient, MailMessage.status)).all())


def test_an_entity_with_its_own_server_sends_from_it_with_its_login_and_address(
    sessions: sessionmaker[Session], handlers: tuple[Handler, Handler, int, int]
) -> None:
    default, nordic, default_port, nordic_port = handlers
    _nordic_sends_itself(sessions, nordic_port)
    server = SmtpServer("127.0.0.1", default_port, security="none", timeout=2)
    report = deliver_due(sessions, POLICY, server, _settings(), as_of=_later())
    assert report.delivered == 2
    (swedish,) = nordic.arrived
    assert swedish.recipients == ["billing@fjord.test"]
    assert swedish.sender == "fakturor@leaddata.se"
    assert swedish.message["From"] == "fakturor@leaddata.se"
    assert swedish.message["Subject"].startswith("Lead Data Nordic AB")
    (american,) = default.arrived
    assert american.recipients == ["billing@acme.test"]
    assert american.message["From"] == "billing@operator.test"  # LEADBILL_MAIL_FROM
    assert _statuses(sessions) == {"billing@fjord.test": "sent", "billing@acme.test": "sent"}


def test_without_a_default_server_only_entities_with_their_own_send(
    sessions: sessionmaker[Session], handlers: tuple[Handler, Handler, int, int]
) -> None:
    default, nordic, _default_port, nordic_port = handlers
    _nordic_sends_itself(sessions, nordic_port)
    report = deliver_due(sessions, POLICY, None, _settings(), as_of=_later())
    assert report.delivered == 1 and report.attempted == 1
    assert [a.recipients for a in nordic.arrived] == [["billing@fjord.test"]]
    assert default.arrived == []
    # The US entity's invoice waits in the outbox, never attempted.
    assert _statuses(sessions) == {"billing@fjord.test": "sent", "billing@acme.test": "pending"}
    with sessions() as session:
        waiting = session.scalars(
            select(MailMessage).where(MailMessage.recipient == "billing@acme.test")
        ).one()
        assert waiting.attempts == 0
        assert (
            session.scalars(select(MailAttempt).where(MailAttempt.message_id == waiting.id)).all()
            == []
        )


def test_a_missing_password_is_named_and_retried_until_it_is_set(
    sessions: sessionmaker[Session], handlers: tuple[Handler, Handler, int, int]
) -> None:
    _default, nordic, _default_port, nordic_port = handlers
    _nordic_sends_itself(sessions, nordic_port)
    first = _later()
    report = deliver_due(sessions, POLICY, None, _settings(password=None), as_of=first)
    assert report.delivered == 0 and report.retrying == 1
    assert nordic.arrived == []
    with sessions() as session:
        message = session.scalars(
            select(MailMessage).where(MailMessage.recipient == "billing@fjord.test")
        ).one()
        assert message.status == "pending"
        assert (
            message.last_error is not None
            and message.last_error == "no SMTP password: set LEADBILL_SMTP_PASSWORD_NORDIC"
        )
    assert deliver_due(sessions, POLICY, None, _settings(), as_of=first).attempted == 0
    retry = first + POLICY.backoff(1)
    assert deliver_due(sessions, POLICY, None, _settings(), as_of=retry).delivered == 1
    assert len(nordic.arrived) == 1


def test_bad_smtp_settings_are_refused_naming_the_field(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        world(session)
    bad = [
        (EntityFields(smtp_host="mail server!"), "smtp_host"),
        (EntityFields(smtp_host="x" * 254), "smtp_host"),
        (EntityFields(smtp_port=70000), "smtp_port"),
        (EntityFields(smtp_security="ssl"), "smtp_security"),
        (EntityFields(mail_from="not an address"), "mail_from"),
        (EntityFields(smtp_user="a\x00b"), "smtp_user"),
    ]
    for fields, field in bad:
        with sessions.begin() as session, pytest.raises(InvalidInput) as error:
            update_entity(session, "nordic", fields, START)
        assert error.value.field == field
    with sessions.begin() as session:
        update_entity(
            session, "nordic", EntityFields(smtp_host="SMTP.Exämple.se.", smtp_port=465), START
        )
        entity = get_entity(session, "nordic")
        assert (entity.smtp_host, entity.smtp_port) == ("smtp.xn--exmple-cua.se", 465)
        update_entity(session, "nordic", EntityFields(smtp_host="", smtp_port=0), START)
        assert (entity.smtp_host, entity.smtp_port) == (None, None)
