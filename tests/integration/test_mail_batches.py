"""A billing run queues its invoices' messages as one row per batch, made into messages
before anyone reads or sends the outbox (leadbill.mail.service.catch_up)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alembic import command
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from leadbill.billing.models import Invoice
from leadbill.billing.service import run_billing
from leadbill.mail import service
from leadbill.mail.delivery import claim_due
from leadbill.mail.models import MailInvoiceBatch, MailMessage
from leadbill.migrate import alembic_config
from leadbill.webhooks.delivery import DeliveryPolicy
from tests.conftest import utc
from tests.integration.usage_fixtures import plan, subscribed

RUN = utc(2026, 2, 1)


def _billed(sessions: sessionmaker[Session], codes: tuple[str, ...]) -> set[int]:
    """Accounts whose fee was invoiced at the start; the billing run issues February's."""
    with sessions() as session, session.begin():
        on = plan(session, "pkg-10", "100.00", 10, "5.00")
        for code in codes:
            subscribed(session, code, on)
    run_billing(sessions, RUN, batch_size=2)
    with sessions() as session:
        query = select(Invoice.id).where(Invoice.issued_at == RUN, Invoice.number.is_not(None))
        return set(session.scalars(query))


def _invoice_messages(session: Session) -> dict[int, tuple[str, str]]:
    query = select(MailMessage.invoice_id, MailMessage.recipient, MailMessage.status).where(
        MailMessage.kind == service.INVOICE_ISSUED
    )
    return {invoice: (to, status) for invoice, to, status in session.execute(query)}


def test_a_billing_batch_writes_one_row_and_readers_see_a_message_per_invoice(
    sessions: sessionmaker[Session],
) -> None:
    issued = _billed(sessions, ("acme", "bolt", "cora"))
    assert len(issued) == 3
    with sessions() as session:
        # Batches of two subscriptions: two rows, no message yet for the run's invoices.
        times = set(session.scalars(select(MailInvoiceBatch.created_at)))
        assert len(session.scalars(select(MailInvoiceBatch.id)).all()) == 2
        assert not issued & set(_invoice_messages(session))
    with sessions() as session, session.begin():
        rows = service.list_messages(session, kind=service.INVOICE_ISSUED)
    by_invoice = {row.message.invoice_id: row for row in rows}
    assert issued <= set(by_invoice)
    for invoice_id in issued:
        message = by_invoice[invoice_id].message
        by_invoice_batch_time = message.created_at
        assert by_invoice_batch_time in times
        assert message.recipient == f"billing@{by_invoice[invoice_id].account}.test"
        assert (message.status, message.attempts) == ("pending", 0)
        # Due when the batch queued it (the wall clock, like every outbox row).
        assert message.next_attempt_at == message.created_at == by_invoice_batch_time
    with sessions() as session, session.begin():
        assert session.scalar(select(func.count()).select_from(MailInvoiceBatch)) == 0
        before = _invoice_messages(session)
        assert service.catch_up(session) == 0
        assert _invoice_messages(session) == before


def test_a_batch_turned_twice_makes_each_message_once(sessions: sessionmaker[Session]) -> None:
    """A second turning (a batch row written again, as by a retried reader) adds nothing."""
    issued = _billed(sessions, ("acme", "bolt"))
    with sessions() as session, session.begin():
        (pairs,) = session.scalars(select(MailInvoiceBatch.invoices)).all()
        assert service.catch_up(session) == 2
        service.queue_billing_batch(session, [(a, i) for a, i in pairs], created_at=RUN)
        assert service.catch_up(session) == 0
        assert set(_invoice_messages(session)) >= issued
        count = (
            select(func.count()).select_from(MailMessage).where(MailMessage.invoice_id.in_(issued))
        )
        assert session.scalar(count) == 2


def test_the_worker_claims_a_batch_s_messages_without_a_reader_first(
    sessions: sessionmaker[Session],
) -> None:
    issued = _billed(sessions, ("acme", "bolt", "cora"))
    soon = datetime.now(UTC) + timedelta(minutes=1)
    claimed = claim_due(sessions, DeliveryPolicy(batch_size=50), soon)
    with sessions() as session:
        query = select(MailMessage.id, MailMessage.status).where(MailMessage.invoice_id.in_(issued))
        messages = dict(session.execute(query).all())
    assert len(messages) == 3 and set(messages.values()) == {"sending"}
    assert set(messages) <= {c.message_id for c in claimed}


def test_going_down_past_0028_turns_the_waiting_batches_into_messages(engine: Engine) -> None:
    sessions = sessionmaker(engine, expire_on_commit=False)
    issued = _billed(sessions, ("acme", "bolt", "cora"))
    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0027")
    with engine.connect() as conn:
        made = conn.execute(
            text(
                "SELECT invoice_id, recipient, status, message_id FROM mail_messages"
                " WHERE kind = 'invoice.issued'"
            )
        ).all()
    by_invoice = {row[0]: row for row in made}
    assert issued <= set(by_invoice) and len(made) == len(by_invoice)
    assert {by_invoice[i][2] for i in issued} == {"pending"}
    assert all(by_invoice[i][3].endswith("@leadbill>") for i in issued)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    with sessions() as session, session.begin():
        assert service.catch_up(session) == 0
        assert set(_invoice_messages(session)) == set(by_invoice)
