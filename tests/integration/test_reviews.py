"""Reviews end to end (R13-R15) on SQLite and PostgreSQL: submission, decisions, money."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from leadbill.accounts.models import Account
from leadbill.billing.service import run_billing
from leadbill.core.reviews import Condition
from leadbill.credit_notes.models import CreditApplication, CreditNote
from leadbill.credit_notes.service import get_credit_note
from leadbill.errors import Conflict, InvalidInput, NotFound
from leadbill.leads.models import Lead, LeadDecision
from leadbill.leads.service import ingest_events
from leadbill.reports.service import call_report
from leadbill.reviews.flows import decide_review
from leadbill.reviews.models import Review
from leadbill.reviews.service import (
    NotEligible,
    audit_trail,
    reply_to_review,
    review_queue,
    statistics,
    submit_review,
)
from tests.conftest import utc
from tests.integration.review_fixtures import (
    APRIL,
    CONFIG,
    EXPLANATION,
    JUNE,
    MARCH,
    MAY,
    _row,
    account_on,
    add_lead,
    called_package_plan,
    invoice_at,
    lines_of,
    package_plan,
    ppl_plan,
)


def submit(session: Session, lead: str, at, account: str = "pipes") -> Review:  # type: ignore[no-untyped-def]
    return submit_review(
        session,
        account,
        lead,
        reason="job_seeker",
        explanation=EXPLANATION,
        submitted_by="pat@pipes.test",
        as_of=at,
        config=CONFIG,
    )


def account(session: Session, code: str = "pipes") -> Account:
    return session.scalars(select(Account).where(Account.code == code)).one()


# R13: eligibility, each condition at its boundary.


def test_r13_window_boundary_six_days_23_hours_versus_seven_days(session: Session) -> None:
    account_on(session, ppl_plan(session))
    received = utc(2026, 3, 2, 9)
    add_lead(session, "pipes", "L1", received)
    add_lead(session, "pipes", "L2", received)
    review = submit(session, "L1", received + timedelta(days=6, hours=23))
    assert review.status == "open"
    with pytest.raises(NotEligible) as refused:
        submit(session, "L2", received + timedelta(days=7))
    assert refused.value.condition is Condition.WINDOW
    assert "7 days" in refused.value.detail


def test_r13_unanswered_and_unrecorded_leads_are_refused(session: Session) -> None:
    account_on(session, ppl_plan(session))
    add_lead(session, "pipes", "MISSED", utc(2026, 3, 2), answered=False)
    add_lead(session, "pipes", "NOREC", utc(2026, 3, 2), recording=False)
    with pytest.raises(NotEligible) as missed:
        submit(session, "MISSED", utc(2026, 3, 3))
    assert missed.value.condition is Condition.ANSWERED
    assert "not answered" in missed.value.detail
    with pytest.raises(NotEligible) as unrecorded:
        submit(session, "NOREC", utc(2026, 3, 3))
    assert unrecorded.value.condition is Condition.RECORDING
    assert session.scalar(select(func.count(Review.id))) == 0


def _called_lead(session: Session, lead: str, results: list[str]) -> None:
    """A phone lead called with these results (call_attempted), recorded."""
    received = utc(2026, 3, 2)
    rows = [_row("pipes", lead, "received", received, source="phone", phone="+13035550777")]
    for n, result in enumerate(results, start=1):
        rows.append(
            _row(
                "pipes", lead, "call_attempted", received + timedelta(minutes=n), call_result=result
            )
        )
    rows.append(_row("pipes", lead, "recording_available", received + timedelta(minutes=9)))
    assert ingest_events(session, rows, as_of=received).rejected == 0


def test_r13_answered_a_wrong_number_call_was_answered_a_voicemail_was_not(
    session: Session,
) -> None:
    account_on(session, ppl_plan(session))
    _called_lead(session, "WRONG", ["voicemail", "wrong_number"])
    _called_lead(session, "VOICEMAIL", ["busy", "voicemail"])
    assert submit(session, "WRONG", utc(2026, 3, 3)).status == "open"
    with pytest.raises(NotEligible) as refused:
        submit(session, "VOICEMAIL", utc(2026, 3, 3))
    assert refused.value.condition is Condition.ANSWERED
    assert refused.value.detail == (
        "lead VOICEMAIL is not eligible for review: the call was not answered: no call reached "
        "a person (the last call: it went to voicemail) (condition: answered)"
    )


def test_r13_reason_and_explanation_are_checked(session: Session) -> None:
    account_on(session, ppl_plan(session))
    add_lead(session, "pipes", "L1", utc(2026, 3, 2))
    with pytest.raises(InvalidInput, match="reason"):
        submit_review(
            session,
            "pipes",
            "L1",
            reason="too_expensive",
            explanation=EXPLANATION,
            submitted_by="pat",
            as_of=utc(2026, 3, 3),
            config=CONFIG,
        )
    with pytest.raises(InvalidInput, match="explanation"):
        submit_review(
            session,
            "pipes",
            "L1",
            reason="job_seeker",
            explanation="spam",
            submitted_by="pat",
            as_of=utc(2026, 3, 3),
            config=CONFIG,
        )


def test_r13_one_review_per_lead_and_a_decided_review_is_final(session: Session) -> None:
    account_on(session, ppl_plan(session))
    add_lead(session, "pipes", "L1", utc(2026, 3, 2))
    review = submit(session, "L1", utc(2026, 3, 3))
    with pytest.raises(Conflict, match="still open"):
        submit(session, "L1", utc(2026, 3, 3, 1))
    decide_review(
        session,
        review.id,
        "reject",
        decided_by="qa",
        note="A real customer.",
        as_of=utc(2026, 3, 4),
    )
    with pytest.raises(Conflict, match="final"):
        submit(session, "L1", utc(2026, 3, 5))
    with pytest.raises(Conflict, match="final"):
        decide_review(session, review.id, "approve", decided_by="qa", as_of=utc(2026, 3, 5))


def test_r13_the_database_keeps_one_review_per_lead(session: Session) -> None:
    account_on(session, ppl_plan(session))
    add_lead(session, "pipes", "L1", utc(2026, 3, 2))
    review = submit(session, "L1", utc(2026, 3, 3))
    twin = Review(
        account_id=review.account_id,
        lead_id=review.lead_id,
        reason="job_seeker",
        explanation=EXPLANATION,
        status="open",
        submitted_by="x",
        submitted_at=utc(2026, 3, 3),
        due_at=utc(2026, 3, 6),
    )
    with pytest.raises(IntegrityError), session.begin_nested():
        session.add(twin)
        session.flush()


def test_review_of_another_accounts_lead_is_impossible(session: Session) -> None:
    plan = ppl_plan(session)
    account_on(session, plan, "pipes")
    other = account_on(session, plan, "roofs")
    add_lead(session, "roofs", "THEIRS", utc(2026, 3, 2))
    with pytest.raises(NotFound):
        submit(session, "THEIRS", utc(2026, 3, 3), account="pipes")
    # Not even by writing the row directly: the lead is referenced with its account.
    theirs = session.scalars(select(Lead).where(Lead.account_id == other.id)).one()
    mine = account(session, "pipes")
    forged = Review(
        account_id=mine.id,
        lead_id=theirs.id,
        reason="job_seeker",
        explanation=EXPLANATION,
        status="open",
        submitted_by="x",
        submitted_at=utc(2026, 3, 3),
        due_at=utc(2026, 3, 6),
    )
    with pytest.raises(IntegrityError), session.begin_nested():
        session.add(forged)
        session.flush()


# R14: decisions, the queue, due dates.


def test_r14_request_info_reply_and_queue(session: Session) -> None:
    account_on(session, ppl_plan(session))
    add_lead(session, "pipes", "L1", utc(2026, 3, 2))
    add_lead(session, "pipes", "L2", utc(2026, 3, 2))
    # Friday 2026-03-06 15:00 EST: due Wednesday 15:00 EDT.
    first = submit(session, "L1", utc(2026, 3, 6, 20))
    assert first.due_at == utc(2026, 3, 11, 19)
    second = submit(session, "L2", utc(2026, 3, 3, 12))  # due Fri 2026-03-06 12:00 EST
    queue = review_queue(session, as_of=utc(2026, 3, 7))
    assert [e.review.id for e in queue.entries] == [second.id, first.id]  # oldest due first
    assert (queue.open, queue.overdue, queue.waiting) == (2, 1, 0)
    assert [e.overdue for e in queue.entries] == [True, False]

    decide_review(
        session,
        first.id,
        "request-info",
        decided_by="qa-ann",
        note="Did the caller ask for a quote?",
        as_of=utc(2026, 3, 9),
    )
    queue = review_queue(session, as_of=utc(2026, 3, 9))
    assert [e.review.id for e in queue.entries] == [second.id]
    assert (queue.open, queue.waiting) == (1, 1)
    with pytest.raises(Conflict):
        reply_to_review(
            session, second.id, message="x", replied_by="pat", as_of=utc(2026, 3, 9), config=CONFIG
        )
    # Monday 2026-03-09 14:00 EDT reply: back in the queue, due Thursday 14:00 EDT.
    replied = reply_to_review(
        session,
        first.id,
        message="No, he wanted a job.",
        replied_by="pat",
        as_of=utc(2026, 3, 9, 18),
        config=CONFIG,
    )
    assert (replied.status, replied.due_at) == ("open", utc(2026, 3, 12, 18))
    trail = audit_trail(session, "pipes", lead_id="L1")
    assert [(t.kind, t.actor) for t in trail] == [
        ("submitted", "pat@pipes.test"),
        ("info_requested", "qa-ann"),
        ("replied", "pat"),
    ]
    assert [t.lead_id for t in audit_trail(session, "pipes")] == ["L2", "L1", "L1", "L1"]


def test_r14_reject_needs_a_note_for_the_customer(session: Session) -> None:
    account_on(session, ppl_plan(session))
    add_lead(session, "pipes", "L1", utc(2026, 3, 2))
    review = submit(session, "L1", utc(2026, 3, 3))
    with pytest.raises(InvalidInput, match="note"):
        decide_review(session, review.id, "reject", decided_by="qa", as_of=utc(2026, 3, 4))
    result = decide_review(
        session,
        review.id,
        "reject",
        decided_by="qa",
        note="The recording shows a new customer.",
        as_of=utc(2026, 3, 4),
    )
    assert (result.review.status, result.review.decision_note) == (
        "rejected",
        "The recording shows a new customer.",
    )


def test_r14_business_days_with_the_holidays_library(session: Session) -> None:
    from leadbill.reviews.calendar import review_config
    from leadbill.settings import Settings

    account_on(session, ppl_plan(session))
    add_lead(session, "pipes", "US", utc(2026, 11, 24))
    add_lead(session, "pipes", "DE", utc(2026, 12, 23))
    us = review_config(Settings(database_url="", operator_country="US"))
    de = review_config(
        Settings(
            database_url="",
            operator_country="DE",
            operator_subdivision="BY",
            operator_time_zone="Europe/Berlin",
        )
    )
    # Wednesday before Thanksgiving, 10:00 EST -> Fri, Mon, Tue 10:00 EST.
    review = submit_review(
        session,
        "pipes",
        "US",
        reason="solicitor",
        explanation=EXPLANATION,
        submitted_by="pat",
        as_of=utc(2026, 11, 25, 15),
        config=us,
    )
    assert review.due_at == utc(2026, 12, 1, 15)
    # Christmas Eve 09:00 CET; 25th and 26th are holidays -> Mon, Tue, Wed 09:00 CET.
    review = submit_review(
        session,
        "pipes",
        "DE",
        reason="solicitor",
        explanation=EXPLANATION,
        submitted_by="pat",
        as_of=utc(2026, 12, 24, 8),
        config=de,
    )
    assert review.due_at == utc(2026, 12, 30, 8)


# R15: money follows.


def approve(session: Session, review: Review, at):  # type: ignore[no-untyped-def]
    return decide_review(session, review.id, "approve", decided_by="qa-ann", as_of=at)


def test_r15_pay_per_lead_approved_before_invoicing_drops_out(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        account_on(session, ppl_plan(session))
        add_lead(session, "pipes", "L1", utc(2026, 3, 10), category="roofing")
        add_lead(session, "pipes", "L2", utc(2026, 3, 11))
        add_lead(session, "pipes", "L3", utc(2026, 3, 12))
        review = submit(session, "L1", utc(2026, 3, 13))
        result = approve(session, review, utc(2026, 3, 16))
        assert result.credit_note is None and "not invoiced yet" in result.effect
    run_billing(sessions, APRIL)
    with sessions.begin() as session:
        invoice = invoice_at(session, account(session), 1)
        assert lines_of(session, invoice) == [
            ("leads", 2, "40.00", "80.00"),
            ("plan_fee", 1, "0.00", "0.00"),
        ]
        assert invoice.total == Decimal("80.00")
        # The approval is a staff decision: the call report says why the lead is not charged.
        decision = session.scalars(select(LeadDecision)).one()
        assert (decision.reason, decision.decided_by) == ("job_seeker", "qa-ann")
        report = call_report(session, account(session), as_of=utc(2026, 3, 20))
        rows = {row.lead_id: row for row in report.rows}
        assert rows["L1"].counted is False and rows["L1"].reason == "job_seeker"


def test_r15_pay_per_lead_approved_after_invoicing_credits_the_lead_price(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        account_on(session, ppl_plan(session))
        add_lead(session, "pipes", "L1", utc(2026, 3, 10))
        add_lead(session, "pipes", "L2", utc(2026, 3, 28), category="roofing")
        add_lead(session, "pipes", "L3", utc(2026, 3, 30))
    run_billing(sessions, APRIL)
    with sessions.begin() as session:
        march = invoice_at(session, account(session), 1)
        assert march.total == Decimal("135.00")  # 55.00 + 2 x 40.00
        for n in range(3):
            add_lead(session, "pipes", f"A{n}", utc(2026, 4, 5 + n))
        review = submit(session, "L2", utc(2026, 4, 2))
        result = approve(session, review, utc(2026, 4, 3))
        note = result.credit_note
        assert note is not None and note.number == "CN-000001"
        assert (note.total, note.invoice_id) == (Decimal("55.00"), march.id)
        # A second approval, later: refused, nothing credited twice.
        with pytest.raises(Conflict):
            approve(session, review, utc(2026, 4, 4))
        # The invoice itself never changes.
        assert invoice_at(session, account(session), 1).total == Decimal("135.00")
    run_billing(sessions, MAY)
    run_billing(sessions, MAY)  # a second run changes nothing
    with sessions.begin() as session:
        april = invoice_at(session, account(session), 2)
        assert lines_of(session, april) == [
            ("leads", 3, "40.00", "120.00"),
            ("plan_fee", 1, "0.00", "0.00"),
            ("credit", 1, "-55.00", "-55.00"),
        ]
        assert april.total == Decimal("65.00")
        view = get_credit_note(session, "CN-000001")
        assert view.remaining.amount == Decimal("0.00")
        assert [number for number, _amount, _at in view.applications] == [april.number]
        assert session.scalar(select(func.count(CreditApplication.id))) == 1
        trail = audit_trail(session, "pipes", lead_id="L2")
        assert [t.kind for t in trail] == ["submitted", "approved", "credited"]
        assert "CN-000001 of 55.00 USD" in trail[-1].detail


def test_r15_credit_larger_than_the_next_invoice_is_carried_forward(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        account_on(session, ppl_plan(session))
        add_lead(session, "pipes", "L1", utc(2026, 3, 30), category="roofing")
    run_billing(sessions, APRIL)
    with sessions.begin() as session:
        add_lead(session, "pipes", "A1", utc(2026, 4, 10))  # April: one lead, 40.00
        add_lead(session, "pipes", "M1", utc(2026, 5, 10))  # May: one lead, 40.00
        approve(session, submit(session, "L1", utc(2026, 4, 1, 12)), utc(2026, 4, 2))
    run_billing(sessions, JUNE)
    with sessions.begin() as session:
        april = invoice_at(session, account(session), 2)
        may = invoice_at(session, account(session), 3)
        assert april.total == Decimal("0.00") and april.status == "paid"
        assert lines_of(session, april)[-1] == ("credit", 1, "-40.00", "-40.00")
        assert may.total == Decimal("25.00")
        assert lines_of(session, may)[-1] == ("credit", 1, "-15.00", "-15.00")
        assert get_credit_note(session, "CN-000001").remaining.amount == Decimal("0.00")


def test_r15_package_approved_before_invoicing(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        account_on(session, package_plan(session))
        for n in range(5):
            add_lead(session, "pipes", f"L{n}", utc(2026, 3, 10 + n))
        approve(session, submit(session, "L0", utc(2026, 3, 16)), utc(2026, 3, 17))
    run_billing(sessions, APRIL)
    with sessions.begin() as session:
        invoice = invoice_at(session, account(session), 1)
        assert lines_of(session, invoice)[0] == ("overage", 1, "30.00", "30.00")
        assert invoice.total == Decimal("530.00")


def test_r15_package_approved_after_invoicing_frees_an_overage_lead_or_nothing(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        account_on(session, package_plan(session))
        for n in range(4):  # 4 leads, 3 included: one overage lead at 30.00
            add_lead(session, "pipes", f"L{n}", utc(2026, 3, 26 + n))
    run_billing(sessions, APRIL)
    with sessions.begin() as session:
        march = invoice_at(session, account(session), 1)
        assert march.total == Decimal("530.00")  # overage 30.00 + April fee 500.00
        # L0 was inside the allowance; without it the overage lead is freed: 30.00.
        first = approve(session, submit(session, "L0", utc(2026, 4, 1, 12)), utc(2026, 4, 2))
        assert first.credit_note is not None
        assert first.credit_note.total == Decimal("30.00")
        # A second lead of the same period: the re-rating gives nothing more back.
        second = approve(session, submit(session, "L1", utc(2026, 4, 1, 13)), utc(2026, 4, 2, 1))
        assert second.credit_note is None and "no credit" in second.effect
        assert session.scalar(select(func.count(CreditNote.id))) == 1
    run_billing(sessions, MAY)
    with sessions.begin() as session:
        april = invoice_at(session, account(session), 2)
        assert lines_of(session, april)[-1] == ("credit", 1, "-30.00", "-30.00")
        assert april.total == Decimal("470.00")  # 0 overage + May fee 500.00 - 30.00


def test_r15_called_package_approved_before_and_after_invoicing(
    sessions: sessionmaker[Session],
) -> None:
    """Under seed 000's `called` package an approved review excludes the lead too."""
    with sessions.begin() as session:
        account_on(session, called_package_plan(session))
        for n in range(5):  # 5 called leads, 3 included: two overage leads at 30.00
            add_lead(session, "pipes", f"L{n}", utc(2026, 3, 26 + n))
        before = approve(session, submit(session, "L4", utc(2026, 3, 30, 12)), utc(2026, 3, 31))
        assert before.credit_note is None and "no longer counts" in before.effect
        report = call_report(session, account(session), as_of=utc(2026, 3, 31, 1))
        rows = {row.lead_id: row for row in report.rows}
        assert (rows["L4"].counted, rows["L4"].reason) == (False, "job_seeker")
    run_billing(sessions, APRIL)
    with sessions.begin() as session:
        march = invoice_at(session, account(session), 1)
        assert lines_of(session, march)[0] == ("overage", 1, "30.00", "30.00")
        assert march.total == Decimal("530.00")
        after = approve(session, submit(session, "L0", utc(2026, 4, 1, 12)), utc(2026, 4, 2))
        assert after.credit_note is not None
        assert after.credit_note.total == Decimal("30.00")
    run_billing(sessions, MAY)
    with sessions.begin() as session:
        april = invoice_at(session, account(session), 2)
        assert lines_of(session, april)[-1] == ("credit", 1, "-30.00", "-30.00")
        assert april.total == Decimal("470.00")


def test_review_statistics_per_account_and_period(session: Session) -> None:
    from leadbill.leads.decisions import exclude_leads

    account_on(session, ppl_plan(session))
    for n in range(5):
        add_lead(session, "pipes", f"L{n}", utc(2026, 3, 5 + n))
    reviews = [submit(session, f"L{n}", utc(2026, 3, 9, 14 + n)) for n in range(4)]
    # Monday 2026-03-09 submissions are due Thursday 2026-03-12.
    approve(session, reviews[0], utc(2026, 3, 10, 14))  # 1 day
    approve(session, reviews[1], utc(2026, 3, 13, 15))  # 4 days, after its due instant
    decide_review(
        session,
        reviews[2].id,
        "reject",
        decided_by="qa",
        note="A new customer.",
        as_of=utc(2026, 3, 11, 16),
    )  # 2 days
    exclude_leads(
        session, "pipes", ["L4"], reason="solicitor", decided_by="qa", as_of=utc(2026, 3, 20)
    )  # proactive review
    stats = statistics(session, "pipes", start=MARCH, end=APRIL, as_of=utc(2026, 3, 31))
    assert (stats.leads_reviewed, stats.submitted, stats.approved, stats.rejected) == (5, 4, 2, 1)
    assert str(stats.approval_rate) == "2/3"
    assert stats.median_time_to_decision == timedelta(days=2)
    assert stats.overdue == 2  # one decided late, one still open past due


def test_r15_credit_notes_are_immutable_and_numbered_without_gaps(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        account_on(session, ppl_plan(session))
        for n in range(3):
            add_lead(session, "pipes", f"L{n}", utc(2026, 3, 30, n))
    run_billing(sessions, APRIL)
    with sessions.begin() as session:
        for n in range(3):
            approve(session, submit(session, f"L{n}", utc(2026, 4, 1, n)), utc(2026, 4, 2, n))
    with sessions() as session, session.begin():
        numbers = session.scalars(select(CreditNote.number).order_by(CreditNote.id)).all()
        assert numbers == ["CN-000001", "CN-000002", "CN-000003"]
        note = session.scalars(select(CreditNote)).first()
        assert note is not None
        note.total = Decimal("1.00")
        with pytest.raises(Conflict, match="immutable"):
            session.flush()
        session.rollback()


def test_r15_approval_under_a_plan_counting_no_leads_changes_no_figure(
    session: Session,
) -> None:
    from leadbill.plans.service import create_plan

    plan = create_plan(
        session,
        code="seats-only",
        name="Licences",
        currency="USD",
        interval="month",
        fee="0",
        included_leads=0,
        per_lead_rate="0",
        counting_policy="none",
        licence_price="30.00",
        as_of=MARCH,
    )
    account_on(session, plan)
    add_lead(session, "pipes", "L1", utc(2026, 3, 2))
    result = approve(session, submit(session, "L1", utc(2026, 3, 3)), utc(2026, 3, 4))
    assert result.review.status == "approved" and result.credit_note is None
    assert "no longer counts" in result.effect
