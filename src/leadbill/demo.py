"""The demo: the four billing models of the seeds, billed end to end.

An inside-sales calling service (seeds 000/001): a ladder of package plans, a
solo agent with one seat, a brokerage with four seats (one with a backup, one
idle) and an agent who upgrades in the middle of October. The other models
(pay per lead, found contacts, licences) are in `leadbill.demo_seeds`. Three
months of lead events are written to one CSV file and imported like any
operator's file, then billed. Everything is generated from fixed seeds, so the
demo prints the same invoices every time.
"""

from __future__ import annotations

import csv
import random
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from rich.table import Table
from rich.text import Text
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from leadbill import demo_issuers, demo_seeds
from leadbill.accounts.models import Account
from leadbill.accounts.service import create_account
from leadbill.billing.invoices import invoice_lines
from leadbill.billing.models import Invoice
from leadbill.billing.payments import record_payment
from leadbill.billing.service import run_billing
from leadbill.console import bold, out
from leadbill.core.money import format_money
from leadbill.core.periods import Period, describe_period
from leadbill.jobs.service import register, run_due
from leadbill.leads.csv_format import COLUMNS
from leadbill.leads.service import ingest_events
from leadbill.plans.service import create_plan, get_plan
from leadbill.portal.demo import DEMO_PORTAL_AS_OF, create_demo_users, portal_instructions
from leadbill.receivables.commands import aging_table
from leadbill.receivables.service import aging_report
from leadbill.reports.service import billing_summary, call_report
from leadbill.reviews import demo as contractor
from leadbill.seats.service import create_seat
from leadbill.subscriptions.service import (
    cancel_subscription,
    create_subscription,
    current_subscription,
)
from leadbill.worker import dunning_job

CATALOGUE_AT = datetime(2026, 7, 1, tzinfo=UTC)
LADDER = [
    # code, name, fee, included leads, per-lead rate: more leads, lower price per lead
    ("isa-50", "ISA Starter 50", "750.00", 50, "15.00"),
    ("isa-100", "ISA Growth 100", "1300.00", 100, "13.00"),
    ("isa-200", "ISA Pro 200", "2400.00", 200, "12.00"),
    ("isa-400", "ISA Elite 400", "4400.00", 400, "11.00"),
]
SEAT_FEE = "57.00"
MONTHS = [(2026, 8), (2026, 9), (2026, 10)]
BILL_AS_OF = datetime(2026, 11, 2, tzinfo=UTC)
# The contractor leaves its invoices from October on unpaid: the October one is overdue.
OVERDUE_FROM = datetime(2026, 10, 1, tzinfo=UTC)
SUMMARY_AS_OF = datetime(2026, 10, 31, 23, 0, tzinfo=UTC)
# November is the period in progress: its events so far are imported after the
# November 2 billing run, and the portal opens the demo at this instant.
MONTH_TO_DATE = datetime.fromisoformat(DEMO_PORTAL_AS_OF)
# The events file is imported at the end of October, after every event it holds, so
# that ingestion records the usage thresholds each period reached (crossings are
# recorded once their instant has passed).
IMPORTED_AT = datetime(2026, 10, 31, 22, 0, tzinfo=UTC)
CALL_RESULTS = [
    ("answered", 0.45),
    ("no_answer", 0.25),
    ("voicemail", 0.2),
    ("busy", 0.05),
    ("wrong_number", 0.05),
]
FIRST_NAMES = ["Ava", "Ben", "Cara", "Dev", "Eli", "Fay", "Gus", "Hana", "Ivan", "Jo", "Kai", "Lea"]
LAST_NAMES = ["Nguyen", "Smith", "Garcia", "Patel", "Kim", "Brown", "Lopez", "Cohen", "Okafor"]


@dataclass(frozen=True)
class DemoSeat:
    """A seat of the demo and how many leads a month it sends."""

    code: str
    primary: tuple[str, str]
    backup: tuple[str, str] | None
    leads_per_month: int


@dataclass(frozen=True)
class DemoAccount:
    """A demo customer."""

    code: str
    name: str
    time_zone: str
    plan: str
    seats: tuple[DemoSeat, ...]
    cancel_in_last_month: bool = False


ACCOUNTS = (
    DemoAccount(
        code="solo-sam",
        name="Sam Rivera, solo agent",
        time_zone="America/Denver",
        plan="isa-50",
        seats=(DemoSeat("sam", ("Sam Rivera", "sam@rivera-homes.example"), None, 62),),
        cancel_in_last_month=True,
    ),
    DemoAccount(
        code="summit-realty",
        name="Summit Realty brokerage",
        time_zone="America/New_York",
        plan="isa-200",
        seats=(
            DemoSeat(
                "north",
                ("Nora Quinn", "nora@summit.example"),
                ("Owen Hale", "owen@summit.example"),
                95,
            ),
            DemoSeat("south", ("Sofia Reyes", "sofia@summit.example"), None, 80),
            DemoSeat("east", ("Eddie Park", "eddie@summit.example"), None, 70),
            DemoSeat("west", ("Wendy Ortiz", "wendy@summit.example"), None, 0),  # idle
        ),
    ),
    # Upgrades to isa-200 on October 21 (demo_seeds.upgrade_agent).
    DemoAccount(
        code="grow-gina",
        name="Gina Flores, agent",
        time_zone="America/Chicago",
        plan="isa-100",
        seats=(DemoSeat("gina", ("Gina Flores", "gina@flores-homes.example"), None, 225),),
    ),
)


def _local_month_start(year: int, month: int, zone: str) -> datetime:
    return datetime(year, month, 1, tzinfo=ZoneInfo(zone)).astimezone(UTC)


def _pick(rng: random.Random, weighted: list[tuple[str, float]]) -> str:
    return rng.choices([value for value, _ in weighted], [w for _, w in weighted])[0]


def _iso(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def generate_events(
    rng: random.Random,
    months: list[tuple[int, int]] = MONTHS,
    accounts: tuple[DemoAccount, ...] = ACCOUNTS,
) -> list[dict[str, str]]:
    """Received and call events of these months for every seat of these accounts."""
    rows: list[dict[str, str]] = []
    for account in accounts:
        for seat in account.seats:
            for year, month in months:
                start = _local_month_start(year, month, account.time_zone)
                end = _local_month_start(
                    *((year, month + 1) if month < 12 else (year + 1, 1)), account.time_zone
                )
                span = (end - start).total_seconds()
                count = seat.leads_per_month + rng.randint(-6, 6) if seat.leads_per_month else 0
                for number in range(count):
                    lead_id = f"{account.code}-{seat.code}-{year}{month:02d}-{number:03d}"
                    received = start + timedelta(seconds=rng.uniform(0, span * 0.97))
                    name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
                    phone = f"+1303555{rng.randint(0, 9999):04d}"
                    email = f"{name.split()[0].lower()}{rng.randint(1, 999)}@mail.example"
                    rows.append(
                        {
                            "idempotency_key": f"{lead_id}-received",
                            "account": account.code,
                            "lead_id": lead_id,
                            "event_type": "received",
                            "occurred_at": _iso(received),
                            "seat": seat.code,
                            "name": name,
                            "phone": phone,
                            "email": email,
                            "postal_code": f"{rng.randint(80001, 80299)}",
                            "source": rng.choice(
                                ["zillow", "website", "realtor.com", "open_house"]
                            ),
                        }
                    )
                    # About one lead in eight is never called: it never counts (R2).
                    if rng.random() < 0.12:
                        continue
                    at = received + timedelta(minutes=rng.uniform(2, 240))
                    for attempt in range(rng.randint(1, 3)):
                        result = _pick(rng, CALL_RESULTS)
                        answered = result == "answered"
                        rows.append(
                            {
                                "idempotency_key": f"{lead_id}-call-{attempt + 1}",
                                "account": account.code,
                                "lead_id": lead_id,
                                "event_type": "call_answered" if answered else "call_attempted",
                                "occurred_at": _iso(at),
                                "seat": seat.code,
                                "call_result": result,
                                "duration_seconds": str(
                                    rng.randint(60, 600) if answered else rng.randint(0, 40)
                                ),
                            }
                        )
                        if answered:
                            if rng.random() < 0.3:
                                rows.append(
                                    {
                                        "idempotency_key": f"{lead_id}-outcome",
                                        "account": account.code,
                                        "lead_id": lead_id,
                                        "event_type": "outcome",
                                        "occurred_at": _iso(at + timedelta(minutes=5)),
                                        "detail": "appointment_booked",
                                    }
                                )
                            break
                        at += timedelta(hours=rng.uniform(3, 30))
    rows.sort(key=lambda row: (row["occurred_at"], row["idempotency_key"]))
    return rows


def write_csv(rows: list[dict[str, str]], path: Path) -> None:
    """Write the events in the documented CSV import format."""
    # An import file, read back by `leadbill import events`, not an export: its
    # cells are not neutralised (csv_cells), since the quote would be imported.
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def load_catalogue_and_accounts(session: Session) -> None:
    """Plans, accounts, subscriptions and seats of the demo."""
    for code, name, fee, included, rate in LADDER:
        create_plan(
            session,
            code=code,
            name=name,
            currency="USD",
            interval="month",
            fee=fee,
            included_leads=included,
            per_lead_rate=rate,
            seat_fee=SEAT_FEE,
            counting_policy="called",
            ladder="isa-packages",
            as_of=CATALOGUE_AT,
        )
    for demo in ACCOUNTS:
        account = create_account(
            session,
            code=demo.code,
            name=demo.name,
            currency="USD",
            time_zone=demo.time_zone,
            billing_email=f"billing@{demo.code}.example",
            as_of=CATALOGUE_AT,
        )
        start = _local_month_start(*MONTHS[0], demo.time_zone)
        create_subscription(
            session, account=account, plan=get_plan(session, demo.plan), start=start
        )
        for seat in demo.seats:
            create_seat(
                session,
                account=account,
                code=seat.code,
                primary_name=seat.primary[0],
                primary_email=seat.primary[1],
                backup_name=seat.backup[0] if seat.backup else None,
                backup_email=seat.backup[1] if seat.backup else None,
                as_of=start,
            )


def _money(amount: Decimal, currency: str) -> str:
    return format_money(amount, currency)


def print_account(session: Session, account: Account) -> None:
    """Every invoice of the account with its lines, then its usage summary."""
    out.rule(Text.assemble(bold(account.name), f" ({account.code}, {account.time_zone})"))
    invoices = session.scalars(
        select(Invoice)
        .where(Invoice.account_id == account.id)
        .order_by(Invoice.issued_at, Invoice.id)
    )
    for invoice in invoices:
        issuer = invoice.issuer["legal_name"] if invoice.issuer else "-"
        table = Table(
            title=(
                f"{invoice.number}  issued {invoice.issued_at:%Y-%m-%d %H:%M} UTC"
                f"  due {invoice.due_on}  by {issuer}  [{invoice.status}]"
            ),
            title_justify="left",
            show_edge=False,
        )
        table.add_column("line")
        table.add_column("qty", justify="right")
        table.add_column("unit", justify="right")
        table.add_column("amount", justify="right")
        lines = invoice_lines(session, invoice.id)
        for line in lines:
            table.add_row(
                line.description,
                str(line.quantity),
                format_money(line.unit_price, invoice.currency, code=False),
                _money(line.amount, invoice.currency),
            )
        taxed = next((line for line in lines if line.tax_category is not None), None)
        if taxed is not None and (taxed.tax_category != "O" or invoice.tax_mention):
            table.add_row("net", "", "", _money(invoice.net_total, invoice.currency))
            table.add_row(
                f"tax {taxed.tax_category} {taxed.tax_rate.normalize():f} %",
                "",
                "",
                _money(invoice.tax_total, invoice.currency),
            )
        table.add_row(bold("total"), "", "", bold(_money(invoice.total, invoice.currency)))
        out.print(table)
        if invoice.tax_mention:
            out.print(f"  {invoice.tax_mention}")
    # The last hour of October in the account's time zone, at the latest SUMMARY_AS_OF.
    november = datetime(2026, 11, 1, tzinfo=ZoneInfo(account.time_zone)).astimezone(UTC)
    as_of = min(SUMMARY_AS_OF, november - timedelta(hours=1))
    summary = billing_summary(session, account, as_of)
    when = (
        f"Usage {describe_period(summary.period, account.time_zone)} "
        f"(as of {as_of:%Y-%m-%d %H:%M} UTC)"
    )
    currency = account.currency
    subscription = current_subscription(session, account)
    if subscription.licences and not summary.counted_leads and not summary.included_leads:
        out.print(
            f"{when}: {subscription.licences} licences on {summary.plan_code}; "
            "no lead is counted on a licence plan"
        )
    elif summary.charges_per_lead:
        out.print(
            f"{when}: {summary.counted_leads} billable leads, "
            f"{_money(summary.overage_so_far.amount, currency)} so far at their category "
            f"prices, projected cost {_money(summary.projected_cost.amount, currency)}"
        )
    else:
        out.print(
            f"{when}: {summary.counted_leads} leads counted of {summary.included_leads} "
            f"included, {summary.remaining_leads} remaining, {summary.overage_leads} over "
            f"({_money(summary.overage_so_far.amount, currency)} so far), "
            f"projected cost {_money(summary.projected_cost.amount, currency)}"
        )
    _print_not_charged(session, account, as_of, summary.period)
    for segment in summary.segments:
        out.print(
            f"  segment {segment.plan_code} {segment.start:%Y-%m-%d %H:%M} to "
            f"{segment.end:%Y-%m-%d %H:%M} UTC: {segment.counted_leads} counted, "
            f"{segment.allowance} included, {segment.overage_leads} over "
            f"({_money(segment.overage.amount, currency)})"
        )
    for flag in summary.thresholds:
        reached = (
            f"reached at {flag.crossed_at:%Y-%m-%d %H:%M} UTC (lead {flag.lead_id})"
            if flag.crossed_at
            else ("reached" if flag.reached else "not reached")
        )
        # After a plan change a threshold is a share of a segment's allowance (R7).
        out.print(f"  threshold {flag.threshold} % ({flag.leads} leads): {reached}")
    for seat_code, counted in summary.counted_by_seat:
        out.print(f"  seat {seat_code or '(none)'}: {counted} leads counted")
    out.print()


def import_month_to_date(sessions: sessionmaker[Session], directory: Path) -> None:
    """November so far for the accounts still subscribed: the period the portal shows."""
    accounts = tuple(account for account in ACCOUNTS if not account.cancel_in_last_month)
    rows = [
        row
        for row in generate_events(random.Random(20261101), [(2026, 11)], accounts)
        + contractor.november_events()
        if datetime.fromisoformat(row["occurred_at"].replace("Z", "+00:00")) <= MONTH_TO_DATE
    ]
    rows.sort(key=lambda row: (row["occurred_at"], row["idempotency_key"]))
    events_file = directory / "demo-events-november.csv"
    write_csv(rows, events_file)
    with sessions() as session, session.begin():
        result = ingest_events(session, rows, as_of=MONTH_TO_DATE)
    out.print(
        f"imported {events_file.name} (November to {MONTH_TO_DATE:%Y-%m-%d %H:%M} UTC): "
        f"{result.accepted} events accepted, {result.duplicate} duplicate, "
        f"{result.rejected} rejected"
    )


def run_demo(sessions: sessionmaker[Session], directory: Path | None = None) -> None:
    """Load the demo, bill it month by month, pay the past invoices, print everything."""
    directory = directory or Path.cwd()
    rng = random.Random(20260801)
    with sessions() as session, session.begin():
        if session.scalar(select(Account.id).limit(1)) is not None:
            raise RuntimeError("the database already holds data; the demo needs an empty one")
        demo_issuers.load_issuers(session, CATALOGUE_AT)
        load_catalogue_and_accounts(session)
        demo_seeds.load_catalogue(session)
        demo_seeds.load_accounts(session)
        demo_seeds.change_licences(session)
        contractor.load_contractor(session, CATALOGUE_AT, MONTHS[0])
    with sessions() as session, session.begin():
        demo_seeds.refuse_beyond_cap(session)
    events_file = directory / "demo-events.csv"
    rows = (
        generate_events(rng)
        + demo_seeds.generate_events(random.Random(20260802))
        + contractor.contractor_events(MONTHS)
    )
    rows.sort(key=lambda row: (row["occurred_at"], row["idempotency_key"]))
    write_csv(rows, events_file)
    with sessions() as session, session.begin():
        result = ingest_events(session, rows, as_of=IMPORTED_AT)
    out.print(
        f"imported {events_file.name}: {result.accepted} events accepted, "
        f"{result.duplicate} duplicate, {result.rejected} rejected"
    )
    # Monthly billing runs, as a scheduler would make them; Sam cancels in October.
    for as_of in (datetime(2026, 9, 2, tzinfo=UTC), datetime(2026, 10, 2, tzinfo=UTC)):
        run_billing(sessions, as_of)
    # The contractor disputes leads in October (seed 002): reviews, decisions, a credit note.
    disputes = contractor.run_disputes(sessions)
    with sessions() as session, session.begin():
        for demo in ACCOUNTS:
            if demo.cancel_in_last_month:
                account = session.scalars(select(Account).where(Account.code == demo.code)).one()
                cancel_subscription(
                    session,
                    current_subscription(session, account),
                    datetime(2026, 10, 20, tzinfo=UTC),
                )
        demo_seeds.decide_staff(session)
        demo_seeds.upgrade_agent(session)
    run_billing(sessions, BILL_AS_OF)
    import_month_to_date(sessions, directory)
    with sessions() as session, session.begin():
        create_demo_users(session, CATALOGUE_AT)
    # Customers paid everything issued before November, but for the contractor's
    # October invoice (September's leads), which is left overdue.
    with sessions() as session, session.begin():
        for invoice in session.scalars(
            select(Invoice)
            .join(Account, Account.id == Invoice.account_id)
            .where(
                Invoice.status == "open",
                Invoice.issued_at < datetime(2026, 10, 25, tzinfo=UTC),
                ~((Account.code == demo_seeds.PLUMBER) & (Invoice.issued_at >= OVERDUE_FROM)),
            )
        ):
            record_payment(
                session,
                invoice=invoice,
                amount=invoice.total,
                currency=invoice.currency,
                reference=f"demo-{invoice.number}",
                received_at=invoice.issued_at + timedelta(days=3),
            )
    # The worker, run once on the portal's day, sends the contractor's unpaid invoices
    # their reminders (the dunning job): they wait in the mail outbox.
    portal_day = datetime.fromisoformat(DEMO_PORTAL_AS_OF.replace("Z", "+00:00"))
    run_dunning_once(sessions, portal_day)
    with sessions() as session:
        for account in session.scalars(select(Account).order_by(Account.id)):
            print_account(session, account)
        october = {
            code: _october_invoice(session, code)
            for code in (demo_seeds.PLUMBER, demo_seeds.VENDOR, demo_seeds.AGENT)
        }
    contractor.print_disputes(sessions, disputes, BILL_AS_OF)
    # What customers owe on the portal's day, by days past due: the contractor is late.
    with sessions() as session:
        report = aging_report(session, portal_day)
    out.print(aging_table(report))
    lead, _reason, _who = demo_seeds.STAFF_DECISION
    out.print(
        "Look further:\n"
        "  .venv/bin/leadbill invoices list\n"
        f"  .venv/bin/leadbill reports receivables --as-of {DEMO_PORTAL_AS_OF}\n"
        "  .venv/bin/leadbill invoices show SE-000007      # Swedish VAT 25 %\n"
        "  .venv/bin/leadbill invoices show SE-000008      # reverse charge\n"
        "  .venv/bin/leadbill export ledger --from 2026-10-01 --to 2026-11-02\n"
        "  .venv/bin/leadbill invoices show INV-000003\n"
        "  .venv/bin/leadbill reports call-report summit-realty --as-of 2026-10-15\n"
        "  .venv/bin/leadbill reports call-report summit-realty --as-of 2026-10-15 --format csv\n"
        "  .venv/bin/leadbill reports summary summit-realty --as-of 2026-10-31T23:00Z\n"
        f"  .venv/bin/leadbill reports summary summit-realty --as-of {DEMO_PORTAL_AS_OF}"
        "      # November so far, as the portal shows it\n"
        "  .venv/bin/leadbill seats list summit-realty\n"
        "  .venv/bin/leadbill subscriptions show solo-sam\n"
        f"  .venv/bin/leadbill invoices explain {october[demo_seeds.PLUMBER]}"
        "      # pay per lead: each category's leads, excluded ones with their reason\n"
        f"  .venv/bin/leadbill invoices explain {october[demo_seeds.VENDOR]}"
        "      # found contacts: not found, blocked, overage\n"
        f"  .venv/bin/leadbill invoices explain {october[demo_seeds.AGENT]}"
        "      # an upgrade: one overage line per segment\n"
        f"  .venv/bin/leadbill context show {demo_seeds.PLUMBER}\n"
        f"  .venv/bin/leadbill leads decisions {demo_seeds.PLUMBER} {lead}\n"
        f"  .venv/bin/leadbill reports summary {demo_seeds.AGENT} --as-of 2026-10-31T23:00Z\n"
        f"  .venv/bin/leadbill subscriptions show {demo_seeds.AGENT}\n"
        f"  .venv/bin/leadbill subscriptions show {demo_seeds.TEAM}\n"
        f"  .venv/bin/leadbill plans advise {demo_seeds.AGENT} --as-of 2026-11-02\n"
        f"  .venv/bin/leadbill plans advise {demo_seeds.PLUMBER} --as-of 2026-11-02\n"
        "  .venv/bin/leadbill reviews list --status all --as-of 2026-11-02\n"
        "  .venv/bin/leadbill reviews history pipe-pros\n"
        "  .venv/bin/leadbill credit-notes show CN-000001\n"
        "  .venv/bin/leadbill mail list --kind review.decided"
        "      # the e-mails in the outbox (see README, E-mail)\n"
        "  .venv/bin/leadbill mail list --kind usage.threshold_reached\n"
        "  .venv/bin/leadbill mail show N      # N: an id from the list; text and HTML parts\n"
        f"  .venv/bin/leadbill dunning list --as-of {DEMO_PORTAL_AS_OF}"
        "      # the contractor's unpaid invoices and their reminders\n"
        "  .venv/bin/leadbill mail list --kind invoice.reminder\n"
        "  .venv/bin/leadbill --help"
    )
    out.print()
    out.print(portal_instructions())


def run_dunning_once(sessions: sessionmaker[Session], as_of: datetime) -> None:
    """The worker's dunning job, once at `as_of`, recorded in the job table as a worker would."""
    job = dunning_job(sessions, timedelta(hours=1))
    register(sessions, [job], as_of)
    for ran in run_due(sessions, [job], lambda: as_of, "demo"):
        summary = ran.result.summary if ran.result else ran.error
        out.print(f"worker (once, {DEMO_PORTAL_AS_OF}): {ran.name}: {summary}")


def _october_invoice(session: Session, code: str) -> str:
    """The number of the invoice that closes the account's October (issued at its end)."""
    number = session.scalar(
        select(Invoice.number)
        .join(Account, Account.id == Invoice.account_id)
        .where(Account.code == code, Invoice.kind == "period")
        .order_by(Invoice.issued_at.desc())
        .limit(1)
    )
    return str(number)


def _print_not_charged(session: Session, account: Account, as_of: datetime, period: Period) -> None:
    """The period's leads that do not count, by reason (never called, excluded, ...)."""
    report = call_report(session, account, as_of=as_of)
    reasons = Counter(
        row.reason
        for row in report.rows
        if not row.counted and (row.counted_at is None or period.contains(row.counted_at))
    )
    if reasons:
        listed = ", ".join(f"{reason} {count}" for reason, count in sorted(reasons.items()))
        total = sum(reasons.values())
        out.print(f"  not charged: {total} lead{'s' if total != 1 else ''} ({listed})")
