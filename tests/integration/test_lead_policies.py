"""Pay per lead and found contacts end to end (seeds 002, 003; R10-R12, R16-R18).

Events arrive through ingest_events, context through the context service, and
invoices from the billing run; every amount is checked to the cent on SQLite
and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from leadbill import console
from leadbill.accounts.models import Account
from leadbill.accounts.service import create_account
from leadbill.billing.models import Invoice, InvoiceLine
from leadbill.billing.repository import ClosingPeriod, counted_by_category
from leadbill.billing.service import run_billing
from leadbill.cli import app
from leadbill.context import repository as context_repository
from leadbill.context import service as context
from leadbill.core.billability import (
    EventType,
    LeadContext,
    LeadEvent,
    LeadFacts,
    Reason,
    decide,
)
from leadbill.core.contacts import normalise_company, normalise_domain
from leadbill.core.plans import CountingPolicy
from leadbill.errors import Conflict, InvalidInput, NotFound
from leadbill.leads.decisions import exclude_leads
from leadbill.leads.models import Lead, LeadDecision
from leadbill.leads.models import LeadEvent as StoredEvent
from leadbill.leads.policies import lead_contexts
from leadbill.leads.service import ingest_events
from leadbill.plans.models import Plan
from leadbill.plans.service import create_plan
from leadbill.subscriptions.service import create_subscription
from tests.conftest import utc

MARCH = utc(2026, 3, 1)
APRIL = utc(2026, 4, 1)
PPL = CountingPolicy.RECEIVED_UNLESS_EXCLUDED
FOUND = CountingPolicy.CONTACT_FOUND


def ppl_plan(session: Session) -> Plan:
    """Pay per lead: no fee, 50.00 a lead, plumbing 45.00 and electrical 60.00."""
    return create_plan(
        session,
        code="ppl",
        name="Pay per lead",
        currency="USD",
        interval="month",
        fee="0",
        included_leads=0,
        per_lead_rate="50.00",
        counting_policy="received_unless_excluded",
        category_prices={"plumbing": "45.00", "electrical": "60.00"},
        as_of=MARCH,
    )


def found_plan(session: Session) -> Plan:
    """Found contacts: 100.00 a month for 2 leads, 10.00 each beyond."""
    return create_plan(
        session,
        code="found-2",
        name="Prospecting 2",
        currency="USD",
        interval="month",
        fee="100.00",
        included_leads=2,
        per_lead_rate="10.00",
        counting_policy="contact_found",
        as_of=MARCH,
    )


def account_on(session: Session, plan: Plan, code: str = "acme") -> Account:
    account = create_account(
        session,
        code=code,
        name=code.title(),
        currency="USD",
        time_zone="UTC",
        billing_email=f"billing@{code}.test",
        as_of=MARCH,
    )
    create_subscription(session, account=account, plan=plan, start=MARCH)
    return account


_counter = iter(range(1, 1_000_000))


def event(
    lead: str,
    event_type: str,
    at: datetime,
    account: str = "acme",
    **columns: str,
) -> dict[str, str | None]:
    row: dict[str, str | None] = {
        "idempotency_key": f"k-{next(_counter)}",
        "account": account,
        "lead_id": lead,
        "event_type": event_type,
        "occurred_at": at.isoformat().replace("+00:00", "Z"),
    }
    row.update(columns)
    return row


def ingest(
    session: Session, rows: list[dict[str, str | None]], as_of: datetime | None = None
) -> None:
    result = ingest_events(session, rows, as_of=as_of or APRIL)
    assert result.rejected == 0, result.rejections


def verdicts(session: Session, account: Account) -> dict[str, tuple[str | None, str | None]]:
    """(exclusion_reason, decision_reason) by operator lead id."""
    rows = session.execute(
        select(Lead.external_id, Lead.exclusion_reason, Lead.decision_reason).where(
            Lead.account_id == account.id
        )
    )
    return {external_id: (reason, decision) for external_id, reason, decision in rows}


def period_lines(session: Session, account: Account) -> list[tuple[str, int, str, str]]:
    """(kind, quantity, unit price, amount) of the invoice closing March."""
    invoice = session.scalar(
        select(Invoice).where(Invoice.account_id == account.id, Invoice.boundary_index == 1)
    )
    assert invoice is not None
    lines = session.scalars(
        select(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id).order_by(InvoiceLine.id)
    )
    return [
        (line.kind, line.quantity, f"{line.unit_price:.2f}", f"{line.amount:.2f}") for line in lines
    ]


def bill(sessions: sessionmaker[Session]) -> None:
    run_billing(sessions, APRIL)


def test_r10_per_category_lines_to_the_cent(sessions: sessionmaker[Session]) -> None:
    with sessions() as session, session.begin():
        account = account_on(session, ppl_plan(session))
        rows = [
            event(f"P{n}", "received", utc(2026, 3, 2 + n), category="plumbing", source="phone")
            for n in range(3)
        ]
        rows += [
            event(f"E{n}", "received", utc(2026, 3, 10 + n), category="electrical", source="phone")
            for n in range(3)
        ]
        rows.append(event("R1", "received", utc(2026, 3, 20), category="roofing"))
        rows.append(event("X1", "received", utc(2026, 4, 2), category="plumbing"))  # April
        ingest(session, rows)
        exclude_leads(
            session,
            "acme",
            ["E2"],
            reason="job_seeker",
            decided_by="qa-ann",
            as_of=utc(2026, 3, 25),
        )
    bill(sessions)
    with sessions() as session:
        account = session.scalars(select(Account)).one()
        assert period_lines(session, account) == [
            ("leads", 2, "60.00", "120.00"),
            ("leads", 3, "45.00", "135.00"),
            ("leads", 1, "50.00", "50.00"),
            ("plan_fee", 1, "0.00", "0.00"),
        ]
        invoice = session.scalar(select(Invoice).where(Invoice.boundary_index == 1))
        assert invoice is not None and invoice.total == Decimal("305.00")


def test_r10_staff_reason_must_be_in_the_vocabulary(session: Session) -> None:
    account_on(session, ppl_plan(session))
    ingest(session, [event("L1", "received", utc(2026, 3, 2))])
    with pytest.raises(InvalidInput):
        exclude_leads(session, "acme", ["L1"], reason="too_expensive", decided_by="x", as_of=APRIL)


def test_r11_billable_outcomes_never_exclude(sessions: sessionmaker[Session]) -> None:
    with sessions() as session, session.begin():
        account_on(session, ppl_plan(session))
        rows = []
        for n, outcome in enumerate(
            ["price_shopper", "hang_up", "booked_with_competitor", "cancelled_appointment"]
        ):
            at = utc(2026, 3, 5 + n)
            rows.append(event(f"L{n}", "received", at, category="plumbing", source="phone"))
            rows.append(event(f"L{n}", "call_missed", at + timedelta(minutes=1)))
            rows.append(event(f"L{n}", "outcome", at + timedelta(hours=1), detail=outcome))
        ingest(session, rows)
    bill(sessions)
    with sessions() as session:
        account = session.scalars(select(Account)).one()
        assert period_lines(session, account)[0] == ("leads", 4, "45.00", "180.00")
        details = set(
            session.scalars(select(StoredEvent.detail).where(StoredEvent.type == "outcome"))
        )
        assert details == {
            "price_shopper",
            "hang_up",
            "booked_with_competitor",
            "cancelled_appointment",
        }


def _context_rows() -> list[dict[str, str | None]]:
    return [
        # Received during the spring pause (Mar 10 - Mar 12).
        event("PAUSED", "received", utc(2026, 3, 11), campaign="spring", postal_code="80202"),
        event("RESUMED", "received", utc(2026, 3, 12), campaign="spring", postal_code="80202"),
        # Outside the service area; inside with ZIP+4.
        event("FAR", "received", utc(2026, 3, 3), postal_code="10001"),
        event("NEAR", "received", utc(2026, 3, 3, 1), postal_code="80203-1234"),
        # On the customer list, by a differently written phone.
        event("CUSTOMER", "received", utc(2026, 3, 4), phone="303.555.0142"),
        # The same caller within 30 days, then again after 40 days.
        event("FIRST", "received", utc(2026, 3, 1, 8), email="Ann@Mail.Example"),
        event("AGAIN", "received", utc(2026, 3, 20), email="ann@mail.example"),
        # A form lead with neither a valid phone nor a valid e-mail; and one with a phone.
        event("FORM-BAD", "received", utc(2026, 3, 6), source="form", phone="12", email="nope"),
        event("FORM-OK", "received", utc(2026, 3, 6, 1), source="form", phone="(303) 555-0199"),
    ]


def _set_context(session: Session) -> None:
    context.add_campaign(session, "acme", "spring")
    context.pause_campaign(session, "acme", "spring", utc(2026, 3, 10), utc(2026, 3, 12))
    context.set_service_area(session, "acme", ["80202", "80203"])
    context.add_customers(session, "acme", [("+1 303 555 0142", None), (None, "x@y.example")])


EXPECTED_R12 = {
    "PAUSED": ("campaign_paused", None),
    "RESUMED": (None, None),
    "FAR": ("outside_service_area", None),
    "NEAR": (None, None),
    "CUSTOMER": ("previous_customer", None),
    "FIRST": (None, None),
    "AGAIN": ("previous_customer", None),
    "FORM-BAD": ("non_working_contact", None),
    "FORM-OK": (None, None),
}


def test_r12_automatic_reasons_at_ingestion(sessions: sessionmaker[Session]) -> None:
    with sessions() as session, session.begin():
        account = account_on(session, ppl_plan(session))
        _set_context(session)
        ingest(session, _context_rows())
        assert verdicts(session, account) == EXPECTED_R12
        again, first = (
            session.scalar(select(Lead).where(Lead.external_id == name))
            for name in ("AGAIN", "FIRST")
        )
        assert again is not None and first is not None
        assert again.exclusion_lead_id == first.id
        assert again.email_key == "ann@mail.example"
    bill(sessions)
    with sessions() as session:
        account = session.scalars(select(Account)).one()
        # RESUMED, NEAR, FIRST, FORM-OK: 4 uncategorised leads at 50.00.
        assert period_lines(session, account)[0] == ("leads", 4, "50.00", "200.00")


def test_r12_context_set_after_the_leads_applies_to_the_open_period(session: Session) -> None:
    account = account_on(session, ppl_plan(session))
    ingest(session, _context_rows())
    assert all(
        reason == (None, None)
        for name, reason in verdicts(session, account).items()
        if name not in ("AGAIN", "FORM-BAD")
    )
    _set_context(session)
    assert verdicts(session, account) == EXPECTED_R12


def test_r12_duplicate_window_setting_and_out_of_order_arrival(session: Session) -> None:
    account = account_on(session, ppl_plan(session))
    context.set_settings(session, "acme", duplicate_window_days=7)
    # The later lead arrives first; the earlier one then makes it a duplicate.
    ingest(session, [event("LATE", "received", utc(2026, 3, 9), phone="+13035550123")])
    assert verdicts(session, account)["LATE"] == (None, None)
    ingest(session, [event("EARLY", "received", utc(2026, 3, 3), phone="303-555-0123")])
    assert verdicts(session, account) == {
        "EARLY": (None, None),
        "LATE": ("previous_customer", None),
    }
    # Another 10 days later: outside the 7-day window of LATE.
    ingest(session, [event("LATER", "received", utc(2026, 3, 19), phone="3035550123")])
    assert verdicts(session, account)["LATER"] == (None, None)


def test_r12_a_later_lead_keeps_its_nearest_earlier_lead_by_its_other_contact(
    session: Session,
) -> None:
    account = account_on(session, ppl_plan(session))
    ingest(
        session,
        [
            event("BY-MAIL", "received", utc(2026, 3, 8), email="ann@example.com"),
            event(
                "BOTH", "received", utc(2026, 3, 10), phone="+13035550123", email="ann@example.com"
            ),
        ],
    )
    # An earlier caller with BOTH's phone (but not its e-mail) arrives afterwards: BOTH
    # stays the repeat of BY-MAIL, the most recent earlier lead on either contact.
    ingest(session, [event("BY-PHONE", "received", utc(2026, 3, 5), phone="303-555-0123")])
    rows = session.execute(
        select(Lead.external_id, Lead.exclusion_reason, Lead.exclusion_lead_id).where(
            Lead.account_id == account.id
        )
    ).all()
    ids = {
        external_id: lead_id
        for external_id, lead_id in session.execute(
            select(Lead.external_id, Lead.id).where(Lead.account_id == account.id)
        )
    }
    found = {external_id: (reason, earlier) for external_id, reason, earlier in rows}
    assert found["BOTH"] == ("previous_customer", ids["BY-MAIL"])
    assert found["BY-PHONE"] == (None, None)
    assert found["BY-MAIL"] == (None, None)


def test_r12_stored_verdict_equals_core_decide(session: Session) -> None:
    plan = ppl_plan(session)
    account = account_on(session, plan)
    _set_context(session)
    context.add_block_entry(session, "acme", "domain", "acme-corp.example")
    rows = _context_rows()
    rows.append(event("BLOCKED", "received", utc(2026, 3, 7), email="bob@ACME-corp.example"))
    rows.append(event("DUP2", "received", utc(2026, 3, 25), phone="+13035550199"))
    ingest(session, rows)
    exclude_leads(session, "acme", ["NEAR"], reason="referral", decided_by="qa", as_of=APRIL)
    account_context = context_repository.account_contexts(session, [account.id])[account.id]
    leads = session.scalars(select(Lead).where(Lead.account_id == account.id)).all()
    # The core sees every other lead of the account as a possible earlier one.
    facts = {
        lead.id: LeadFacts(
            lead_id=lead.id,
            received_at=lead.received_at,
            source=lead.source,
            postal_code=lead.postal_code,
            campaign=lead.campaign,
            phone=lead.phone_e164,
            email=lead.email_key,
            company=normalise_company(lead.company),
            company_domain=normalise_domain(lead.company_domain),
        )
        for lead in leads
    }
    stored_contexts = lead_contexts(session, facts)
    billable = 0
    for lead in leads:
        events = [
            LeadEvent(EventType(e.type), e.occurred_at)
            for e in session.scalars(select(StoredEvent).where(StoredEvent.lead_id == lead.id))
        ]
        staff = Reason(lead.decision_reason) if lead.decision_reason else None
        others = tuple(f for lead_id, f in facts.items() if lead_id != lead.id)
        full = LeadContext(facts[lead.id], account_context, others, staff)
        verdict = decide(PPL, events, full)
        assert decide(PPL, events, stored_contexts[lead.id]) == verdict
        stored_reason = lead.decision_reason or lead.exclusion_reason
        assert (verdict.billable, None if verdict.billable else verdict.reason.value) == (
            stored_reason is None,
            stored_reason,
        ), lead.external_id
        assert verdict.duplicate_of == lead.exclusion_lead_id or staff is not None
        billable += verdict.billable
    assert billable == 3  # RESUMED, FIRST, FORM-OK
    usage = counted_by_category(session, [ClosingPeriod(1, 0, account.id, MARCH, APRIL)], PPL)
    assert sum(usage[(1, 0)].values()) == billable


def test_r16_staff_decisions_record_who_and_when(session: Session) -> None:
    account = account_on(session, ppl_plan(session))
    ingest(session, [event(f"L{n}", "received", utc(2026, 3, 2 + n)) for n in range(3)])
    at = utc(2026, 3, 20, 15, 30)
    assert (
        exclude_leads(
            session, "acme", ["L0", "L2"], reason="solicitor", decided_by="qa-bo", as_of=at
        )
        == 2
    )
    decisions = session.scalars(select(LeadDecision).order_by(LeadDecision.id)).all()
    assert [(d.reason, d.decided_by, d.decided_at) for d in decisions] == [
        ("solicitor", "qa-bo", at),
        ("solicitor", "qa-bo", at),
    ]
    assert verdicts(session, account) == {
        "L0": (None, "solicitor"),
        "L1": (None, None),
        "L2": (None, "solicitor"),
    }
    with pytest.raises(NotFound):
        exclude_leads(session, "acme", ["L1", "NOPE"], reason="solicitor", decided_by="x", as_of=at)
    assert verdicts(session, account)["L1"] == (None, None)


def test_r16_refused_once_the_period_is_invoiced(sessions: sessionmaker[Session]) -> None:
    with sessions() as session, session.begin():
        account_on(session, ppl_plan(session))
        ingest(session, [event("L1", "received", utc(2026, 3, 2))])
        ingest(session, [event("L2", "received", utc(2026, 4, 2))])
    bill(sessions)
    with sessions() as session, session.begin():
        with pytest.raises(Conflict, match="already invoiced"):
            exclude_leads(session, "acme", ["L1"], reason="referral", decided_by="qa", as_of=APRIL)
        assert (
            exclude_leads(session, "acme", ["L2"], reason="referral", decided_by="qa", as_of=APRIL)
            == 1
        )


@pytest.fixture
def cli_database(
    database_url: str, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> Iterator[sessionmaker[Session]]:
    monkeypatch.setenv("LEADBILL_DATABASE_URL", database_url)
    console.sessions.cache_clear()
    yield sessions
    console.sessions().kw["bind"].dispose()
    console.sessions.cache_clear()


def test_r16_bulk_exclusion_from_csv_on_the_cli(
    cli_database: sessionmaker[Session], tmp_path: Path
) -> None:
    with cli_database() as session, session.begin():
        account_on(session, ppl_plan(session))
        ingest(session, [event(f"L{n}", "received", utc(2026, 3, 2 + n)) for n in range(4)])
    path = tmp_path / "ids.csv"
    path.write_text("lead_id\nL1\nL3\n", encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "leads",
            "exclude-bulk",
            "acme",
            str(path),
            "--reason",
            "wrong_number",
            "--by",
            "qa",
            "--at",
            "2026-03-20T09:30:00Z",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "2 leads marked non-billable" in result.output
    result = runner.invoke(
        app, ["leads", "exclude", "acme", "L0", "--reason", "bogus", "--by", "qa"]
    )
    assert result.exit_code == 2
    result = runner.invoke(
        app, ["leads", "exclude", "acme", "L0", "--reason", "referral", "--by", "qa", "--at", "x"]
    )
    assert result.exit_code == 2 and "error: at: 'x' is not an RFC 3339 instant" in result.output
    result = runner.invoke(app, ["leads", "decisions", "acme", "L3"])
    assert "2026-03-20 09:30:00" in result.output and "wrong_number" in result.output
    with cli_database() as session:
        account = session.scalars(select(Account)).one()
        assert verdicts(session, account) == {
            "L0": (None, None),
            "L1": (None, "wrong_number"),
            "L2": (None, None),
            "L3": (None, "wrong_number"),
        }


def test_r17_found_contacts_count_against_included_leads(sessions: sessionmaker[Session]) -> None:
    with sessions() as session, session.begin():
        account_on(session, found_plan(session))
        rows = []
        for n, kind in enumerate(["contact_found", "contact_enriched", "contact_verified"]):
            rows.append(event(f"F{n}", "received", utc(2026, 2, 20 + n)))  # searched in February
            rows.append(event(f"F{n}", kind, utc(2026, 3, 2 + n)))
        rows.append(event("F3", "contact_found", utc(2026, 3, 5)))
        rows.append(event("F3", "contact_verified", utc(2026, 4, 5)))  # counted once, in March
        rows.append(event("NF", "received", utc(2026, 3, 5)))
        rows.append(event("NF", "contact_not_found", utc(2026, 3, 6)))
        rows.append(event("APR", "contact_found", utc(2026, 4, 1)))  # next period
        ingest(session, rows, as_of=utc(2026, 4, 6))  # received after its last event
    bill(sessions)
    with sessions() as session:
        account = session.scalars(select(Account)).one()
        assert period_lines(session, account) == [
            ("overage", 2, "10.00", "20.00"),
            ("plan_fee", 1, "100.00", "100.00"),
        ]


def test_r18_block_list_is_never_charged(sessions: sessionmaker[Session]) -> None:
    with sessions() as session, session.begin():
        account = account_on(session, found_plan(session))
        context.add_block_entry(session, "acme", "company", "  Globex   Corp ")
        rows = [
            event(
                "A", "contact_found", utc(2026, 3, 2), company_domain="https://www.Acme.example/"
            ),
            event("B", "contact_found", utc(2026, 3, 3), company="globex corp"),
            event("C", "contact_found", utc(2026, 3, 4), email="ceo@initech.example"),
            event("D", "contact_found", utc(2026, 3, 5), email="cto@hooli.example"),
            event("E", "contact_found", utc(2026, 3, 6), company="Umbrella"),
        ]
        ingest(session, rows)
        # Block-list entries added after the leads apply to the open period too.
        context.add_block_entry(session, "acme", "domain", "acme.example")
        context.add_block_entry(session, "acme", "email", "CEO@initech.example")
        assert verdicts(session, account) == {
            "A": ("block_list", None),
            "B": ("block_list", None),
            "C": ("block_list", None),
            "D": (None, None),
            "E": (None, None),
        }
    bill(sessions)
    with sessions() as session:
        account = session.scalars(select(Account)).one()
        # 2 counted leads, 2 included: no overage.
        assert period_lines(session, account)[0] == ("overage", 0, "10.00", "0.00")


def test_r12_call_report_and_summary_count_as_billing_does(session: Session) -> None:
    from leadbill.reports.service import billing_summary, call_report

    account = account_on(session, ppl_plan(session))
    _set_context(session)
    ingest(session, _context_rows())
    exclude_leads(session, "acme", ["FIRST"], reason="referral", decided_by="qa", as_of=APRIL)
    as_of = utc(2026, 3, 31)
    report = call_report(session, account, as_of=as_of)
    reasons = {row.lead_id: (row.counted, row.reason) for row in report.rows}
    assert reasons == {
        "PAUSED": (False, "campaign_paused"),
        "RESUMED": (True, "received"),
        "FAR": (False, "outside_service_area"),
        "NEAR": (True, "received"),
        "CUSTOMER": (False, "previous_customer"),
        "FIRST": (False, "referral"),
        "AGAIN": (False, "previous_customer"),
        "FORM-BAD": (False, "non_working_contact"),
        "FORM-OK": (True, "received"),
    }
    assert billing_summary(session, account, as_of).counted_leads == 3


def test_r12_context_managed_from_the_cli(
    cli_database: sessionmaker[Session], tmp_path: Path
) -> None:
    with cli_database() as session, session.begin():
        account_on(session, ppl_plan(session))
        ingest(session, _context_rows())
    customers = tmp_path / "customers.csv"
    customers.write_text("phone,email\n+1 303 555 0142,\n,not-an-email\n", encoding="utf-8")
    runner = CliRunner()
    steps = [
        ["context", "campaign-add", "acme", "spring"],
        ["context", "pause", "acme", "spring", "--start", "2026-03-10"],
        ["context", "resume", "acme", "spring", "--at", "2026-03-12"],
        ["context", "service-area", "acme", "80202", "80203"],
        ["context", "customers-import", "acme", str(customers)],
        ["context", "settings", "acme", "--phone-region", "us", "--duplicate-window-days", "30"],
        ["leads", "reevaluate", "acme"],
    ]
    for step in steps:
        result = runner.invoke(app, step)
        assert result.exit_code == 0, (step, result.output)
    assert (
        "1 customers added, 1 rows without a valid phone or e-mail"
        in runner.invoke(app, ["context", "customers-import", "acme", str(customers)]).output
    )
    refused = runner.invoke(app, ["context", "block", "acme", "fax", "x"])
    assert refused.exit_code == 2
    with cli_database() as session:
        account = session.scalars(select(Account)).one()
        assert verdicts(session, account) == EXPECTED_R12


def test_r17_stored_usage_equals_core_decide(session: Session) -> None:
    account = account_on(session, found_plan(session))
    context.add_block_entry(session, "acme", "domain", "blocked.example")
    rows = [
        event("A", "contact_found", utc(2026, 3, 2), company_domain="ok.example"),
        event("B", "contact_enriched", utc(2026, 3, 3), company_domain="blocked.example"),
        event("C", "received", utc(2026, 3, 3), postal_code="10001"),
        event("C", "contact_verified", utc(2026, 3, 31, 23, 59, 59)),
        event("D", "contact_not_found", utc(2026, 3, 4)),
        event("E", "contact_found", utc(2026, 4, 1)),
        event("F", "contact_found", utc(2026, 3, 9), email="x@ok.example"),
        event("G", "contact_found", utc(2026, 3, 10), email="x@ok.example"),  # not a duplicate
    ]
    ingest(session, rows)
    exclude_leads(session, "acme", ["F"], reason="wrong_number", decided_by="qa", as_of=APRIL)
    leads = session.scalars(select(Lead).where(Lead.account_id == account.id)).all()
    contexts = lead_contexts(session, [lead.id for lead in leads])
    counted = set()
    for lead in leads:
        events = [
            LeadEvent(EventType(e.type), e.occurred_at)
            for e in session.scalars(select(StoredEvent).where(StoredEvent.lead_id == lead.id))
        ]
        verdict = decide(FOUND, events, contexts[lead.id])
        if (
            verdict.billable
            and verdict.counted_at is not None
            and MARCH <= verdict.counted_at < APRIL
        ):
            counted.add(lead.external_id)
    assert counted == {"A", "C", "G"}
    usage = counted_by_category(session, [ClosingPeriod(1, 0, account.id, MARCH, APRIL)], FOUND)
    assert sum(usage[(1, 0)].values()) == len(counted)
