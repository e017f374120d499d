"""The demo runs every billing model end to end on both databases, to the cent."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from leadbill.accounts.models import Account
from leadbill.billing.models import Invoice
from leadbill.demo import MONTH_TO_DATE, run_demo
from leadbill.dunning.models import DunningReminder
from leadbill.leads.models import Lead
from leadbill.mail.messages import render
from leadbill.mail.models import MailMessage
from leadbill.plans.models import Plan
from leadbill.reports.service import billing_summary
from leadbill.settings import Settings
from leadbill.subscriptions.service import current_subscription, preview_plan_change


def _totals(session: Session, code: str) -> list[tuple[str, Decimal]]:
    rows = session.execute(
        select(Invoice.kind, Invoice.total)
        .join(Account, Account.id == Invoice.account_id)
        .where(Account.code == code)
        .order_by(Invoice.issued_at, Invoice.id)
    )
    return [(kind, total) for kind, total in rows]


OCTOBER_CHICAGO = datetime(2026, 10, 1, 5, tzinfo=UTC)


def _last_invoice(session: Session, code: str) -> Invoice:
    return session.scalars(
        select(Invoice)
        .join(Account, Account.id == Invoice.account_id)
        .where(Account.code == code)
        .order_by(Invoice.issued_at.desc(), Invoice.id.desc())
        .limit(1)
    ).one()


def test_demo_bills_every_model(
    sessions: sessionmaker[Session], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_demo(sessions, tmp_path)
    printed = capsys.readouterr().out
    assert "6 licences need operator staff to make the change" in printed  # R22
    assert "total due today 1,203.29 USD, next renewal 6,000.00 USD" in printed
    # Each account's October says which leads were not charged and why (R2, R10-R12, R16-R18).
    assert (
        "not charged: 5 leads (job_seeker 1, non_working_contact 1, outside_service_area 1,"
        " previous_customer 2)" in printed
    )
    assert "not charged: 20 leads (block_list 5, no_contact_found 15)" in printed
    # The worker ran once on the portal's day: the contractor's overdue October invoice
    # (37 days past October 16 in Chicago) has its reminder in the outbox: only the
    # latest step due, day 14, not all four at once.
    assert "worker (once, 2026-11-22T23:00:00Z): dunning: as of 2026-11-22T23:00:00Z" in printed
    with sessions() as session:
        october = session.scalars(
            select(Invoice)
            .join(Account, Account.id == Invoice.account_id)
            .where(Account.code == "bright-plumbing", Invoice.kind == "period")
            .where(Invoice.issued_at == OCTOBER_CHICAGO)
        ).one()
        reminders = session.execute(
            select(DunningReminder.step, DunningReminder.days_overdue, MailMessage.recipient)
            .join(MailMessage, MailMessage.reminder_id == DunningReminder.id)
            .where(DunningReminder.invoice_id == october.id)
        ).all()
        assert [tuple(row) for row in reminders] == [(14, 37, "billing@bright-plumbing.example")]
    with sessions() as session:
        # R19, R20: 3 licences for the year, then 2 x 1200.00 x 183/365.
        assert _totals(session, "acme-sales") == [
            ("period", Decimal("3600.00")),
            ("licences", Decimal("1203.29")),
        ]
        # R7: (2400.00 - 1300.00) x 11/31 at the upgrade; both segments' overage at period end.
        gina = _totals(session, "grow-gina")
        assert ("change", Decimal("390.32")) in gina
        assert gina[-1] == ("period", Decimal("2654.00"))  # 182.00 + 72.00 + 2400.00
        # R10-R12, R16: October's billable leads at their category prices.
        assert _totals(session, "bright-plumbing")[-1] == ("period", Decimal("905.00"))
        reasons = dict(
            session.execute(
                select(Lead.external_id, Lead.exclusion_reason).where(
                    Lead.external_id.like("BPE-26%-%")
                )
            ).all()
        )
        assert reasons["BPE-2609-PAUSED"] == "campaign_paused"
        assert reasons["BPE-2610-FAR"] == "outside_service_area"
        assert reasons["BPE-2610-CUSTOMER"] == "previous_customer"
        assert reasons["BPE-2610-AGAIN"] == "previous_customer"
        assert reasons["BPE-2610-FORM"] == "non_working_contact"
        job = session.scalars(select(Lead).filter_by(external_id="BPE-2610-JOB")).one()
        assert job.decision_reason == "job_seeker"
        # R17, R18: October's found contacts beyond 40, and November's fee.
        # The worked example of docs/taxes.md: 424.00 net, 25 % Swedish VAT, 530.00.
        assert _totals(session, "fjord-analytics")[-1] == ("period", Decimal("530.00"))
        fjord = _last_invoice(session, "fjord-analytics")
        assert (fjord.number, fjord.net_total, fjord.tax_total) == (
            "SE-000007",
            Decimal("424.00"),
            Decimal("106.00"),
        )
        assert fjord.issuer and fjord.issuer["legal_name"] == "Lead Data Nordic AB"
        assert fjord.customer and fjord.customer["city"] == "Göteborg"
        # The German business under reverse charge: no tax, the legal mention.
        mueller = _last_invoice(session, "mueller-daten")
        assert (mueller.tax_total, mueller.total) == (Decimal("0.00"), mueller.net_total)
        assert mueller.tax_mention and mueller.tax_mention.startswith("Reverse charge")
        # The contractor's October invoice is left unpaid, overdue since October 16.
        october = session.scalars(
            select(Invoice)
            .join(Account, Account.id == Invoice.account_id)
            .where(Account.code == "bright-plumbing", Invoice.issued_at == OCTOBER_CHICAGO)
        ).one()
        assert (october.status, str(october.due_on)) == ("open", "2026-10-16")
        # One customer user is invited: its invitation waits in the outbox, readable as
        # `leadbill mail show` prints it, its one-time link made only when it is sent.
        (invitation,) = session.scalars(
            select(MailMessage).where(MailMessage.kind == "portal.invitation")
        ).all()
        assert (invitation.recipient, invitation.status) == ("gina@grow-gina.example", "pending")
        shown = render(session, invitation, Settings(database_url=""))
        assert "invites you to the secure billing portal of" in shown.text
        assert "[one-time link, made when the message is sent and not kept]" in shown.text


def test_the_portal_opens_the_demo_in_the_period_in_progress(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    """November is open and holds events to the portal's instant; October is invoiced."""
    run_demo(sessions, tmp_path)
    with sessions() as session:
        account = session.scalars(select(Account).where(Account.code == "summit-realty")).one()
        summary = billing_summary(session, account, MONTH_TO_DATE)
        assert summary.period.start == datetime(2026, 11, 1, 4, tzinfo=UTC)  # New York midnight
        assert summary.counted_leads == 172 and summary.included_leads == 200
        assert [flag.reached for flag in summary.thresholds] == [True, False]
        # A customer can change plan at the portal's instant (it was refused before
        # the period in progress): isa-200 -> isa-400 for the rest of November.
        bigger = session.scalars(select(Plan).where(Plan.code == "isa-400")).one()
        preview = preview_plan_change(
            session, current_subscription(session, account), bigger, MONTH_TO_DATE
        )
        assert preview.immediate and preview.effective_at == MONTH_TO_DATE
        assert preview.fee_difference is not None
        # (4400.00 - 2400.00) x 198/721: from Nov 22 23:00 UTC to the period end, Dec 1
        # 05:00 UTC, of a period of 30 days and the hour New York gave back on Nov 1.
        assert preview.fee_difference.amount == Decimal("549.24")


def test_the_demo_leaves_review_decisions_usage_alerts_and_receipts_in_the_outbox(
    sessions: sessionmaker[Session], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sqlalchemy import func

    from leadbill.mail.messages import render
    from leadbill.mail.models import MailMessage
    from leadbill.settings import Settings

    run_demo(sessions, tmp_path)
    assert "leadbill mail list --kind review.decided" in capsys.readouterr().out
    with sessions() as session:
        grouped = select(MailMessage.kind, func.count()).group_by(MailMessage.kind)
        counts = {kind: number for kind, number in session.execute(grouped)}
        assert counts["review.decided"] >= 1
        assert counts["usage.threshold_reached"] >= 1
        assert counts["payment.received"] >= 1
        # Each renders, as `leadbill mail show` prints it.
        settings = Settings(database_url="", mail_from="billing@operator.test")
        for kind in ("review.decided", "usage.threshold_reached", "payment.received"):
            message = session.scalars(
                select(MailMessage).where(MailMessage.kind == kind).limit(1)
            ).one()
            rendered = render(session, message, settings)
            assert rendered.text.startswith("Hello ") and rendered.html.startswith("<!doctype")
