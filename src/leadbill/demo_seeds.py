"""The demo's other billing models: pay per lead, found contacts, licences, a plan change.

- `bright-plumbing` (seed 002): a contractor paying per lead, plumbing and electrical
  priced apart, with a paused campaign, a service area, a customer list, a repeat
  caller, a form lead without a working contact and one staff decision;
- `fjord-analytics` (seed 003): a prospecting data vendor's customer, charged for
  found, enriched or verified contacts beyond its package, with a block list;
- `acme-sales` (seed 004): a sales team on an annual enterprise licence plan capped
  at 5 licences, adding 2 licences mid-year and refused a 6th;
- `grow-gina` (seeds 000/001): an agent upgrading from isa-100 to isa-200 in the
  middle of October (two segments, R7).

Everything is generated from fixed seeds, so the demo prints the same invoices every time.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadbill import demo_issuers
from leadbill.accounts.models import Account
from leadbill.accounts.service import create_account
from leadbill.console import out
from leadbill.context import service as context
from leadbill.core.money import format_money
from leadbill.errors import Forbidden
from leadbill.leads.decisions import exclude_leads
from leadbill.plans.service import create_plan, get_plan
from leadbill.subscriptions.service import (
    add_licences,
    change_plan,
    create_subscription,
    current_subscription,
    preview_licence_change,
)

CATALOGUE_AT = datetime(2026, 7, 1, tzinfo=UTC)
MONTHS = [(2026, 8), (2026, 9), (2026, 10)]

PLUMBER = "bright-plumbing"
VENDOR = "fjord-analytics"
TEAM = "acme-sales"
AGENT = "grow-gina"

# R7: Gina upgrades at midnight in Chicago on October 21 (11 of October's 31 days left).
UPGRADE_AT = datetime(2026, 10, 21, 5, 0, tzinfo=UTC)
UPGRADE_PLAN = "isa-200"
# R20, R22: the team adds 2 licences on July 2 (183/365 of its year left), then asks for a 6th.
LICENCES_ADDED_AT = datetime(2026, 7, 2, tzinfo=UTC)
LICENCE_REFUSED_AT = datetime(2026, 7, 15, tzinfo=UTC)
# R16: a QA reviewer marks one October lead non-billable before October is invoiced.
DECIDED_AT = datetime(2026, 10, 20, tzinfo=UTC)
STAFF_DECISION = ("BPE-2610-JOB", "job_seeker", "qa-lena")

SERVICE_AREA = [f"606{n:02d}" for n in range(1, 21)]  # Chicago 60601-60620
CUSTOMER_PHONE = "+1 312 555 0142"
BLOCKED = [("domain", "rivalsoft.example"), ("company", "Globex AB")]


def _local_month_start(year: int, month: int, zone: str) -> datetime:
    return datetime(year, month, 1, tzinfo=ZoneInfo(zone)).astimezone(UTC)


def _month_end(year: int, month: int, zone: str) -> datetime:
    return _local_month_start(*((year, month + 1) if month < 12 else (year + 1, 1)), zone)


def _iso(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def load_catalogue(session: Session) -> None:
    """The plans of the other models: pay per lead, found contacts, licences."""
    for code, name, fee, rate, plumbing, electrical in [
        ("ppl-home", "Home Services Pay per Lead", "0", "40.00", "45.00", "60.00"),
        ("ppl-home-plus", "Home Services Plus", "99.00", "35.00", "38.00", "52.00"),
    ]:
        create_plan(
            session,
            code=code,
            name=name,
            currency="USD",
            interval="month",
            fee=fee,
            included_leads=0,
            per_lead_rate=rate,
            counting_policy="received_unless_excluded",
            category_prices={"plumbing": plumbing, "electrical": electrical},
            ladder="home-services",
            as_of=CATALOGUE_AT,
        )
    for code, name, fee, included, rate in [
        ("prospect-40", "Prospecting 40", "400.00", 40, "12.00"),
        ("prospect-80", "Prospecting 80", "700.00", 80, "10.00"),
    ]:
        create_plan(
            session,
            code=code,
            name=name,
            currency="EUR",
            interval="month",
            fee=fee,
            included_leads=included,
            per_lead_rate=rate,
            counting_policy="contact_found",
            ladder="prospecting",
            as_of=CATALOGUE_AT,
        )
    create_plan(
        session,
        code="enterprise-annual",
        name="Enterprise (annual)",
        currency="USD",
        interval="year",
        fee="0",
        included_leads=0,
        per_lead_rate="0",
        counting_policy="none",
        licence_price="1200.00",
        licence_cap=5,
        as_of=CATALOGUE_AT,
    )


def _account(session: Session, code: str, name: str, currency: str, zone: str) -> Account:
    return create_account(
        session,
        code=code,
        name=name,
        currency=currency,
        time_zone=zone,
        billing_email=f"billing@{code}.example",
        as_of=CATALOGUE_AT,
    )


def load_accounts(session: Session) -> None:
    """The contractor (with its context), the data vendor's customer and the licence team."""
    plumber = _account(session, PLUMBER, "Bright Plumbing & Electric", "USD", "America/Chicago")
    create_subscription(
        session,
        account=plumber,
        plan=get_plan(session, "ppl-home"),
        start=_local_month_start(*MONTHS[0], plumber.time_zone),
    )
    context.add_campaign(session, PLUMBER, "google-ads", "Google Ads")
    context.add_campaign(session, PLUMBER, "yelp", "Yelp")
    context.pause_campaign(
        session,
        PLUMBER,
        "yelp",
        datetime(2026, 9, 10, 5, tzinfo=UTC),
        datetime(2026, 9, 17, 5, tzinfo=UTC),
    )
    context.set_service_area(session, PLUMBER, SERVICE_AREA)
    context.add_customers(session, PLUMBER, [(CUSTOMER_PHONE, None), (None, "pat@home.example")])

    vendor = _account(session, VENDOR, "Fjord Analytics AB", "EUR", "Europe/Stockholm")
    demo_issuers.bill_from_sweden(session, vendor, CATALOGUE_AT)
    create_subscription(
        session,
        account=vendor,
        plan=get_plan(session, "prospect-40"),
        start=_local_month_start(*MONTHS[0], vendor.time_zone),
    )
    demo_issuers.load_eu_business(
        session,
        CATALOGUE_AT,
        _local_month_start(*MONTHS[0], demo_issuers.EU_BUSINESS_ZONE),
    )
    for kind, value in BLOCKED:
        context.add_block_entry(session, VENDOR, kind, value)

    team = _account(session, TEAM, "Acme Sales Team", "USD", "UTC")
    create_subscription(
        session,
        account=team,
        plan=get_plan(session, "enterprise-annual"),
        start=datetime(2026, 1, 1, tzinfo=UTC),
        licences=3,
    )


def change_licences(session: Session) -> None:
    """R20, R22: preview and add 2 licences mid-year (up to the cap of 5)."""
    team = session.scalars(select(Account).where(Account.code == TEAM)).one()
    subscription = current_subscription(session, team)
    preview = preview_licence_change(session, subscription, 2, LICENCES_ADDED_AT, actor="customer")
    out.print(
        f"{TEAM} previews adding 2 licences on {LICENCES_ADDED_AT:%Y-%m-%d}: total due today "
        f"{preview.total_due_today}, next renewal "
        f"{preview.next_renewal_amount} ({preview.licences_next_period} licences)"
    )
    result = add_licences(session, subscription, 2, LICENCES_ADDED_AT, actor="customer")
    assert result.invoice is not None
    out.print(
        f"{TEAM} adds 2 licences: invoice {result.invoice.number} "
        f"{format_money(result.invoice.total, result.invoice.currency)}"
    )


def refuse_beyond_cap(session: Session) -> None:
    """R22: a 6th licence is beyond the self-serve cap; the refusal says who can do it."""
    team = session.scalars(select(Account).where(Account.code == TEAM)).one()
    try:
        add_licences(
            session, current_subscription(session, team), 1, LICENCE_REFUSED_AT, actor="customer"
        )
    except Forbidden as error:
        out.print(
            f"{TEAM} asks for a 6th licence on {LICENCE_REFUSED_AT:%Y-%m-%d}: refused, "
            f"{error.detail}"
        )
        return
    raise AssertionError("a 6th self-serve licence must be refused")


def upgrade_agent(session: Session) -> None:
    """R7: Gina moves from isa-100 to isa-200 on October 21: a change invoice at once."""
    agent = session.scalars(select(Account).where(Account.code == AGENT)).one()
    result = change_plan(
        session, current_subscription(session, agent), get_plan(session, UPGRADE_PLAN), UPGRADE_AT
    )
    assert result.invoice is not None
    out.print(
        f"{AGENT} upgrades to {UPGRADE_PLAN} on {UPGRADE_AT:%Y-%m-%d %H:%M} UTC: invoice "
        f"{result.invoice.number} {format_money(result.invoice.total, result.invoice.currency)} "
        "(the fee difference "
        "for the rest of October)"
    )


def decide_staff(session: Session) -> None:
    """R16: a QA reviewer marks one lead non-billable before its period is invoiced."""
    lead, reason, who = STAFF_DECISION
    exclude_leads(session, PLUMBER, [lead], reason=reason, decided_by=who, as_of=DECIDED_AT)
    out.print(f"{who} marks {PLUMBER} lead {lead} non-billable ({reason})")


def _row(account: str, lead: str, event_type: str, at: datetime, **columns: str) -> dict[str, str]:
    return {
        "idempotency_key": f"{lead}-{event_type}-{_iso(at)}",
        "account": account,
        "lead_id": lead,
        "event_type": event_type,
        "occurred_at": _iso(at),
        **columns,
    }


def _plumber_lead(
    lead: str, at: datetime, rng: random.Random, **facts: str
) -> list[dict[str, str]]:
    """A received event (phone call or form) and, for a call, its answer or miss."""
    rows = [_row(PLUMBER, lead, "received", at, **facts)]
    if facts.get("source") != "form":
        answered = rng.random() < 0.75
        rows.append(
            _row(
                PLUMBER,
                lead,
                "call_answered" if answered else "call_missed",
                at + timedelta(seconds=20),
                call_result="answered" if answered else "missed",
                duration_seconds=str(rng.randint(60, 400) if answered else 0),
            )
        )
        if answered and rng.random() < 0.3:
            # R11: outcomes that stay billable are recorded, never excluding the lead.
            outcome = rng.choice(["price_shopper", "hang_up", "booked_with_competitor"])
            rows.append(_row(PLUMBER, lead, "outcome", at + timedelta(minutes=10), detail=outcome))
    return rows


def plumber_events(rng: random.Random) -> list[dict[str, str]]:
    """Three months of calls and forms; a few leads meet each automatic reason (R12)."""
    zone = "America/Chicago"
    rows: list[dict[str, str]] = []
    for year, month in MONTHS:
        start, end = _local_month_start(year, month, zone), _month_end(year, month, zone)
        span = (end - start).total_seconds()
        for number in range(18):
            at = start + timedelta(seconds=rng.uniform(0, span * 0.97))
            source = "form" if rng.random() < 0.2 else "phone"
            facts = {
                "source": source,
                "campaign": "yelp" if rng.random() < 0.4 else "google-ads",
                "category": rng.choices(
                    ["plumbing", "electrical", "water_heater"], [0.5, 0.35, 0.15]
                )[0],
                "postal_code": rng.choice(SERVICE_AREA),
                "phone": f"+1312555{rng.randint(1000, 9999)}",
                "name": f"Caller {year}{month:02d}-{number:02d}",
            }
            if source == "form":
                facts["email"] = f"caller{month}{number}@mail.example"
            rows += _plumber_lead(f"BPE-{year % 100}{month:02d}-{number:02d}", at, rng, **facts)
    # One lead for each automatic reason, and the lead a QA reviewer will exclude.
    day = datetime(2026, 10, 1, 5, tzinfo=UTC)
    special = [
        ("BPE-2609-PAUSED", datetime(2026, 9, 12, 15, tzinfo=UTC), {"campaign": "yelp"}),
        ("BPE-2610-FAR", day + timedelta(days=3, hours=10), {"postal_code": "46320"}),
        ("BPE-2610-CUSTOMER", day + timedelta(days=5, hours=9), {"phone": "(312) 555-0142"}),
        ("BPE-2610-FIRST", day + timedelta(days=6, hours=9), {"phone": "+13125550177"}),
        ("BPE-2610-AGAIN", day + timedelta(days=14, hours=9), {"phone": "312-555-0177"}),
        (
            "BPE-2610-FORM",
            day + timedelta(days=8, hours=20),
            {"source": "form", "phone": "555", "email": "none"},
        ),
        (STAFF_DECISION[0], day + timedelta(days=11, hours=9), {}),
    ]
    for lead, at, extra in special:
        facts = {
            "source": "phone",
            "campaign": "google-ads",
            "category": "plumbing",
            "postal_code": "60614",
            "phone": f"+1312555{rng.randint(1000, 9999)}",
            "name": lead.title(),
            **extra,
        }
        rows += _plumber_lead(lead, at, rng, **facts)
    return rows


COMPANIES = ["Nordic", "Baltic", "Arctic", "Polar", "Boreal", "Viking", "Aurora", "Fjell"]


def vendor_events(rng: random.Random) -> list[dict[str, str]]:
    """Searches and uploaded rows; contacts found, enriched, verified or not found (R17, R18)."""
    zone = "Europe/Stockholm"
    rows: list[dict[str, str]] = []
    for year, month in MONTHS:
        start, end = _local_month_start(year, month, zone), _month_end(year, month, zone)
        span = (end - start).total_seconds()
        for number in range(62):
            lead = f"FJ-{year % 100}{month:02d}-{number:02d}"
            at = start + timedelta(seconds=rng.uniform(0, span * 0.9))
            source = "upload" if rng.random() < 0.3 else "search"
            company = f"{rng.choice(COMPANIES)} {rng.choice(['Tech', 'Logistics', 'Energy'])} AB"
            domain = company.split()[0].lower() + f"{number}.example"
            if number % 19 == 7:  # a competitor's people, on the block list
                domain = "rivalsoft.example"
            if number % 23 == 11:
                company = "Globex AB"
            rows.append(
                _row(
                    VENDOR,
                    lead,
                    "received",
                    at,
                    source=source,
                    company=company,
                    company_domain=domain,
                    name=f"Head of Sales {number}",
                )
            )
            found_at = at + timedelta(hours=rng.uniform(6, 30))
            if rng.random() < 0.22:
                rows.append(_row(VENDOR, lead, "contact_not_found", found_at))
                continue
            kind = "contact_enriched" if source == "upload" else "contact_found"
            rows.append(_row(VENDOR, lead, kind, found_at, email=f"sales@{domain}"))
            if rng.random() < 0.2:
                rows.append(_row(VENDOR, lead, "contact_verified", found_at + timedelta(days=1)))
    return rows


def generate_events(rng: random.Random) -> list[dict[str, str]]:
    """The lead events of the contractor and the data vendor's two customers."""
    return (
        plumber_events(rng)
        + vendor_events(rng)
        + demo_issuers.eu_business_events(random.Random(20260803), MONTHS)
    )
