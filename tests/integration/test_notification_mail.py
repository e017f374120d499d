"""Review decisions, usage alerts and receipts, e-mailed through a real SMTP server, both databases.

Each message is queued by the change that causes it (same transaction), then sent
by the worker's delivery to the aiosmtpd server of tests/mail_server.py; the tests
read what arrived: recipient, subject, the text part and the HTML part.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from leadbill.accounts.models import Account
from leadbill.billing.models import Invoice
from leadbill.billing.payments import record_payment
from leadbill.billing.service import run_billing
from leadbill.errors import Forbidden, InvalidInput
from leadbill.mail.delivery import deliver_due, deliver_round
from leadbill.mail.messages import environment
from leadbill.mail.models import MailMessage
from leadbill.mail.smtp import SmtpServer
from leadbill.notifications import service as notifications
from leadbill.portal.users import create_user
from leadbill.reviews.flows import decide_review
from leadbill.reviews.service import reply_to_review, submit_review
from leadbill.settings import Settings
from leadbill.subscriptions.service import create_subscription
from leadbill.usage.models import UsageThresholdCrossing
from leadbill.webhooks.delivery import DeliveryPolicy
from leadbill.webhooks.models import WebhookEvent
from leadbill.webhooks.service import create_endpoint
from tests.conftest import utc
from tests.integration.review_fixtures import (
    APRIL,
    CONFIG,
    EXPLANATION,
    account_on,
    add_lead,
    ppl_plan,
)
from tests.integration.usage_fixtures import START, account, ingest, lead_rows, plan, subscribed
from tests.mail_server import Arrived, Handler, smtp_server

POLICY = DeliveryPolicy(timeout=2, max_attempts=3, backoff_base=30, backoff_cap=600)
SETTINGS = Settings(
    database_url="", mail_from="billing@operator.test", portal_url="https://bill.example"
)
PASSWORD = "correct horse battery"


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


def _later() -> datetime:
    """After every instant the tests queue at (2026 and the wall clock)."""
    return datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1)


def _deliver(sessions: sessionmaker[Session], server: SmtpServer) -> None:
    with sessions() as session:
        for header, row_id in session.execute(select(MailMessage.message_id, MailMessage.id)):
            _queued[header] = row_id
    deliver_due(sessions, POLICY, server, SETTINGS, as_of=_later())


def _of(handler: Handler, kind_words: str) -> list[Arrived]:
    """What arrived with these words in its subject, in the order it was queued.

    Delivery sends a batch concurrently, so arrival order is not the queue's;
    Message-IDs are random, the ids of their rows are not.
    """
    found = [a for a in handler.arrived if kind_words in str(a.message["Subject"])]
    return sorted(found, key=lambda a: _queued[str(a.message["Message-ID"])])


_queued: dict[str, int] = {}


def _parts(arrived: Arrived) -> tuple[str, str]:
    message: EmailMessage = arrived.message
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    # On the wire lines end in CRLF; the templates' lines end in LF.
    return text.get_content().replace("\r\n", "\n"), html.get_content().replace("\r\n", "\n")


def _kinds(session: Session, kind: str) -> list[tuple[str, str]]:
    rows = session.execute(
        select(MailMessage.recipient, MailMessage.status)
        .where(MailMessage.kind == kind)
        .order_by(MailMessage.id)
    )
    return [(recipient, status) for recipient, status in rows]


# Review decisions ---------------------------------------------------------------------------


def _reviewed(sessions: sessionmaker[Session], *, invoiced: bool) -> int:
    """A pay-per-lead account (40.00 a lead), a lead of March 30 under review."""
    with sessions.begin() as session:
        account_on(session, ppl_plan(session))
        add_lead(session, "pipes", "L1", utc(2026, 3, 30))
    if invoiced:
        run_billing(sessions, APRIL)
    with sessions.begin() as session:
        return submit_review(
            session,
            "pipes",
            "L1",
            reason="wrong_number",
            explanation=EXPLANATION,
            submitted_by="pat",
            as_of=utc(2026, 4, 1, 12),
            config=CONFIG,
        ).id


def test_a_rejected_review_mails_the_reviewers_reason_to_the_billing_email(
    sessions: sessionmaker[Session], smtp: tuple[Handler, SmtpServer]
) -> None:
    handler, server = smtp
    review_id = _reviewed(sessions, invoiced=False)
    with sessions.begin() as session:
        create_user(
            session, email="ann@pipes.test", password=PASSWORD, role="customer",
            account_code="pipes", as_of=START,
        )  # fmt: skip
        decide_review(
            session,
            review_id,
            "reject",
            decided_by="qa-kim",
            as_of=utc(2026, 4, 2, 15, 30),
            note="The recording shows <a> plumbing job & an appointment.",
        )
    _deliver(sessions, server)
    (arrived,) = _of(handler, "your review")
    # Review decisions always go to the billing e-mail, never to the portal users.
    assert arrived.recipients == ["billing@pipes.test"]
    assert arrived.message["Subject"] == "leadbill: your review of lead L1: rejected"
    text, html = _parts(arrived)
    assert "was rejected on 2026-04-02 15:30: the lead stays billable." in text
    assert "The reviewer's reason: The recording shows <a> plumbing job & an appointment." in text
    assert "wrong number, submitted on 2026-04-01" in text
    assert "The recording shows &lt;a&gt; plumbing job &amp; an appointment." in html
    assert "<a> plumbing" not in html
    assert '<a href="https://bill.example/portal/reviews">' in html


def test_a_question_then_an_approval_after_invoicing_names_the_credit_note(
    sessions: sessionmaker[Session], smtp: tuple[Handler, SmtpServer]
) -> None:
    handler, server = smtp
    review_id = _reviewed(sessions, invoiced=True)
    with sessions.begin() as session:
        decide_review(
            session, review_id, "request-info", decided_by="qa-kim",
            as_of=utc(2026, 4, 2, 9), note="Was the caller asking about a job?",
        )  # fmt: skip
    with sessions.begin() as session:
        reply_to_review(
            session, review_id, message="Yes, a job as an apprentice.", replied_by="pat",
            as_of=utc(2026, 4, 2, 10),
        )  # fmt: skip
    with sessions.begin() as session:
        decide_review(session, review_id, "approve", decided_by="qa-kim", as_of=utc(2026, 4, 3))
    _deliver(sessions, server)
    question, approval = _of(handler, "your review")
    assert question.message["Subject"] == (
        "leadbill: your review of lead L1: more information needed"
    )
    text, html = _parts(question)
    assert "Their question, asked on 2026-04-02 09:00:\nWas the caller asking about a job?" in text
    assert "<blockquote>Was the caller asking about a job?</blockquote>" in html
    assert approval.message["Subject"] == "leadbill: your review of lead L1: approved"
    text, html = _parts(approval)
    assert "was approved on 2026-04-03 00:00: the lead is not charged." in text
    assert (
        "Its period was already invoiced: credit note CN-000001 for 40.00 USD\nis applied" in text
    )
    assert "<strong>CN-000001</strong>" in html
    with sessions() as session:
        assert _kinds(session, "review.decided") == [("billing@pipes.test", "sent")] * 2


# Usage thresholds ---------------------------------------------------------------------------


def _called(customer: Account, number: int, at: datetime) -> list[dict[str, str]]:
    return lead_rows(customer, f"L-{number:02d}", at - timedelta(minutes=30), [at])


def test_usage_alerts_go_once_per_threshold_to_each_user_who_kept_them(
    sessions: sessionmaker[Session], smtp: tuple[Handler, SmtpServer]
) -> None:
    handler, server = smtp
    with sessions.begin() as session:
        customer = subscribed(session, "agent", plan(session, "pkg-5", "250.00", 5, "9.50"))
        create_endpoint(
            session, url="https://hooks.example/in", event_types=["usage.threshold_reached"],
            as_of=START,
        )  # fmt: skip
        for email in ("ana@agent.test", "bo@agent.test", "cy@agent.test"):
            create_user(
                session, email=email, password=PASSWORD, role="customer",
                account_code="agent", as_of=START,
            )  # fmt: skip
    with sessions.begin() as session:
        from leadbill.portal.models import User

        bo_id = session.scalars(select(User.id).where(User.email == "bo@agent.test")).one()
        notifications.set_setting(
            session, bo_id, "usage.threshold_reached", False, as_of=utc(2026, 1, 2)
        )
        # Receipts stay on for bo: turning one kind off leaves the other alone.
        assert notifications.settings_of(session, bo_id) == {
            "usage.threshold_reached": False,
            "payment.received": True,
        }
    rows = [row for n in range(1, 6) for row in _called(customer, n, utc(2026, 1, 10, n))]
    with sessions.begin() as session:
        ingest(session, rows, utc(2026, 1, 20))
    # The same events again, and a later batch: nothing crosses again, nothing is re-sent.
    with sessions.begin() as session:
        ingest(session, rows, utc(2026, 1, 21))
        ingest(session, _called(customer, 6, utc(2026, 1, 15)), utc(2026, 1, 21))
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(UsageThresholdCrossing)) == 2
        hooks = session.scalar(
            select(func.count())
            .select_from(WebhookEvent)
            .where(WebhookEvent.event_type == "usage.threshold_reached")
        )
        assert hooks == 2
        assert sorted(_kinds(session, "usage.threshold_reached")) == sorted(
            [("ana@agent.test", "pending"), ("cy@agent.test", "pending")] * 2
        )
    _deliver(sessions, server)
    alerts = _of(handler, "included leads used")
    assert sorted((a.recipients[0], a.message["Subject"]) for a in alerts) == [
        ("ana@agent.test", "leadbill: 100 % of your included leads used"),
        ("ana@agent.test", "leadbill: 80 % of your included leads used"),
        ("cy@agent.test", "leadbill: 100 % of your included leads used"),
        ("cy@agent.test", "leadbill: 80 % of your included leads used"),
    ]
    eighty = next(a for a in alerts if "80 %" in str(a.message["Subject"]))
    text, html = _parts(eighty)
    assert (
        "You have used 80 % of the leads included in your period from 2026-01-01 to 2026-01-31:\n"
        "lead L-04, counted on 2026-01-10 04:00, brought the period to 4 counted leads." in text
    )
    assert "<strong>80 %</strong>" in html
    assert "https://bill.example/portal/billing-details#notifications" in html
    full = next(a for a in alerts if "100 %" in str(a.message["Subject"]))
    text, _html = _parts(full)
    assert "lead L-05, counted on 2026-01-10 05:00, brought the period to 5 counted leads." in text
    assert "charged at your plan's per-lead rate" in text


def test_an_account_without_customer_users_gets_usage_alerts_at_its_billing_email(
    sessions: sessionmaker[Session], smtp: tuple[Handler, SmtpServer]
) -> None:
    handler, server = smtp
    with sessions.begin() as session:
        customer = account(session, "denver", time_zone="America/Denver")
        create_subscription(
            session, account=customer, plan=plan(session, "pkg-5", "250.00", 5, "9.50"),
            start=START,
        )  # fmt: skip
        rows = [row for n in range(1, 5) for row in _called(customer, n, utc(2026, 1, 10, n))]
        ingest(session, rows, utc(2026, 1, 20))
    _deliver(sessions, server)
    (alert,) = _of(handler, "included leads used")
    assert alert.recipients == ["billing@denver.test"]
    text, _html = _parts(alert)
    # 04:00 UTC is 21:00 the evening before in Denver; the period is the local month.
    assert "lead L-04, counted on 2026-01-09 21:00" in text
    assert "Dates are in America/Denver." in text


def test_a_usage_alert_every_user_turned_off_is_not_queued(
    sessions: sessionmaker[Session], smtp: tuple[Handler, SmtpServer]
) -> None:
    handler, server = smtp
    with sessions.begin() as session:
        customer = subscribed(session, "solo", plan(session, "pkg-5", "250.00", 5, "9.50"))
        user = create_user(
            session, email="sam@solo.test", password=PASSWORD, role="customer",
            account_code="solo", as_of=START,
        )  # fmt: skip
        notifications.set_setting(session, user.id, "usage.threshold_reached", False, as_of=START)
    with sessions.begin() as session:
        rows = [row for n in range(1, 5) for row in _called(customer, n, utc(2026, 1, 10, n))]
        ingest(session, rows, utc(2026, 1, 20))
        assert session.scalar(select(func.count()).select_from(UsageThresholdCrossing)) == 1
        assert _kinds(session, "usage.threshold_reached") == []
    # Turned on again, the next crossing (100 %) is sent to the user.
    with sessions.begin() as session:
        notifications.set_setting(session, user.id, "usage.threshold_reached", True, as_of=START)
        ingest(session, _called(customer, 5, utc(2026, 1, 11)), utc(2026, 1, 20))
    _deliver(sessions, server)
    (alert,) = _of(handler, "included leads used")
    assert (alert.recipients, alert.message["Subject"]) == (
        ["sam@solo.test"],
        "leadbill: 100 % of your included leads used",
    )


def test_only_customer_users_choose_optional_kinds_and_only_those(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        subscribed(session, "agent", plan(session, "pkg-5", "250.00", 5, "9.50"))
        staff = create_user(
            session, email="kim@operator.test", password=PASSWORD, role="billing", as_of=START
        )
        user = create_user(
            session, email="ana@agent.test", password=PASSWORD, role="customer",
            account_code="agent", as_of=START,
        )  # fmt: skip
        with pytest.raises(InvalidInput) as refused:
            notifications.set_setting(session, user.id, "invoice.issued", False, as_of=START)
        assert refused.value.field == "kind"
        with pytest.raises(Forbidden):
            notifications.set_setting(session, staff.id, "payment.received", False, as_of=START)


# Receipts -----------------------------------------------------------------------------------


def _invoice(sessions: sessionmaker[Session], time_zone: str = "UTC") -> Invoice:
    """An account whose first invoice (the 1,234.50 fee in advance) is issued."""
    with sessions.begin() as session:
        customer = account(session, "acme", time_zone=time_zone)
        create_subscription(
            session, account=customer, plan=plan(session, "pkg-10", "1234.50", 10, "9.50"),
            start=START,
        )  # fmt: skip
    with sessions() as session:
        invoice = session.scalars(select(Invoice)).one()
        session.expunge(invoice)
        return invoice


def _pay(sessions: sessionmaker[Session], amount: str, reference: str, at: datetime) -> None:
    with sessions.begin() as session:
        invoice = session.scalars(select(Invoice)).one()
        record_payment(
            session, invoice=invoice, amount=amount, currency="USD", reference=reference,
            received_at=at,
        )  # fmt: skip


def test_a_receipt_gives_invoice_amount_and_balance_and_a_replay_sends_none(
    sessions: sessionmaker[Session], smtp: tuple[Handler, SmtpServer]
) -> None:
    handler, server = smtp
    _invoice(sessions, time_zone="Asia/Tokyo")
    _pay(sessions, "500.00", "wire-1", utc(2026, 1, 5, 20))  # January 6 in Tokyo
    _pay(sessions, "500.00", "wire-1", utc(2026, 1, 5, 20))  # the same payment, re-sent
    _pay(sessions, "734.50", "wire-2", utc(2026, 1, 9, 2))
    with sessions() as session:
        assert _kinds(session, "payment.received") == [("billing@acme.test", "pending")] * 2
    _deliver(sessions, server)
    first, second = _of(handler, "payment of")
    assert first.recipients == ["billing@acme.test"]
    assert first.message["Subject"] == (
        "leadbill: payment of 500.00 USD received for invoice INV-000001"
    )
    text, html = _parts(first)
    assert (
        "received your payment of 500.00 USD on 2026-01-06 (reference wire-1)\n"
        "for invoice INV-000001 of 1,234.50 USD." in text
    )
    assert "Left to pay on it: 734.50 USD." in text
    assert "Left to pay on it: <strong>734.50 USD</strong>." in html
    text, html = _parts(second)
    assert "your payment of 734.50 USD on 2026-01-09" in text
    assert "Nothing is left to pay: the invoice is settled." in text
    assert '<a href="https://bill.example/portal/invoices/INV-000001">' in html


def test_receipts_go_to_the_users_who_kept_them(
    sessions: sessionmaker[Session], smtp: tuple[Handler, SmtpServer]
) -> None:
    handler, server = smtp
    _invoice(sessions)
    with sessions.begin() as session:
        for email in ("ap@acme.test", "cfo@acme.test"):
            create_user(
                session, email=email, password=PASSWORD, role="customer",
                account_code="acme", as_of=START,
            )  # fmt: skip
        from leadbill.portal.models import User

        cfo = session.scalars(select(User.id).where(User.email == "cfo@acme.test")).one()
        notifications.set_setting(session, cfo, "payment.received", False, as_of=START)
    _pay(sessions, "1234.50", "wire-9", utc(2026, 1, 5))
    _deliver(sessions, server)
    assert [a.recipients for a in _of(handler, "payment of")] == [["ap@acme.test"]]


def test_a_template_error_keeps_the_receipt_and_it_goes_once_fixed(
    sessions: sessionmaker[Session], smtp: tuple[Handler, SmtpServer], tmp_path: Path
) -> None:
    handler, server = smtp
    _invoice(sessions)
    _pay(sessions, "100.00", "wire-3", utc(2026, 1, 5))
    with sessions.begin() as session:  # the invoice's own message is not under test here
        session.execute(
            MailMessage.__table__.update()
            .where(MailMessage.kind == "invoice.issued")
            .values(status="sent")
        )
    (tmp_path / "payment_received.subject.txt").write_text("{{ number }}")
    (tmp_path / "payment_received.html").write_text("{{ balance }}")
    (tmp_path / "payment_received.txt").write_text("{{ no_such_name }}")
    at = _later()
    report = deliver_round(
        sessions, POLICY, server, SETTINGS, as_of=at, templates=environment(tmp_path)
    )
    assert report.retrying == 1 and handler.arrived == []
    with sessions() as session:
        kept = session.scalars(
            select(MailMessage).where(MailMessage.kind == "payment.received")
        ).one()
        assert kept.status == "pending" and "no_such_name" in (kept.last_error or "")
    assert (
        deliver_due(sessions, POLICY, server, SETTINGS, as_of=at + timedelta(seconds=30)).delivered
        == 1
    )
    (arrived,) = handler.arrived
    assert "Left to pay on it: 1,134.50 USD." in _parts(arrived)[0]


def test_money_left_is_what_remained_right_after_each_payment(
    sessions: sessionmaker[Session], smtp: tuple[Handler, SmtpServer]
) -> None:
    handler, server = smtp
    invoice = _invoice(sessions)
    assert invoice.total == Decimal("1234.50")
    _pay(sessions, "0.50", "cash-1", utc(2026, 1, 2))
    _pay(sessions, "1000.00", "wire-4", utc(2026, 1, 3))
    _deliver(sessions, server)  # both sent after the second: each tells its own balance
    balances = [_parts(a)[0].split("Left to pay on it: ")[1].split("\n")[0] for a in _of(
        handler, "payment of"
    )]  # fmt: skip
    assert balances == ["1,234.00 USD.", "234.00 USD."]
