"""`leadbill mail list|show|resend` and the worker sending mail, killed mid-delivery too."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from leadbill import console
from leadbill.cli import app
from leadbill.mail import service
from leadbill.mail.delivery import deliver_due
from leadbill.mail.models import MailMessage
from leadbill.mail.smtp import SmtpServer
from leadbill.settings import Settings
from leadbill.webhooks.delivery import DeliveryPolicy
from tests.integration.usage_fixtures import plan, subscribed
from tests.mail_server import Handler, smtp_server

runner = CliRunner()
WORKER = [sys.executable, "-c", "from leadbill.cli import app; app()", "worker"]


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[Handler, int]]:
    """One SMTP server for the whole module."""
    with smtp_server() as running:
        yield running


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The CLI pointed at the test database, with no SMTP server configured."""
    monkeypatch.setenv("LEADBILL_DATABASE_URL", database_url)
    monkeypatch.setenv("LEADBILL_BILLING_INTERVAL_MINUTES", "0")  # delivery only, no billing
    monkeypatch.setenv("LEADBILL_DUNNING_INTERVAL_MINUTES", "0")  # and no reminders
    monkeypatch.delenv("LEADBILL_SMTP_HOST", raising=False)
    monkeypatch.setenv("LEADBILL_MAIL_FROM", "billing@operator.test")
    monkeypatch.setattr(console.out, "width", 250)
    console.sessions.cache_clear()
    yield
    console.sessions().kw["bind"].dispose()
    console.sessions.cache_clear()


def _run(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_without_smtp_messages_stay_queued_and_show_prints_them(
    cli: None,
    sessions: sessionmaker[Session],
    server: tuple[Handler, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    handler, port = server
    handler.reset()
    with sessions() as session, session.begin():
        subscribed(session, "acme", plan(session, "pkg-10", "500.00", 10, "9.50"))
    assert "no SMTP server configured" in _run("worker", "--once")
    listing = _run("mail", "list")
    assert "invoice.issued" in listing and "billing@acme.test" in listing and "pending" in listing
    shown = _run("mail", "show", "1")
    assert "not sent yet; as it will be sent:" in shown
    assert "Subject: leadbill: invoice INV-000001 for 500.00 USD" in shown
    assert "From: billing@operator.test" in shown and "INV-000001.pdf (" in shown
    assert "--- text/html" in shown and "<strong>INV-000001</strong>" in shown
    wrong = runner.invoke(app, ["mail", "resend", "1", "--to", "nobody"])
    assert wrong.exit_code == 2 and "to:" in wrong.output
    assert handler.arrived == []

    monkeypatch.setenv("LEADBILL_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("LEADBILL_SMTP_PORT", str(port))
    monkeypatch.setenv("LEADBILL_SMTP_SECURITY", "none")
    assert "mail: attempted 1: sent 1" in _run("worker", "--once")
    assert [a.recipients for a in handler.arrived] == [["billing@acme.test"]]
    shown = _run("mail", "show", "1")
    assert "sent at" in shown and "Attachments: INV-000001.pdf" in shown
    _run("mail", "resend", "1")
    assert "sent 1" in _run("worker", "--once")
    assert len(handler.arrived) == 2
    assert handler.arrived[0].message["Message-ID"] == handler.arrived[1].message["Message-ID"]


def test_a_worker_killed_mid_delivery_sends_at_least_once_and_records_once(
    database_url: str, sessions: sessionmaker[Session], server: tuple[Handler, int]
) -> None:
    handler, port = server
    handler.reset()
    with sessions() as session, session.begin():
        subscribed(session, "acme", plan(session, "pkg-10", "500.00", 10, "9.50"))
    handler.hold = threading.Event()  # the server receives the message and does not answer
    environment = {
        **os.environ,
        "LEADBILL_DATABASE_URL": database_url,
        "LEADBILL_SMTP_HOST": "127.0.0.1",
        "LEADBILL_SMTP_PORT": str(port),
        "LEADBILL_SMTP_SECURITY": "none",
        "LEADBILL_MAIL_FROM": "billing@operator.test",
        "LEADBILL_BILLING_INTERVAL_MINUTES": "0",
        "LEADBILL_DUNNING_INTERVAL_MINUTES": "0",
    }
    worker = subprocess.Popen(
        [*WORKER, "--interval", "0.1", "--timeout", "5"],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        assert handler.received.wait(60), "the worker never sent the message"
        worker.send_signal(signal.SIGKILL)
        worker.wait(20)
    finally:
        handler.hold.set()
        if worker.poll() is None:
            worker.kill()
    with sessions() as session:
        (message,) = session.scalars(select(MailMessage)).all()
    assert message.status == "sending" and message.attempts == 1
    # When the lease ends, another worker sends it again and records it once.
    handler.hold = None
    policy = DeliveryPolicy(timeout=5)
    later = datetime.now(UTC) + policy.lease + timedelta(seconds=1)
    smtp = SmtpServer("127.0.0.1", port, security="none")
    settings = Settings(database_url="", mail_from="billing@operator.test")
    assert deliver_due(sessions, policy, smtp, settings, as_of=later).delivered == 1
    assert (
        deliver_due(sessions, policy, smtp, settings, as_of=later + timedelta(days=1)).attempted
        == 0
    )
    assert len(handler.arrived) == 2  # at least once: the first copy arrived before the kill
    assert len({a.message["Message-ID"] for a in handler.arrived}) == 1
    with sessions() as session:
        sent = session.get_one(MailMessage, message.id)
        log = [(a.number, a.outcome) for a in service.attempts_of(session, message.id)]
    assert sent.status == "sent" and log == [(1, "sent")]
