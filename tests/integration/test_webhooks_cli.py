"""`leadbill webhooks add|list|deliveries|show|redeliver|remove` and `leadbill worker`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from leadbill import console
from leadbill.billing.invoices import get_invoice
from leadbill.billing.payments import record_payment
from leadbill.cli import app
from leadbill.db import make_engine, session_factory
from leadbill.webhooks.delivery import DeliveryPolicy, run_forever
from leadbill.webhooks.models import WebhookDelivery
from leadbill.webhooks.service import create_endpoint
from tests.integration.usage_fixtures import plan, subscribed
from tests.webhook_receiver import Receiver, running

runner = CliRunner()
WORKER = [sys.executable, "-c", "from leadbill.cli import app; app()", "worker"]


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The CLI pointed at the test database."""
    monkeypatch.setenv("LEADBILL_DATABASE_URL", database_url)
    monkeypatch.setenv("LEADBILL_BILLING_INTERVAL_MINUTES", "0")  # delivery only, no billing
    monkeypatch.setenv("LEADBILL_DUNNING_INTERVAL_MINUTES", "0")  # and no reminders
    monkeypatch.setattr(console.out, "width", 250)
    console.sessions.cache_clear()
    yield
    console.sessions().kw["bind"].dispose()
    console.sessions.cache_clear()


def _run(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_register_deliver_inspect_redeliver_and_remove_from_the_command_line(
    cli: None, sessions: sessionmaker[Session]
) -> None:
    with sessions() as session, session.begin():
        subscribed(session, "acme", plan(session, "pkg-10", "500.00", 10, "9.50"))
    with running(Receiver()) as receiver:
        added = _run("webhooks", "add", receiver.url, "-e", "invoice.paid", "--description", "crm")
        receiver.secret = added.strip().splitlines()[-1]
        assert receiver.secret.startswith("whsec_")
        listing = _run("webhooks", "list")
        assert receiver.url in listing and "(all)" in listing and receiver.secret not in listing

        _run("payments", "record", "INV-000001", "--amount", "500.00", "--reference", "w-1")
        assert "pending" in _run("webhooks", "deliveries")
        worked = _run("worker", "--once", "--timeout", "2")
        assert "attempted 1: delivered 1" in worked
        (message,) = receiver.received
        assert message.signature_valid and message.json["type"] == "invoice.paid"

        with sessions() as session:
            delivery = session.query(WebhookDelivery).one()
        shown = _run("webhooks", "show", str(delivery.id))
        assert "delivered" in shown and "200" in shown and message.message_id in shown
        assert "delivered" in _run("webhooks", "deliveries", "--status", "delivered")

        _run("webhooks", "redeliver", str(delivery.id))
        assert "delivered 1" in _run("worker", "--once")
        assert [r.message_id for r in receiver.received] == [message.message_id] * 2

        _run("webhooks", "remove", str(delivery.endpoint_id))
        assert receiver.url not in _run("webhooks", "list")
        assert receiver.url in _run("webhooks", "list", "--removed")
        assert "1 webhook messages deleted" in _run("webhooks", "prune", "--before", "2100-01-01")
    missing = runner.invoke(app, ["webhooks", "redeliver", "999"])
    assert missing.exit_code == 4
    wrong = runner.invoke(app, ["webhooks", "add", "https://x.test/", "-e", "invoice.created"])
    assert wrong.exit_code == 2 and "event_types" in wrong.output


def test_the_worker_loop_delivers_as_events_arrive_and_stops_on_sigterm(
    database_url: str, sessions: sessionmaker[Session]
) -> None:
    with sessions() as session, session.begin():
        customer = subscribed(session, "acme", plan(session, "pkg-10", "500.00", 10, "9.50"))
    with running(Receiver()) as receiver:
        with sessions() as session, session.begin():
            endpoint = create_endpoint(
                session,
                url=receiver.url,
                event_types=["invoice.paid"],
                as_of=customer.created_at,
            )
            receiver.secret = endpoint.secret
        environment = {**os.environ, "LEADBILL_DATABASE_URL": database_url}
        worker = subprocess.Popen(
            [*WORKER, "--interval", "0.1", "--timeout", "2"],
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            time.sleep(0.5)  # the worker is polling an empty outbox
            with sessions() as session, session.begin():
                record_payment(
                    session,
                    invoice=get_invoice(session, "INV-000001"),
                    amount="500.00",
                    currency="USD",
                    reference="w-1",
                    received_at=customer.created_at,
                )
            deadline = time.monotonic() + 20
            while not receiver.received and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            worker.send_signal(signal.SIGTERM)
            output, _ = worker.communicate(timeout=20)
    assert worker.returncode == 0, output
    assert "delivered 1" in output and "worker stopped" in output
    assert len(receiver.received) == 1 and receiver.received[0].signature_valid


def test_the_worker_loop_waits_for_a_database_it_cannot_reach(tmp_path: Path) -> None:
    unreachable = session_factory(make_engine(f"sqlite:///{tmp_path}/missing/dir/leadbill.db"))
    errors: list[Exception] = []
    run_forever(
        unreachable,
        DeliveryPolicy(),
        interval=0.05,
        should_stop=lambda: len(errors) >= 2,
        on_error=errors.append,
    )
    assert len(errors) == 2
