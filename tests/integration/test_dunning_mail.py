"""Dunning reminders through a real SMTP server on 127.0.0.1, on both databases: what
the customer receives, and a reminder queued for an invoice paid before it went out."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from leadbill import console
from leadbill.cli import app
from leadbill.mail.delivery import deliver_due
from leadbill.mail.models import MailMessage
from leadbill.mail.smtp import SmtpServer
from leadbill.settings import Settings
from leadbill.webhooks.delivery import DeliveryPolicy
from tests.integration.dunning_world import DUE, at_ten, pay, run_days, world
from tests.mail_server import Handler, smtp_server

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
    """The module's server, emptied, and how the worker reaches it."""
    handler, port = server
    handler.reset()
    yield handler, SmtpServer("127.0.0.1", port, security="none", timeout=2)
    handler.reset()


def _reminders(sessions: sessionmaker[Session]) -> list[MailMessage]:
    with sessions() as session:
        return list(
            session.scalars(
                select(MailMessage)
                .where(MailMessage.kind == "invoice.reminder")
                .order_by(MailMessage.id)
            )
        )


def test_a_reminder_arrives_with_amount_due_dates_days_overdue_and_the_pdf(
    sessions: sessionmaker[Session], smtp: tuple[Handler, SmtpServer]
) -> None:
    handler, server = smtp
    number = world(sessions, time_zone="America/New_York")
    pay(sessions, number, "1000.00", at_ten(date(2026, 3, 10)))
    run_days(sessions, [DUE + timedelta(days=3)])  # step 3, queued at 06:00 in New York
    sent_at = at_ten(DUE + timedelta(days=3)) + timedelta(minutes=1)
    # The invoice-issued message (queued at the wall clock) is not due at this instant;
    # the partial payment's receipt and the reminder are.
    report = deliver_due(sessions, POLICY, server, SETTINGS, as_of=sent_at)
    assert (report.attempted, report.delivered) == (2, 2)
    (arrived,) = [m for m in handler.arrived if "overdue" in str(m.message["Subject"])]
    assert arrived.recipients == ["billing@acme.test"]
    mail = arrived.message
    # A subject this long is folded onto a second header line; unfolded it reads:
    assert " ".join(str(mail["Subject"]).split()) == (
        f"Leadbill Demo Inc.: invoice {number} is 3 days overdue, 234.50 USD to pay"
    )
    text = mail.get_body(("plain",))
    html = mail.get_body(("html",))
    assert text is not None and html is not None
    body = text.get_content()
    assert f"Invoice {number} from Leadbill Demo Inc. was due on 2026-03-16" in body
    assert "is 3 days overdue" in body
    assert "Amount due:   234.50 USD" in body
    assert f"Invoice:      {number} (issued on 2026-03-01, total 1,234.50 USD)" in body
    assert "Days overdue: 3" in body
    assert "Dates are in America/New_York." in body
    assert f"https://bill.example/portal/invoices/{number}" in body
    assert "<strong>234.50 USD</strong>" in html.get_content()
    (attachment,) = list(mail.iter_attachments())
    assert attachment.get_filename() == f"{number}.pdf"
    assert attachment.get_content().startswith(b"%PDF")
    (message,) = _reminders(sessions)
    assert (message.status, message.sent_at) == ("sent", sent_at)
    assert message.subject == " ".join(str(mail["Subject"]).split())


def test_a_reminder_queued_for_an_invoice_paid_before_delivery_is_cancelled_not_sent(
    sessions: sessionmaker[Session],
    smtp: tuple[Handler, SmtpServer],
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    handler, server = smtp
    number = world(sessions)
    run_days(sessions, [DUE])
    (queued,) = _reminders(sessions)
    assert queued.status == "pending"
    pay(sessions, number, "1234.50", at_ten(DUE) + timedelta(minutes=30))
    report = deliver_due(sessions, POLICY, server, SETTINGS, as_of=at_ten(DUE) + timedelta(hours=1))
    # Only the payment's receipt goes out; the reminder is cancelled.
    assert (report.attempted, report.delivered, report.cancelled) == (1, 1, 1)
    assert [" ".join(str(m.message["Subject"]).split()) for m in handler.arrived] == [
        f"Leadbill Demo Inc.: payment of 1,234.50 USD received for invoice {number}"
    ]
    (cancelled,) = _reminders(sessions)
    assert cancelled.status == "cancelled"
    assert cancelled.sent_at is None
    assert cancelled.last_error == f"not sent: invoice {number} is paid"
    # Visible in the outbox, and never due again.
    monkeypatch.setenv("LEADBILL_DATABASE_URL", database_url)
    monkeypatch.setattr(console.out, "width", 250)
    console.sessions.cache_clear()
    try:
        listing = CliRunner().invoke(app, ["mail", "list", "--status", "cancelled"])
    finally:
        console.sessions().kw["bind"].dispose()
        console.sessions.cache_clear()
    assert listing.exit_code == 0, listing.output
    assert "invoice.reminder" in listing.output and "cancelled" in listing.output
    assert f"not sent: invoice {number} is paid" in listing.output
    handler.reset()
    later = deliver_due(sessions, POLICY, server, SETTINGS, as_of=at_ten(DUE) + timedelta(days=2))
    assert (later.attempted, later.cancelled) == (0, 0) and handler.arrived == []


def test_the_job_cancels_queued_reminders_of_a_settled_invoice_without_smtp(
    sessions: sessionmaker[Session],
) -> None:
    number = world(sessions)
    run_days(sessions, [DUE])
    pay(sessions, number, "1234.50", at_ten(DUE) + timedelta(minutes=30))
    result = run_days(sessions, [DUE + timedelta(days=1)])
    assert result.cancelled == 1
    (message,) = _reminders(sessions)
    assert message.status == "cancelled"
