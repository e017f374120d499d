"""Pay per lead and found contacts in the core (seeds 002, 003; R10-R12, R16-R18)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from leadbill.core.billability import (
    BILLABLE_OUTCOMES,
    NON_BILLABLE_REASONS,
    AccountContext,
    Billability,
    EventType,
    LeadContext,
    LeadEvent,
    LeadFacts,
    PauseWindow,
    Reason,
    decide,
)
from leadbill.core.contacts import normalise_email, normalise_phone
from leadbill.core.errors import RuleViolation
from leadbill.core.money import Money
from leadbill.core.periods import Interval, Period
from leadbill.core.plans import CountingPolicy, PlanTerms
from leadbill.core.rating import LineKind, boundary_lines

PPL = CountingPolicy.RECEIVED_UNLESS_EXCLUDED
FOUND = CountingPolicy.CONTACT_FOUND


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


RECEIVED_AT = utc(2026, 3, 10, 9)


def received(at: datetime = RECEIVED_AT) -> list[LeadEvent]:
    return [LeadEvent(EventType.RECEIVED, at)]


def context(**lead: object) -> LeadContext:
    facts = LeadFacts(lead_id=10, received_at=RECEIVED_AT, **lead)  # type: ignore[arg-type]
    return LeadContext(facts)


def ppl_plan(
    prices: tuple[tuple[str, str], ...] = (("electrical", "60.00"), ("plumbing", "45.00")),
    included: int = 0,
    fee: str = "0.00",
) -> PlanTerms:
    return PlanTerms(
        code="ppl",
        name="Pay per lead",
        currency="USD",
        interval=Interval.MONTH,
        fee=Money.of(fee, "USD"),
        included_leads=included,
        per_lead_rate=Money.of("50.00", "USD"),
        seat_fee=Money.of("0", "USD"),
        counting_policy=PPL,
        category_prices=tuple((name, Money.of(price, "USD")) for name, price in prices),
    )


MARCH = Period(2, utc(2026, 3, 1), utc(2026, 4, 1))


def test_r10_a_received_lead_counts_at_its_received_instant() -> None:
    verdict = decide(PPL, received() + received(utc(2026, 3, 11)), context())
    assert verdict == Billability(True, Reason.RECEIVED, RECEIVED_AT)


def test_r10_a_lead_never_received_does_not_count() -> None:
    verdict = decide(PPL, [LeadEvent(EventType.CALL_ANSWERED, RECEIVED_AT)], context())
    assert verdict == Billability(False, Reason.NEVER_RECEIVED, None)


def test_r10_the_reason_vocabulary_is_fixed() -> None:
    assert [r.value for r in NON_BILLABLE_REASONS] == [
        "wrong_number",
        "job_seeker",
        "solicitor",
        "service_not_offered",
        "previous_customer",
        "outside_service_area",
        "referral",
        "campaign_paused",
        "non_working_contact",
    ]


def test_r10_per_category_lines_to_the_cent() -> None:
    # 3 plumbing leads at 45.00, 2 electrical at 60.00 (one more electrical excluded).
    lines = boundary_lines(
        ppl_plan(), MARCH, 5, None, None, counted_by_category={"plumbing": 3, "electrical": 2}
    )
    assert [
        (line.kind, line.quantity, str(line.unit_price.amount), str(line.amount.amount))
        for line in lines
    ] == [
        (LineKind.LEADS, 2, "60.00", "120.00"),
        (LineKind.LEADS, 3, "45.00", "135.00"),
    ]
    assert lines[0].description == "Leads 2026-03-01 to 2026-03-31: electrical, 2 leads"


def test_r10_unpriced_category_is_charged_the_per_lead_rate() -> None:
    lines = boundary_lines(
        ppl_plan(), MARCH, 3, None, None, counted_by_category={"roofing": 1, None: 1, "plumbing": 1}
    )
    assert [(line.quantity, str(line.amount.amount)) for line in lines] == [
        (1, "45.00"),
        (2, "100.00"),
    ]


def test_r10_plan_with_included_leads_bills_overage_as_the_package() -> None:
    plan = ppl_plan(included=10, fee="300.00")
    lines = boundary_lines(plan, MARCH, 12, plan, Period(3, utc(2026, 4, 1), utc(2026, 5, 1)))
    assert [(line.kind, line.quantity, str(line.amount.amount)) for line in lines] == [
        (LineKind.OVERAGE, 2, "100.00"),
        (LineKind.PLAN_FEE, 1, "300.00"),
    ]


def test_r10_category_prices_are_checked() -> None:
    with pytest.raises(RuleViolation):
        ppl_plan(prices=(("plumbing", "45.00"), ("plumbing", "50.00")))


def test_r11_billable_outcomes_never_exclude() -> None:
    events = [
        *received(),
        LeadEvent(EventType.CALL_MISSED, RECEIVED_AT),
        LeadEvent(EventType.OUTCOME, RECEIVED_AT + timedelta(hours=1)),
    ]
    assert "price_shopper" in BILLABLE_OUTCOMES
    assert decide(PPL, events, context()).billable is True


def test_r12_campaign_paused() -> None:
    pause = PauseWindow("spring", utc(2026, 3, 9), utc(2026, 3, 11))
    ctx = LeadContext(LeadFacts(1, RECEIVED_AT, campaign="spring"), AccountContext(pauses=(pause,)))
    assert decide(PPL, received(), ctx).reason is Reason.CAMPAIGN_PAUSED
    # The pause ends at 2026-03-11 00:00: a lead received then is billable (half-open).
    later = LeadContext(
        LeadFacts(1, utc(2026, 3, 11), campaign="spring"), AccountContext(pauses=(pause,))
    )
    assert decide(PPL, received(utc(2026, 3, 11)), later).billable is True
    other = LeadContext(LeadFacts(1, RECEIVED_AT, campaign="fall"), AccountContext(pauses=(pause,)))
    assert decide(PPL, received(), other).billable is True


def test_r12_outside_service_area() -> None:
    area = AccountContext(service_area=frozenset({"80202", "80203"}))
    inside = LeadContext(LeadFacts(1, RECEIVED_AT, postal_code="80202-1234"), area)
    outside = LeadContext(LeadFacts(1, RECEIVED_AT, postal_code="10001"), area)
    assert decide(PPL, received(), inside).billable is True
    assert decide(PPL, received(), outside).reason is Reason.OUTSIDE_SERVICE_AREA
    no_area = LeadContext(LeadFacts(1, RECEIVED_AT, postal_code="10001"))
    assert decide(PPL, received(), no_area).billable is True


def test_r12_contacts_normalise_to_e164_and_case_folded_email() -> None:
    assert normalise_phone("(303) 555-0100", "US") == "+13035550100"
    assert normalise_phone("+1 303 555 0100", "GB") == "+13035550100"
    assert normalise_phone("020 7946 0018", "GB") == "+442079460018"
    assert normalise_phone("12", "US") is None
    assert normalise_email("  Ann.Lee@Mail.Example ") == "ann.lee@mail.example"
    assert normalise_email("not-an-email") is None


def test_r12_previous_customer_from_the_customer_list() -> None:
    account = AccountContext(customer_phones=frozenset({"+13035550100"}))
    ctx = LeadContext(LeadFacts(1, RECEIVED_AT, phone="+13035550100"), account)
    assert decide(PPL, received(), ctx).reason is Reason.PREVIOUS_CUSTOMER


def test_r12_duplicate_within_the_window_points_at_the_earlier_lead() -> None:
    lead = LeadFacts(9, RECEIVED_AT, email="ann@mail.example")
    first = LeadFacts(3, RECEIVED_AT - timedelta(days=40), email="ann@mail.example")
    second = LeadFacts(5, RECEIVED_AT - timedelta(days=29), email="ann@mail.example")
    verdict = decide(PPL, received(), LeadContext(lead, earlier=(first, second)))
    assert verdict == Billability(False, Reason.PREVIOUS_CUSTOMER, RECEIVED_AT, 5)
    # 30 days or more before: outside the default window, billable.
    assert decide(PPL, received(), LeadContext(lead, earlier=(first,))).billable is True
    # The earlier lead itself is not a duplicate of the later one.
    assert decide(PPL, received(), LeadContext(second, earlier=(lead,))).billable is True


def test_r12_duplicate_window_is_a_setting() -> None:
    lead = LeadFacts(9, RECEIVED_AT, phone="+13035550100")
    first = LeadFacts(3, RECEIVED_AT - timedelta(days=40), phone="+13035550100")
    account = AccountContext(duplicate_window=timedelta(days=60))
    verdict = decide(PPL, received(), LeadContext(lead, account, earlier=(first,)))
    assert verdict.duplicate_of == 3


def test_r12_form_lead_without_working_contact() -> None:
    assert decide(PPL, received(), context(source="form")).reason is Reason.NON_WORKING_CONTACT
    assert decide(PPL, received(), context(source="form", email="a@b.example")).billable
    assert decide(PPL, received(), context(source="phone")).billable


def test_r16_staff_decision_excludes_with_its_reason() -> None:
    ctx = LeadContext(LeadFacts(1, RECEIVED_AT), staff_reason=Reason.JOB_SEEKER)
    assert decide(PPL, received(), ctx) == Billability(False, Reason.JOB_SEEKER, RECEIVED_AT)


def test_r17_a_lead_counts_at_its_first_found_enriched_or_verified_event() -> None:
    events = [
        LeadEvent(EventType.RECEIVED, utc(2026, 3, 1)),
        LeadEvent(EventType.CONTACT_VERIFIED, utc(2026, 3, 8)),
        LeadEvent(EventType.CONTACT_ENRICHED, utc(2026, 3, 5)),
    ]
    assert decide(FOUND, events, context()) == Billability(
        True, Reason.CONTACT_FOUND, utc(2026, 3, 5)
    )


def test_r17_contact_not_found_is_never_charged() -> None:
    events = [
        LeadEvent(EventType.RECEIVED, utc(2026, 3, 1)),
        LeadEvent(EventType.CONTACT_NOT_FOUND, utc(2026, 3, 2)),
    ]
    assert decide(FOUND, events, context()) == Billability(False, Reason.NO_CONTACT_FOUND, None)


def test_r18_block_list_by_domain_company_or_email() -> None:
    found = [LeadEvent(EventType.CONTACT_FOUND, RECEIVED_AT)]
    account = AccountContext(
        blocked_domains=frozenset({"acme.example"}),
        blocked_companies=frozenset({"globex corp"}),
        blocked_emails=frozenset({"ceo@initech.example"}),
    )
    for facts in (
        LeadFacts(1, company_domain="acme.example"),
        LeadFacts(1, email="bob@acme.example"),
        LeadFacts(1, company="globex corp"),
        LeadFacts(1, email="ceo@initech.example"),
    ):
        assert decide(FOUND, found, LeadContext(facts, account)).reason is Reason.BLOCK_LIST
    free = LeadContext(LeadFacts(1, company="initech", email="cto@initech.example"), account)
    assert decide(FOUND, found, free).billable is True


def test_r18_only_the_block_list_excludes_found_contacts() -> None:
    found = [LeadEvent(EventType.CONTACT_FOUND, RECEIVED_AT)]
    ctx = LeadContext(
        LeadFacts(1, RECEIVED_AT, postal_code="10001"),
        AccountContext(service_area=frozenset({"80202"})),
    )
    assert decide(FOUND, found, ctx).billable is True


def test_r15_r16_a_staff_decision_excludes_a_called_lead_too() -> None:
    called = [*received(), LeadEvent(EventType.CALL_ANSWERED, RECEIVED_AT + timedelta(minutes=1))]
    decided = LeadContext(LeadFacts(1, RECEIVED_AT), staff_reason=Reason.JOB_SEEKER)
    verdict = decide(CountingPolicy.CALLED, called, decided)
    assert (verdict.billable, verdict.reason) == (False, Reason.JOB_SEEKER)
    # The automatic reasons stay out of the `called` policy (seed 000 has none).
    paused = LeadContext(LeadFacts(1, RECEIVED_AT, source="form"))
    assert decide(CountingPolicy.CALLED, called, paused).billable
