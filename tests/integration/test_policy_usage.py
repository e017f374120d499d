"""Explain, thresholds, summary and advice under the per-lead policies (seeds 002, 003).

Pay per lead (R10-R12, R16) and found contacts (R17, R18) counted through the
billing run's own queries: the explanation of each invoice line lists the leads
behind it with the reason each counted or not, thresholds fire for found
contacts, and plan advice prices each plan of the ladder as its invoices would.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from leadbill.accounts.models import Account
from leadbill.billing.explain import explain_invoice, iter_line_leads
from leadbill.billing.models import Invoice
from leadbill.billing.service import run_billing
from leadbill.context import service as context
from leadbill.leads.decisions import exclude_leads
from leadbill.plans.advice import advise_account
from leadbill.plans.models import Plan
from leadbill.plans.service import create_plan
from leadbill.reports.service import billing_summary
from leadbill.subscriptions.service import current_subscription
from leadbill.usage.service import crossings_of
from tests.conftest import utc
from tests.integration.test_lead_policies import APRIL, MARCH, account_on, event, ingest


def _plan(session: Session, code: str, fee: str, included: int, rate: str, **extra: object) -> Plan:
    return create_plan(
        session,
        code=code,
        name=code.title(),
        currency="USD",
        interval="month",
        fee=fee,
        included_leads=included,
        per_lead_rate=rate,
        as_of=MARCH,
        **extra,  # type: ignore[arg-type]
    )


def _pay_per_lead(sessions: sessionmaker[Session]) -> str:
    """A contractor on ppl-basic, March billed; returns the number of the March invoice."""
    with sessions.begin() as session:
        basic = _plan(
            session,
            "ppl-basic",
            "0",
            0,
            "50.00",
            counting_policy="received_unless_excluded",
            category_prices={"plumbing": "45.00", "electrical": "60.00"},
            ladder="ppl",
        )
        _plan(
            session,
            "ppl-member",
            "20.00",
            0,
            "40.00",
            counting_policy="received_unless_excluded",
            category_prices={"plumbing": "35.00", "electrical": "50.00"},
            ladder="ppl",
        )
        account_on(session, basic)
        context.add_campaign(session, "acme", "spring")
        context.pause_campaign(session, "acme", "spring", utc(2026, 3, 10), utc(2026, 3, 12))
        context.set_service_area(session, "acme", ["80202", "80203"])
        context.add_customers(session, "acme", [("+1 303 555 0142", None)])
        p, e = {"category": "plumbing"}, {"category": "electrical"}
        ingest(
            session,
            [
                event("P1", "received", utc(2026, 3, 2), postal_code="80202", **p),
                event("P2", "received", utc(2026, 3, 3), **p),
                event("P3", "received", utc(2026, 3, 11), campaign="spring", **p),
                event("E1", "received", utc(2026, 3, 4), postal_code="10001", **e),
                event("E2", "received", utc(2026, 3, 5), **e),
                event("E3", "received", utc(2026, 3, 6), phone="303.555.0142", **e),
                event("D1", "received", utc(2026, 3, 7), email="ann@x.example", **p),
                event("D2", "received", utc(2026, 3, 8), email="ANN@x.example", **p),
                event("F1", "received", utc(2026, 3, 8, 1), source="form", phone="12", **p),
                event("F1", "outcome", utc(2026, 3, 8, 2), detail="price_shopper"),
                event("O1", "received", utc(2026, 3, 9), category="roofing"),
                event("O2", "received", utc(2026, 3, 9, 1)),
                event("O2", "call_missed", utc(2026, 3, 9, 2)),
            ],
        )
        exclude_leads(
            session,
            "acme",
            ["P2"],
            reason="job_seeker",
            decided_by="qa-ann",
            as_of=utc(2026, 3, 20),
        )
    run_billing(sessions, APRIL)
    with sessions.begin() as session:
        number = session.scalar(select(Invoice.number).where(Invoice.boundary_index == 1))
    assert number is not None
    return number


def test_r10_r12_r16_explain_lists_each_category_line_leads_with_their_reasons(
    sessions: sessionmaker[Session],
) -> None:
    number = _pay_per_lead(sessions)
    with sessions.begin() as session:
        found = explain_invoice(session, number)
        assert [(line.kind, line.quantity, line.amount.amount) for line in found.lines] == [
            ("leads", 1, Decimal("60.00")),
            ("leads", 2, Decimal("90.00")),
            ("leads", 2, Decimal("100.00")),
            ("plan_fee", 1, Decimal("0.00")),
        ]
        electrical, plumbing, other, fee = found.lines

        def verdicts(line: object) -> dict[str, tuple[bool, str]]:
            return {
                lead.lead_id: (lead.charged, lead.reason)
                for lead in iter_line_leads(session, line)  # type: ignore[arg-type]
            }

        assert verdicts(electrical) == {
            "E1": (False, "outside_service_area"),
            "E2": (True, "received"),
            "E3": (False, "previous_customer"),
        }
        assert verdicts(plumbing) == {
            "P1": (True, "received"),
            "P2": (False, "job_seeker"),
            "P3": (False, "campaign_paused"),
            "D1": (True, "received"),
            "D2": (False, "previous_customer"),
            "F1": (False, "non_working_contact"),
        }
        # R12: the repeat caller points at the earlier lead it repeats.
        (repeat,) = (lead for lead in iter_line_leads(session, plumbing) if lead.lead_id == "D2")
        assert repeat.reason_text == (
            "not billable: a previous customer (the same caller as lead D1, within the window)"
        )
        # Roofing has no price and O2 no category: the per-lead rate; a missed call is billable.
        assert verdicts(other) == {"O1": (True, "received"), "O2": (True, "received")}
        assert "1 lead of category electrical counted" in electrical.explanation
        assert "each charged 60.00 USD" in electrical.explanation
        assert "2 leads without a category price" in other.explanation
        assert fee.scope is None and "no lead is charged on this line" in fee.explanation


def test_r10_summary_and_advice_price_pay_per_lead_by_category(
    sessions: sessionmaker[Session],
) -> None:
    _pay_per_lead(sessions)
    with sessions.begin() as session:
        account = session.scalars(select(Account)).one()
        result = advise_account(session, account, as_of=utc(2026, 4, 15), periods=3)
        costs = {option.plan.code: option.total.amount for option in result.advice.options}
        # basic: 60.00 + 2 x 45.00 + 2 x 50.00; member: 20.00 + 50.00 + 2 x 35.00 + 2 x 40.00.
        assert costs == {"ppl-basic": Decimal("250.00"), "ppl-member": Decimal("220.00")}
        assert result.advice.recommended.plan.code == "ppl-member"
        assert result.advice.reasoning.startswith(
            "ppl-member would have cost 220.00 USD over 1 month, 30.00 USD less than your ppl-basic"
        )


def test_r10_summary_charges_each_counted_lead_at_its_category_price(session: Session) -> None:
    basic = _plan(
        session,
        "ppl-basic",
        "0",
        0,
        "50.00",
        counting_policy="received_unless_excluded",
        category_prices={"plumbing": "45.00", "electrical": "60.00"},
    )
    account = account_on(session, basic)
    ingest(
        session,
        [
            event("E1", "received", utc(2026, 3, 2), category="electrical"),
            event("P1", "received", utc(2026, 3, 3), category="plumbing"),
            event("P2", "received", utc(2026, 3, 4), category="plumbing"),
            event("O1", "received", utc(2026, 3, 5)),
        ],
    )
    exclude_leads(session, "acme", ["O1"], reason="wrong_number", decided_by="qa", as_of=APRIL)
    summary = billing_summary(session, account, utc(2026, 3, 20))
    assert summary.charges_per_lead
    assert (summary.counted_leads, summary.included_leads) == (3, 0)
    # 60.00 + 2 x 45.00; at this pace (19 of 31 days) 1 electrical and 3 plumbing leads.
    assert summary.overage_so_far.amount == Decimal("150.00")
    assert summary.projected_cost.amount == Decimal("195.00")
    assert summary.thresholds == ()


def _found_contacts(session: Session) -> Account:
    """An account on found-2 (100.00 for 2 leads, 10.00 beyond) with a block list."""
    found_2 = _plan(
        session, "found-2", "100.00", 2, "10.00", counting_policy="contact_found", ladder="b2b"
    )
    _plan(session, "found-5", "130.00", 5, "8.00", counting_policy="contact_found", ladder="b2b")
    account = account_on(session, found_2)
    context.add_block_entry(session, "acme", "domain", "blocked.example")
    rows = []
    for lead, day, found, extra in [
        ("C1", 2, "contact_found", {}),
        ("C2", 3, "contact_enriched", {"source": "upload"}),
        ("C3", 4, "contact_not_found", {"source": "upload"}),
        ("C4", 5, "contact_found", {"email": "boss@blocked.example"}),
        ("C5", 6, "contact_verified", {}),
        ("C6", 7, "contact_found", {}),
    ]:
        rows.append(event(lead, "received", utc(2026, 3, day), company=f"{lead} Ltd", **extra))
        rows.append(event(lead, found, utc(2026, 3, day, 10)))
    ingest(session, rows)
    return account


def test_r17_r18_thresholds_fire_for_found_contacts(session: Session) -> None:
    account = _found_contacts(session)
    summary = billing_summary(session, account, utc(2026, 3, 20))
    assert (summary.counted_leads, summary.included_leads, summary.overage_leads) == (4, 2, 2)
    assert summary.overage_so_far.amount == Decimal("20.00")
    # 80 % and 100 % of 2 leads are both the 2nd counted lead: C2, enriched on March 3.
    flags = [(f.threshold, f.leads, f.reached, f.crossed_at, f.lead_id) for f in summary.thresholds]
    assert flags == [
        (80, 2, True, utc(2026, 3, 3, 10), "C2"),
        (100, 2, True, utc(2026, 3, 3, 10), "C2"),
    ]
    # Recorded once: a second summary records nothing new.
    billing_summary(session, account, utc(2026, 3, 21))
    stored = crossings_of(session, current_subscription(session, account).id, 0)
    assert [(c.threshold, c.external_id) for c in stored] == [(80, "C2"), (100, "C2")]


def test_r17_r18_explain_found_contacts_overage_and_advice(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        _found_contacts(session)
    run_billing(sessions, APRIL)
    with sessions.begin() as session:
        number = session.scalar(select(Invoice.number).where(Invoice.boundary_index == 1))
        overage, fee = explain_invoice(session, str(number)).lines
        assert (overage.kind, overage.quantity, overage.amount.amount) == (
            "overage",
            2,
            Decimal("20.00"),
        )
        assert (overage.counted_leads, overage.allowance) == (4, 2)
        assert "4 leads counted (contact_found)" in overage.explanation
        leads = {
            lead.lead_id: (lead.counted, lead.overage, lead.reason)
            for lead in iter_line_leads(session, overage)
        }
        assert leads == {
            "C1": (True, False, "contact_found"),
            "C2": (True, False, "contact_found"),
            "C3": (False, False, "no_contact_found"),
            "C4": (False, False, "block_list"),
            "C5": (True, True, "contact_found"),
            "C6": (True, True, "contact_found"),
        }
        assert fee.amount.amount == Decimal("100.00")
        account = session.scalars(select(Account)).one()
        advice = advise_account(session, account, as_of=utc(2026, 4, 15)).advice
        assert {o.plan.code: (o.total.amount, o.lost_leads) for o in advice.options} == {
            "found-2": (Decimal("120.00"), 0),
            "found-5": (Decimal("130.00"), 1),
        }
        assert advice.recommended.plan.code == "found-2"
        assert advice.reasoning == (
            "your found-2 is the cheapest: 120.00 USD over 1 month, 10.00 USD less than "
            "found-5; you used 4 leads a month"
        )


def test_r10_r16_explain_lists_excluded_leads_of_a_category_without_a_line(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        basic = _plan(
            session,
            "ppl-basic",
            "0",
            0,
            "50.00",
            counting_policy="received_unless_excluded",
            category_prices={"plumbing": "45.00", "electrical": "60.00"},
        )
        account_on(session, basic)
        ingest(
            session,
            [
                event("P1", "received", utc(2026, 3, 2), category="plumbing"),
                event("E1", "received", utc(2026, 3, 3), category="electrical"),
                event("R1", "received", utc(2026, 3, 4), category="roofing"),
            ],
        )
        exclude_leads(
            session, "acme", ["E1", "R1"], reason="referral", decided_by="qa", as_of=APRIL
        )
    run_billing(sessions, APRIL)
    with sessions.begin() as session:
        number = session.scalar(select(Invoice.number).where(Invoice.boundary_index == 1))
        plumbing, fee = explain_invoice(session, str(number)).lines
        assert (plumbing.quantity, plumbing.amount.amount) == (1, Decimal("45.00"))
        listed = {
            lead.lead_id: (lead.charged, lead.reason) for lead in iter_line_leads(session, plumbing)
        }
        # No electrical line and no line at the per-lead rate: their leads are listed here.
        assert listed == {
            "P1": (True, "received"),
            "E1": (False, "referral"),
            "R1": (False, "referral"),
        }
        assert fee.scope is None
