"""The mail outbox delivered through a real SMTP server on 127.0.0.1, on both databases.

One server for the module (aiosmtpd); each test resets what it recorded. The
clock is passed in (`as_of`), so backoff is tested without waiting.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from leadbill.accounts.service import create_account
from leadbill.billing.models import Invoice
from leadbill.errors import InvalidInput
from leadbill.mail import service
from leadbill.mail.delivery import deliver_due, deliver_round
from leadbill.mail.messages import environment
from leadbill.mail.models import MailMessage
from leadbill.mail.smtp import SmtpServer
from leadbill.settings import Settings
from leadbill.subscriptions.service import create_subscription
from leadbill.webhooks.delivery import DeliveryPolicy
from leadbill.webhooks.models import WebhookEvent
from leadbill.webhooks.service import create_endpoint
from tests.integration.usage_fixtures import START, account, plan, subscribed
from tests.mail_server import Handler, free_port, smtp_server

POLICY = DeliveryPolicy(timeout=2, max_attempts=3, backoff_base=30, backoff_cap=600)
SETTINGS = Settings(
    database_url="", mail_from="billing@operator.test", portal_url="https://bill.example"
)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[Handler, int]]:
    """One SMTP server for the whole module."""
    with smtp_server() as running:
        yield running


@pytest.fixture
def smtp(server: tuple[Handler, int]) -> Iterator[tuple[Handler, SmtpServer]]:
    """The module's server, emptied, and how the worker reaches it (no TLS on loopback)."""
    handler, port = server
    handler.reset()
    yield handler, SmtpServer("127.0.0.1", port, security="none", timeout=2)
    handler.reset()


@pytest.fixture
def t0() -> datetime:
    """A minute ahead: messages queued during the test (at the wall clock) are due by then."""
    return datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1)


def _invoiced(sessions: sessionmaker[Session]) -> int:
    """An account whose subscription's first invoice (the fee in advance) is issued."""
    with sessions() as session, session.begin():
        subscribed(session, "acme", plan(session, "pkg-10", "1234.50", 10, "9.50"))
    with sessions() as session:
        return session.scalars(select(MailMessage.id)).one()


def _message(sessions: sessionmaker[Session], message_id: int) -> MailMessage:
    with sessions() as session:
        return session.get_one(MailMessage, message_id)


def test_an_issued_invoice_arrives_with_text_html_and_its_pdf(
    sessions: sessionmaker[Session], smtp: tuple[Handler, SmtpServer], t0: datetime
) -> None:
    handler, server = smtp
    message_id = _invoiced(sessions)
    queued = _message(sessions, message_id)
    assert (queued.kind, queued.status, queued.recipient) == (
        "invoice.issued",
        "pending",
        "billing@acme.test",
    )
    report = deliver_due(sessions, POLICY, server, SETTINGS, as_of=t0)
    assert (report.attempted, report.delivered) == (1, 1)
    (arrived,) = handler.arrived
    assert arrived.recipients == ["billing@acme.test"]
    assert arrived.sender == "billing@operator.test"
    mail = arrived.message
    assert mail["Subject"] == "leadbill: invoice INV-000001 for 1,234.50 USD"
    assert mail["Message-ID"] == queued.message_id
    text = mail.get_body(("plain",))
    html = mail.get_body(("html",))
    assert text is not None and html is not None
    assert "issued invoice INV-000001 on 2026-01-01 for 1,234.50 USD" in text.get_content()
    assert "https://bill.example/portal/invoices/INV-000001" in text.get_content()
    assert '<a href="https://bill.example/portal/invoices/INV-000001">' in html.get_content()
    (attachment,) = list(mail.iter_attachments())
    assert attachment.get_filename() == "INV-000001.pdf"
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content().startswith(b"%PDF")
    sent = _message(sessions, message_id)
    assert (sent.status, sent.sent_at, sent.attachments) == ("sent", t0, "INV-000001.pdf")
    assert sent.subject == mail["Subject"]
    assert sent.text_body == text.get_content().replace("\r\n", "\n")
    # Sent once: nothing is due any more, even much later.
    assert (
        deliver_due(sessions, POLICY, server, SETTINGS, as_of=t0 + timedelta(days=9)).attempted == 0
    )
    assert len(handler.arrived) == 1
    with sessions() as session:
        (attempt,) = service.attempts_of(session, message_id)
        assert (attempt.number, attempt.code, attempt.outcome) == (1, 250, "sent")


def test_dates_are_in_the_account_time_zone(
    sessions: sessionmaker[Session], smtp: tuple[Handler, SmtpServer], t0: datetime
) -> None:
    handler, server = smtp
    with sessions() as session, session.begin():
        customer = account(session, "tokyo", time_zone="Asia/Tokyo")
        create_subscription(
            session,
            account=customer,
            plan=plan(session, "pkg-5", "100.00", 5, "9.50"),
            start=datetime(2026, 1, 31, 20, tzinfo=UTC),  # Feb 1 in Tokyo
        )
    deliver_due(sessions, POLICY, server, SETTINGS, as_of=t0)
    (arrived,) = handler.arrived
    body = arrived.message.get_body(("plain",))
    assert body is not None
    assert "on 2026-02-01 for 100.00 USD" in body.get_content()
    assert "Dates are in Asia/Tokyo." in body.get_content()


def test_a_server_that_is_down_is_retried_with_backoff_and_nothing_is_lost(
    sessions: sessionmaker[Session], smtp: tuple[Handler, SmtpServer], t0: datetime
) -> None:
    handler, server = smtp
    message_id = _invoiced(sessions)
    down = SmtpServer("127.0.0.1", free_port(), security="none", timeout=2)
    assert deliver_due(sessions, POLICY, down, SETTINGS, as_of=t0).retrying == 1
    assert _message(sessions, message_id).status == "pending"
    assert (
        deliver_due(sessions, POLICY, server, SETTINGS, as_of=t0 + timedelta(seconds=29)).attempted
        == 0
    )
    handler.replies.append("451 4.3.0 try again later")
    later = t0 + timedelta(seconds=30)
    assert deliver_due(sessions, POLICY, server, SETTINGS, as_of=later).retrying == 1
    # The second wait doubles: 60 s after the second attempt.
    assert (
        deliver_due(
            sessions, POLICY, server, SETTINGS, as_of=later + timedelta(seconds=59)
        ).attempted
        == 0
    )
    assert (
        deliver_due(
            sessions, POLICY, server, SETTINGS, as_of=later + timedelta(seconds=60)
        ).delivered
        == 1
    )
    assert _message(sessions, message_id).status == "sent"
    with sessions() as session:
        log = [(a.code, a.outcome) for a in service.attempts_of(session, message_id)]
    assert log[0] == (None, "retry") and log[1:] == [(451, "retry"), (250, "sent")]
    assert len(handler.arrived) == 2  # the 451 one was received and refused


def test_a_permanent_refusal_is_failed_at_once_shown_and_sent_as_a_webhook_event(
    sessions: sessionmaker[Session], smtp: tuple[Handler, SmtpServer], t0: datetime
) -> None:
    handler, server = smtp
    message_id = _invoiced(sessions)
    with sessions() as session, session.begin():
        create_endpoint(
            session, url="https://hooks.example/in", event_types=["mail.failed"], as_of=t0
        )
    handler.replies.append("550 5.1.1 mailbox unavailable")
    report = deliver_due(sessions, POLICY, server, SETTINGS, as_of=t0)
    assert (report.attempted, report.failed) == (1, 1)
    failed = _message(sessions, message_id)
    assert (failed.status, failed.last_code) == ("failed", 550)
    assert failed.last_error is not None and "mailbox unavailable" in failed.last_error
    assert (
        deliver_due(sessions, POLICY, server, SETTINGS, as_of=t0 + timedelta(days=1)).attempted == 0
    )
    with sessions() as session:
        (event,) = session.scalars(select(WebhookEvent)).all()
    assert event.event_type == "mail.failed" and '"smtp_code":550' in event.body
    # Resent on request, it goes.
    with sessions() as session, session.begin():
        service.resend(session, message_id, as_of=t0)
    assert deliver_due(sessions, POLICY, server, SETTINGS, as_of=t0).delivered == 1


def test_a_template_error_keeps_the_message_and_records_why(
    sessions: sessionmaker[Session],
    smtp: tuple[Handler, SmtpServer],
    t0: datetime,
    tmp_path: Path,
) -> None:
    handler, server = smtp
    message_id = _invoiced(sessions)
    for name in ("invoice_issued.subject.txt", "invoice_issued.html"):
        (tmp_path / name).write_text("{{ number }}")
    (tmp_path / "invoice_issued.txt").write_text("{{ no_such_name }}")
    broken = environment(tmp_path)
    report = deliver_round(sessions, POLICY, server, SETTINGS, as_of=t0, templates=broken)
    assert report.retrying == 1 and handler.arrived == []
    kept = _message(sessions, message_id)
    assert kept.status == "pending" and kept.last_error is not None
    assert "no_such_name" in kept.last_error
    # With the templates fixed, the message goes at its next attempt.
    assert (
        deliver_due(sessions, POLICY, server, SETTINGS, as_of=t0 + timedelta(seconds=30)).delivered
        == 1
    )


def test_an_invalid_recipient_is_refused_naming_the_field(
    sessions: sessionmaker[Session], smtp: tuple[Handler, SmtpServer], t0: datetime
) -> None:
    handler, server = smtp
    message_id = _invoiced(sessions)
    with sessions() as session, session.begin():
        with pytest.raises(InvalidInput) as refused:
            service.resend(session, message_id, as_of=t0, to="billing at acme")
        assert refused.value.field == "to"
    with sessions() as session, session.begin():
        service.resend(session, message_id, as_of=t0, to="ap@acme.test")
    deliver_due(sessions, POLICY, server, SETTINGS, as_of=t0)
    assert [a.recipients for a in handler.arrived] == [["ap@acme.test"]]


def test_an_account_is_refused_an_address_that_no_mail_can_reach(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session, session.begin(), pytest.raises(InvalidInput) as refused:
        create_account(
            session,
            code="odd",
            name="Odd",
            currency="USD",
            time_zone="UTC",
            billing_email="odd@localhost",
            as_of=START,
        )
    assert refused.value.field == "billing_email"
    assert "'odd@localhost' is not an e-mail address" in refused.value.reason


def test_an_account_address_that_is_not_one_fails_its_message_and_billing_goes_on(
    sessions: sessionmaker[Session], smtp: tuple[Handler, SmtpServer], t0: datetime
) -> None:
    handler, server = smtp
    with sessions() as session, session.begin():
        customer = create_account(
            session,
            code="odd",
            name="Odd",
            currency="USD",
            time_zone="UTC",
            billing_email="odd@example.com",
            as_of=START,
        )
        # An address stored before addresses were checked (create_account refuses it now).
        customer.billing_email = "odd@localhost"
        create_subscription(
            session,
            account=customer,
            plan=plan(session, "pkg-10", "500.00", 10, "9.50"),
            start=START,
        )
    with sessions() as session:
        assert session.scalar(select(func.count(Invoice.id))) == 1
        (queued,) = session.scalars(select(MailMessage)).all()
    # The invoice is issued all the same; the worker refuses the address, naming the field.
    assert queued.status == "pending"
    deliver_due(sessions, POLICY, server, SETTINGS, as_of=t0)
    with sessions() as session:
        message = session.get_one(MailMessage, queued.id)
    # Failed at its one attempt, without a word to the SMTP server, and never retried.
    assert (message.status, message.attempts) == ("failed", 1)
    assert (
        message.last_error == "not sent: 'odd@localhost' is not an e-mail address (billing_email)"
    )
    assert handler.arrived == []
    later = t0 + timedelta(days=1)
    assert deliver_due(sessions, POLICY, server, SETTINGS, as_of=later).attempted == 0
