"""Benchmark: ingest a month of lead events through the service, then bill it.

    python bench/ingest_and_bill.py --database sqlite|postgresql|both
        [--events 1000000] [--accounts 10000] [--batch 10000] [--profile] [--taxes]
        [--bill-repeat 1]

For each database it creates a fresh one (SQLite: a temporary file; PostgreSQL:
a new database on the --postgres-url server, dropped afterwards), migrates it,
and creates one plan and one subscription per account starting 2026-01-01 (not
timed). It then generates lead events over January 2026 in time order (received
events, and call events for about three leads in four), and times:

1. ingestion through `leads.service.ingest_events`, one transaction per batch;
2. the reference: the same event rows inserted with the driver alone (sqlite3 /
   psycopg executemany) into a table with the columns and indexes of
   lead_events, in a fresh database of the same kind, one transaction per batch;
3. a billing run as of 2026-02-01 (`billing.service.run_billing`), wall and
   client CPU time (and the PostgreSQL backends' CPU time), on a copy of the
   ingested database; --bill-repeat N bills N copies one after the other and
   prints the minimum and the median, which is what to compare on a shared machine.

With --taxes the accounts are billed by a Swedish billing entity with a 25 %
rate: a third are Swedish (taxed), a third German businesses with a VAT id
(reverse charge) and a third in the US (no tax), so every invoice line goes
through the tax decision, and every invoice takes issuer and customer snapshots.

Figures go to stdout. Events are generated batch by batch, so memory stays flat.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import platform
import pstats
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import median
from typing import Any

from sqlalchemy import create_engine, insert, select, text
from sqlalchemy.orm import Session, sessionmaker

from leadbill.accounts.models import Account
from leadbill.db import _sqlite_pragmas, make_engine, session_factory
from leadbill.leads.service import ingest_events
from leadbill.migrate import upgrade
from leadbill.plans.service import create_plan
from leadbill.subscriptions.service import create_subscription

START = datetime(2026, 1, 1, tzinfo=UTC)
BILL_AS_OF = datetime(2026, 2, 1, tzinfo=UTC)
INGESTED_AT = datetime(2026, 2, 1, tzinfo=UTC)
DAYS = 31
CALL_RESULTS = ["no_answer", "voicemail", "busy", "answered"]
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"

RAW_TABLE = """
CREATE TABLE raw_events (
    id {id_type} PRIMARY KEY,
    account_id BIGINT NOT NULL,
    lead_id BIGINT NOT NULL,
    idempotency_key VARCHAR(128) NOT NULL,
    type VARCHAR(32) NOT NULL,
    occurred_at {ts_type} NOT NULL,
    call_result VARCHAR(64),
    duration_seconds INTEGER,
    detail VARCHAR(500),
    ingested_at {ts_type} NOT NULL,
    UNIQUE (account_id, idempotency_key)
)
"""
RAW_INDEX = "CREATE INDEX ix_raw_events_lead ON raw_events (lead_id, occurred_at)"
RAW_INSERT = (
    "INSERT INTO raw_events (account_id, lead_id, idempotency_key, type, occurred_at,"
    " call_result, duration_seconds, detail, ingested_at) VALUES ({m}, {m}, {m}, {m}, {m},"
    " {m}, {m}, {m}, {m})"
)


@dataclass(frozen=True, slots=True)
class Lead:
    """One generated lead: who it is and how it arrived (seed 000's mix, see `_new_lead`)."""

    number: int
    account: int
    source: str  # "call", "form" or "search"
    phone: str | None
    email: str | None
    company: str | None
    company_domain: str | None


@dataclass(frozen=True, slots=True)
class Event:
    """One generated event, before it becomes a CSV-like row or a raw tuple."""

    lead: Lead
    type: str
    at: datetime
    call_result: str | None
    duration: int | None


# Valid US area codes: lead n gets a number of its own (+1 AAA EEE LLLL).
AREA_CODES = ("303", "720", "212", "415", "312", "617", "206", "512")


def phone_of(number: int) -> str:
    """A distinct, valid E.164 phone number per lead number (what normalisation returns)."""
    rest = number // len(AREA_CODES)
    exchange = 200 + (rest // 10_000) % 800
    return f"+1{AREA_CODES[number % len(AREA_CODES)]}{exchange}{rest % 10_000:04d}"


@dataclass(frozen=True, slots=True)
class Mix:
    """The stream's make-up (seed 000: inbound calls and web forms, a few searches)."""

    forms: float = 0.30  # web-form leads: phone and e-mail, source "form"
    searches: float = 0.10  # search results: company and domain, then found or not
    repeats: float = 0.05  # callers who already called the same account (a duplicate)


class _Leads:
    """New leads, a share of them repeat callers of an earlier lead of the same account."""

    def __init__(self, rng: random.Random, accounts: int, mix: Mix) -> None:
        self.rng, self.accounts, self.mix = rng, accounts, mix
        self.recent: list[Lead] = []

    def new(self, number: int) -> Lead:
        rng, mix = self.rng, self.mix
        draw = rng.random()
        if draw < mix.searches:
            domain = f"company{number}.example"
            return Lead(
                number, rng.randrange(self.accounts), "search", None, None,
                f"Company {number}", domain,
            )  # fmt: skip
        if self.recent and rng.random() < mix.repeats:
            earlier = rng.choice(self.recent)
            lead = Lead(number, earlier.account, earlier.source, earlier.phone, earlier.email,
                        None, None)  # fmt: skip
        else:
            form = draw < mix.searches + mix.forms
            email = f"lead{number}@mail{number % 97}.example" if form else None
            source = "form" if form else "call"
            lead = Lead(number, rng.randrange(self.accounts), source, phone_of(number), email,
                        None, None)  # fmt: skip
        if len(self.recent) < 2_000:
            self.recent.append(lead)
        else:
            self.recent[rng.randrange(2_000)] = lead
        return lead


def _day_events(rng: random.Random, day: int, leads_per_day: int, first_lead: int, leads: _Leads):
    """Every event of the leads received on one day, in time order."""
    events: list[Event] = []
    day_start = START + timedelta(days=day)
    for offset in range(leads_per_day):
        lead = leads.new(first_lead + offset)
        received = day_start + timedelta(seconds=rng.randrange(86_400))
        events.append(Event(lead, "received", received, None, None))
        if lead.source == "search":
            found = "contact_found" if rng.random() < 0.6 else "contact_not_found"
            events.append(Event(lead, found, received + timedelta(seconds=rng.randint(1, 60)),
                                None, None))  # fmt: skip
            continue
        if rng.random() < 0.25:
            continue  # never called: never counts
        at = received
        for _ in range(rng.randint(1, 3)):
            at += timedelta(minutes=rng.randint(1, 240), microseconds=rng.randrange(1_000_000))
            result = rng.choice(CALL_RESULTS)
            answered = result == "answered"
            kind = "call_answered" if answered else rng.choice(["call_attempted", "call_missed"])
            duration = rng.randint(30, 900) if answered else rng.randint(0, 40)
            events.append(Event(lead, kind, at, result, duration))
            if answered:
                break
    events.sort(key=lambda event: event.at)
    return events


def generate(total: int, accounts: int, mix: Mix, seed: int = 7) -> Iterator[tuple[int, Event]]:
    """`total` events over January, in time order, numbered (the idempotency key)."""
    rng = random.Random(seed)
    leads = _Leads(rng, accounts, mix)
    leads_per_day = total // DAYS // 2 + 1  # about 2.3 events per lead
    produced = 0
    lead = 0
    day = 0
    while produced < total:
        for event in _day_events(rng, day % DAYS, leads_per_day, lead, leads):
            yield produced, event
            produced += 1
            if produced == total:
                return
        lead += leads_per_day
        day += 1


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _batches(events: Iterator[tuple[int, Event]], batch: int) -> Iterator[list[tuple[int, Event]]]:
    rows: list[tuple[int, Event]] = []
    for item in events:
        rows.append(item)
        if len(rows) == batch:
            yield rows
            rows = []
    if rows:
        yield rows


def csv_rows(
    total: int, accounts: int, batch: int, mix: Mix
) -> Iterator[list[dict[str, str | None]]]:
    """Batches of rows as csv.DictReader gives them (every value text)."""
    for events in _batches(generate(total, accounts, mix), batch):
        rows: list[dict[str, str | None]] = []
        for number, event in events:
            lead = event.lead
            received = event.type == "received"
            rows.append(
                {
                    "idempotency_key": f"ev-{number:09d}",
                    "account": f"acct-{lead.account:05d}",
                    "lead_id": f"lead-{lead.number:08d}",
                    "event_type": event.type,
                    "occurred_at": _iso(event.at),
                    "seat": "",
                    "name": f"Lead {lead.number}" if received and lead.phone else "",
                    "phone": (lead.phone or "") if received else "",
                    "email": (lead.email or "") if received else "",
                    "postal_code": "80202" if received and lead.phone else "",
                    "source": lead.source if received else "",
                    "call_result": event.call_result or "",
                    "duration_seconds": "" if event.duration is None else str(event.duration),
                    "detail": "",
                    "company": (lead.company or "") if received else "",
                    "company_domain": (lead.company_domain or "") if received else "",
                }
            )
        yield rows


def raw_rows(
    total: int, accounts: int, batch: int, sqlite: bool, mix: Mix
) -> Iterator[list[tuple[Any, ...]]]:
    """The same events as driver-ready tuples (ids resolved, instants in stored form)."""
    stamp: Any = "2026-02-01 00:00:00.000000" if sqlite else INGESTED_AT
    for events in _batches(generate(total, accounts, mix), batch):
        rows: list[tuple[Any, ...]] = []
        for number, event in events:
            at: Any = (
                event.at.replace(tzinfo=None).isoformat(" ", "microseconds") if sqlite else event.at
            )
            rows.append(
                (
                    event.lead.account + 1,
                    event.lead.number + 1,
                    f"ev-{number:09d}",
                    event.type,
                    at,
                    event.call_result,
                    event.duration,
                    None,
                    stamp,
                )
            )
        yield rows


CALL_TYPES = frozenset({"call_attempted", "call_answered", "call_missed"})
FOUND_TYPES = frozenset({"contact_found", "contact_enriched", "contact_verified"})


def full_rows(total: int, accounts: int, batch: int, mix: Mix) -> Iterator[list[tuple[Any, ...]]]:
    """The events with their lead's stored columns, driver-ready (the full work's input).

    One tuple per event: account id, external id, key, type, occurred_at (stored
    text), call_result, duration, detail, name, phone, email, postal_code, source,
    company, company_domain, phone_e164, email_key. The generated phones and
    e-mails are already in their normalised form, so no normalisation is needed.
    """
    for events in _batches(generate(total, accounts, mix), batch):
        rows: list[tuple[Any, ...]] = []
        for number, event in events:
            lead = event.lead
            received = event.type == "received"
            phone = lead.phone if received else None
            email = lead.email if received else None
            rows.append(
                (
                    lead.account + 1,
                    f"lead-{lead.number:08d}",
                    f"ev-{number:09d}",
                    event.type,
                    event.at.replace(tzinfo=None).isoformat(" ", "microseconds"),
                    event.call_result,
                    event.duration,
                    None,
                    f"Lead {lead.number}" if received and lead.phone else None,
                    phone,
                    email,
                    "80202" if received and lead.phone else None,
                    lead.source if received else None,
                    lead.company if received else None,
                    lead.company_domain if received else None,
                    phone,
                    email,
                )
            )
        yield rows


# --- databases -------------------------------------------------------------------------------


@contextmanager
def fresh_database(kind: str, postgres_url: str) -> Iterator[str]:
    """The URL of a new, empty database of `kind`, removed afterwards."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="leadbill-bench-") as directory:
            yield f"sqlite:///{Path(directory) / 'bench.db'}"
        return
    name = f"leadbill_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield postgres_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def setup_taxes(session: Session, accounts: int) -> None:
    """A Swedish issuer with a 25 % rate, and billing details for every account."""
    from leadbill.accounts.models import BillingDetails
    from leadbill.entities.service import EntityFields, create_entity
    from leadbill.taxes.service import create_rate

    create_entity(
        session,
        code="bench-se",
        fields=EntityFields(
            legal_name="Bench Leads AB",
            address_line1="Sveavägen 1",
            city="Stockholm",
            country="SE",
            tax_id="SE556036079301",
        ),
        as_of=START,
    )
    create_rate(
        session,
        name="Moms 25%",
        rate="25",
        country="SE",
        region=None,
        valid_from=START.date(),
        valid_to=None,
        as_of=START,
    )
    where = [("SE", "SE556036079301"), ("DE", "DE136695976"), ("US", None)]
    ids = session.scalars(select(Account.id).order_by(Account.id)).all()
    session.execute(
        insert(BillingDetails),
        [
            {
                "account_id": account_id,
                "legal_name": f"Account {n} Ltd",
                "address_line1": f"{n} High Street",
                "city": "Somewhere",
                "country": where[n % 3][0],
                "tax_id": where[n % 3][1],
                "updated_at": START,
            }
            for n, account_id in enumerate(ids[:accounts])
        ],
    )


def _account_rows(accounts: int) -> list[dict[str, Any]]:
    return [
        {
            "code": f"acct-{n:05d}",
            "name": f"Account {n}",
            "currency": "USD",
            "time_zone": "UTC",
            "billing_email": f"billing{n}@bench.test",
            "created_at": START,
        }
        for n in range(accounts)
    ]


def setup_accounts(sessions: sessionmaker[Session], accounts: int, taxes: bool = False) -> None:
    """One plan, `accounts` accounts (bulk insert), one subscription each (the service)."""
    with sessions() as session, session.begin():
        plan = create_plan(
            session,
            code="pkg-100",
            name="Package 100",
            currency="USD",
            interval="month",
            fee="1000.00",
            included_leads=100,
            per_lead_rate="10.00",
            seat_fee="57.00",
            as_of=START,
        )
        session.execute(insert(Account), _account_rows(accounts))
        if taxes:
            setup_taxes(session, accounts)
        for account in session.query(Account).order_by(Account.id):
            create_subscription(session, account=account, plan=plan, start=START)


def _profiled(enabled: bool) -> cProfile.Profile | None:
    return cProfile.Profile() if enabled else None


@dataclass(slots=True)
class Spent:
    """Wall and CPU seconds of one timed part: this process, and PostgreSQL's backends."""

    wall: float = 0.0
    client: float = 0.0
    server: float = 0.0

    @property
    def cpu(self) -> float:
        return self.client + self.server

    def line(self, name: str, events: int, unit: str) -> str:
        server = f" + server {self.server:.2f} s" if self.server else ""
        return (
            f"{name:<22} wall {self.wall:7.2f} s {events / self.wall:>9,.0f} {unit}/s;"
            f"  CPU {self.cpu:7.2f} s (client {self.client:.2f} s{server})"
            f" {events / self.cpu:>9,.0f} {unit}/CPU-s"
        )


class Clock:
    """Adds up the wall and client CPU time of the timed blocks (generation excluded)."""

    def __init__(self, spent: Spent) -> None:
        self.spent = spent

    @contextmanager
    def timing(self) -> Iterator[None]:
        wall, cpu = time.perf_counter(), time.process_time()
        yield
        self.spent.wall += time.perf_counter() - wall
        self.spent.client += time.process_time() - cpu


@contextmanager
def server_cpu(spent: Spent, kind: str, url: str) -> Iterator[None]:
    """Adds the CPU time of the backends serving `url`'s database (PostgreSQL) to `spent`.

    Read before the connections close: a backend's time leaves /proc with it.
    """
    database = url.rsplit("/", 1)[1]
    before = backend_cpu(database) if kind == "postgresql" else 0.0
    yield
    if kind == "postgresql":
        spent.server += backend_cpu(database) - before


def ingest_through_service(
    sessions: sessionmaker[Session], args: argparse.Namespace, spent: Spent
) -> tuple[int, int, int]:
    """Time ingest_events batch by batch (generation excluded); the outcome counts."""
    profiler = _profiled(args.profile)
    clock = Clock(spent)
    accepted = duplicate = rejected = 0
    for rows in csv_rows(args.events, args.accounts, args.batch, args.mix):
        with clock.timing():
            if profiler:
                profiler.enable()
            with sessions() as session, session.begin():
                result = ingest_events(session, rows, as_of=INGESTED_AT)
            if profiler:
                profiler.disable()
        accepted += result.accepted
        duplicate += result.duplicate
        rejected += result.rejected
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    return accepted, duplicate, rejected


def raw_reference(kind: str, url: str, args: argparse.Namespace) -> Spent:
    """The driver alone executemany-ing the event rows alone, batch by batch."""
    spent = Spent()
    clock = Clock(spent)
    total, accounts, batch = args.events, args.accounts, args.batch
    if kind == "sqlite":
        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        _sqlite_pragmas(conn, None)  # the same settings as the engine's connections
        conn.execute(RAW_TABLE.format(id_type="INTEGER", ts_type="DATETIME"))
        conn.execute(RAW_INDEX)
        sql = RAW_INSERT.format(m="?")
        for rows in raw_rows(total, accounts, batch, True, args.mix):
            with clock.timing():
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany(sql, rows)
                conn.execute("COMMIT")
        conn.close()
        return spent
    import psycopg

    with psycopg.connect(url) as conn, server_cpu(spent, kind, url):
        conn.execute(RAW_TABLE.format(id_type="BIGSERIAL", ts_type="TIMESTAMPTZ"))
        conn.execute(RAW_INDEX)
        conn.commit()
        sql = RAW_INSERT.format(m="%s")
        for rows in raw_rows(total, accounts, batch, False, args.mix):
            with clock.timing():
                with conn.cursor() as cursor:
                    cursor.executemany(sql, rows)
                conn.commit()
    return spent


# The full work by the driver alone, PostgreSQL: COPY a batch into a staging table, then
# one set-based statement each for the leads, the events and the activity rows.
_FULL_STAGING = """
CREATE TEMPORARY TABLE staged_events (
    account_id bigint, external_id text, idempotency_key text, type text,
    occurred_at timestamptz, call_result text, duration_seconds integer, detail text,
    name text, phone text, email text, postal_code text, source text, company text,
    company_domain text, phone_e164 text, email_key text
) ON COMMIT DELETE ROWS
"""
_FULL_CALLS = "('call_attempted', 'call_answered', 'call_missed')"
_FULL_FOUND = "('contact_found', 'contact_enriched', 'contact_verified')"
_FULL_ACTIVE = "('received', 'call_attempted', 'call_answered', 'call_missed',"
_FULL_ACTIVE += " 'contact_found', 'contact_enriched', 'contact_verified')"
_FULL_LEADS_SET = """
    name = COALESCE(leads.name, excluded.name),
    phone = COALESCE(leads.phone, excluded.phone),
    email = COALESCE(leads.email, excluded.email),
    postal_code = COALESCE(leads.postal_code, excluded.postal_code),
    source = COALESCE(leads.source, excluded.source),
    company = COALESCE(leads.company, excluded.company),
    company_domain = COALESCE(leads.company_domain, excluded.company_domain),
    phone_e164 = COALESCE(leads.phone_e164, excluded.phone_e164),
    email_key = COALESCE(leads.email_key, excluded.email_key),
    received_at = {least}(leads.received_at, excluded.received_at),
    first_called_at = {least}(leads.first_called_at, excluded.first_called_at),
    first_found_at = {least}(leads.first_found_at, excluded.first_found_at)
"""
_FULL_LEADS_PG = f"""
INSERT INTO leads (account_id, external_id, name, phone, email, postal_code, source, company,
                   company_domain, phone_e164, email_key, received_at, first_called_at,
                   first_found_at, created_at)
SELECT account_id, external_id, min(name), min(phone), min(email), min(postal_code),
       min(source), min(company), min(company_domain), min(phone_e164), min(email_key),
       min(occurred_at) FILTER (WHERE type = 'received'),
       min(occurred_at) FILTER (WHERE type IN {_FULL_CALLS}),
       min(occurred_at) FILTER (WHERE type IN {_FULL_FOUND}), %s
FROM staged_events GROUP BY account_id, external_id ORDER BY account_id, external_id
ON CONFLICT (account_id, external_id) DO UPDATE SET {_FULL_LEADS_SET.format(least="LEAST")}
"""
_FULL_EVENTS_PG = """
INSERT INTO lead_events (account_id, lead_id, idempotency_key, type, occurred_at, call_result,
                         duration_seconds, detail, ingested_at)
SELECT s.account_id, l.id, s.idempotency_key, s.type, s.occurred_at, s.call_result,
       s.duration_seconds, s.detail, %s
FROM staged_events s JOIN leads l ON l.account_id = s.account_id AND l.external_id = s.external_id
ON CONFLICT (account_id, idempotency_key) DO NOTHING
"""
_FULL_ACTIVITY_PG = f"""
INSERT INTO lead_activity_months (account_id, month, external_id, lead_id, first_at, last_at)
SELECT s.account_id, date_trunc('month', s.occurred_at AT TIME ZONE 'UTC')::date, s.external_id,
       l.id, min(s.occurred_at), max(s.occurred_at)
FROM staged_events s JOIN leads l ON l.account_id = s.account_id AND l.external_id = s.external_id
WHERE s.type IN {_FULL_ACTIVE}
GROUP BY 1, 2, 3, 4
ON CONFLICT (account_id, month, external_id) DO UPDATE SET
    first_at = LEAST(lead_activity_months.first_at, excluded.first_at),
    last_at = GREATEST(lead_activity_months.last_at, excluded.last_at)
"""
# SQLite: the driver's executemany of three upserts, the leads and activity rows of a
# batch already aggregated (driver-ready input, like the events').
_FULL_LEADS_SQLITE = f"""
INSERT INTO leads (account_id, external_id, name, phone, email, postal_code, source, company,
                   company_domain, phone_e164, email_key, received_at, first_called_at,
                   first_found_at, created_at)
VALUES ({", ".join(["?"] * 15)})
ON CONFLICT (account_id, external_id) DO UPDATE SET {_FULL_LEADS_SET.format(least="min")}
"""
_FULL_EVENTS_SQLITE = """
INSERT INTO lead_events (account_id, lead_id, idempotency_key, type, occurred_at, call_result,
                         duration_seconds, detail, ingested_at)
SELECT ?1, l.id, ?3, ?4, ?5, ?6, ?7, ?8, ?9 FROM leads l WHERE l.account_id = ?1
   AND l.external_id = ?2
ON CONFLICT (account_id, idempotency_key) DO NOTHING
"""
_FULL_ACTIVITY_SQLITE = """
INSERT INTO lead_activity_months (account_id, month, external_id, lead_id, first_at, last_at)
SELECT ?1, ?2, ?3, l.id, ?4, ?5 FROM leads l WHERE l.account_id = ?1 AND l.external_id = ?3
ON CONFLICT (account_id, month, external_id) DO UPDATE SET
    first_at = min(lead_activity_months.first_at, excluded.first_at),
    last_at = max(lead_activity_months.last_at, excluded.last_at)
"""
_ACTIVE = frozenset({"received", *CALL_TYPES, *FOUND_TYPES})


def _first(old: Any, new: Any) -> Any:
    return new if old is None else old


def _earliest(old: Any, new: Any) -> Any:
    return new if old is None or (new is not None and new < old) else old


def _aggregated(rows: list[tuple[Any, ...]], stamp: str) -> tuple[list[Any], list[Any], list[Any]]:
    """SQLite's driver-ready input: lead rows, event rows and activity rows of one batch."""
    leads: dict[tuple[int, str], list[Any]] = {}
    activity: dict[tuple[int, str, str], list[Any]] = {}
    events = []
    for row in rows:
        account, external, key, type_, at = row[:5]
        events.append((account, external, key, type_, at, row[5], row[6], row[7], stamp))
        received = at if type_ == "received" else None
        called = at if type_ in CALL_TYPES else None
        found = at if type_ in FOUND_TYPES else None
        lead = leads.get((account, external))
        if lead is None:
            leads[(account, external)] = [
                account, external, *row[8:17], received, called, found, stamp
            ]  # fmt: skip
        else:
            for index in range(2, 11):
                lead[index] = _first(lead[index], row[index + 6])
            lead[11] = _earliest(lead[11], received)
            lead[12] = _earliest(lead[12], called)
            lead[13] = _earliest(lead[13], found)
        if type_ in _ACTIVE:
            month = f"{at[:7]}-01"
            span = activity.get((account, month, external))
            if span is None:
                activity[(account, month, external)] = [account, month, external, at, at]
            else:
                span[3], span[4] = min(span[3], at), max(span[4], at)
    return list(leads.values()), events, list(activity.values())


def full_reference(kind: str, url: str, args: argparse.Namespace) -> Spent:
    """The full work (events, lead upserts, activity rows) by the driver alone, in the real
    migrated schema (every index and foreign key), batch by batch."""
    spent = Spent()
    clock = Clock(spent)
    engine = make_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(insert(Account), _account_rows(args.accounts))
    engine.dispose()
    stamp = "2026-02-01 00:00:00.000000"
    batches = full_rows(args.events, args.accounts, args.batch, args.mix)
    if kind == "sqlite":
        db = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        _sqlite_pragmas(db, None)
        for rows in batches:
            leads, events, activity = _aggregated(rows, stamp)
            with clock.timing():
                db.execute("BEGIN IMMEDIATE")
                db.executemany(_FULL_LEADS_SQLITE, leads)
                db.executemany(_FULL_EVENTS_SQLITE, events)
                db.executemany(_FULL_ACTIVITY_SQLITE, activity)
                db.execute("COMMIT")
        db.close()
        return spent
    import psycopg

    utc = "+00:00"
    with psycopg.connect(url) as conn, server_cpu(spent, kind, url):
        conn.execute(_FULL_STAGING)
        conn.commit()
        for rows in batches:
            staged = [(*row[:4], row[4] + utc, *row[5:]) for row in rows]
            with clock.timing():
                with conn.cursor() as cursor:
                    with cursor.copy("COPY staged_events FROM STDIN") as copy:
                        for row in staged:
                            copy.write_row(row)
                    cursor.execute(_FULL_LEADS_PG, (stamp + utc,))
                    cursor.execute(_FULL_EVENTS_PG, (stamp + utc,))
                    cursor.execute(_FULL_ACTIVITY_PG)
                conn.commit()
    return spent


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    began = time.perf_counter()
    value = action()
    return time.perf_counter() - began, value


def backend_cpu(database: str) -> float:
    """CPU seconds (user + system) of the PostgreSQL backends serving `database`.

    A backend's process title is "postgres: [CLUSTER:] USER DATABASE HOST(PORT) STATE",
    so the backends of the benchmark's own database are found by name in /proc.
    """
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            title = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            stat = (proc / "stat").read_text()
        except OSError:
            continue
        words = title.split()
        if words[:1] == ["postgres:"] and database in words[1:4]:
            fields = stat.rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


@contextmanager
def database_copy(kind: str, url: str, number: int) -> Iterator[str]:
    """A copy of the database at `url` (its connections closed), removed afterwards."""
    if kind == "sqlite":
        source = Path(url.removeprefix("sqlite:///"))
        copy = source.with_name(f"copy-{number}.db")
        shutil.copyfile(source, copy)
        try:
            yield f"sqlite:///{copy}"
        finally:
            copy.unlink()
        return
    base, name = url.rsplit("/", 1)
    copy_name = f"{name}_copy{number}"
    admin = create_engine(url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{copy_name}" TEMPLATE "{name}"'))
    try:
        yield f"{base}/{copy_name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{copy_name}" WITH (FORCE)'))
        admin.dispose()


def bill_copies(kind: str, url: str, args: argparse.Namespace) -> None:
    """Bill `--bill-repeat` copies of the ingested database, one after the other.

    Each run starts from the same stored events, so the runs do the same work; the
    first one also pays for first use in this process (imports, compiled statements).
    """
    try:
        from leadbill.billing.service import run_billing
    except ImportError:
        print("billing run:     skipped (leadbill.billing.service.run_billing not available)")
        return
    clients: list[float] = []
    servers: list[float] = []
    for number in range(args.bill_repeat):
        with database_copy(kind, url, number) as copy_url:
            engine = make_engine(copy_url)
            sessions = session_factory(engine)
            database = copy_url.rsplit("/", 1)[1]
            server = backend_cpu(database) if kind == "postgresql" else 0.0
            cpu = time.process_time()
            began = time.perf_counter()
            result = run_billing(sessions, BILL_AS_OF)
            seconds = time.perf_counter() - began
            cpu = time.process_time() - cpu
            server = backend_cpu(database) - server if kind == "postgresql" else 0.0
            engine.dispose()
        clients.append(cpu)
        servers.append(server)
        backend = f", server CPU {server:.2f} s" if kind == "postgresql" else ""
        print(
            f"billing run {number + 1}:   {seconds:7.2f} s  ({result.invoices_issued:,} invoices"
            f" as of {BILL_AS_OF:%Y-%m-%d}; client CPU {cpu:.2f} s{backend}"
            f"{', with taxes' if args.taxes else ''})"
        )
    if len(clients) > 1:
        line = f"billing CPU:     client min {min(clients):.2f} s, median {median(clients):.2f} s"
        if kind == "postgresql":
            line += f"; server min {min(servers):.2f} s, median {median(servers):.2f} s"
        print(line)


def load() -> str:
    """The 1-, 5- and 15-minute load averages (the machine is shared)."""
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def run(kind: str, args: argparse.Namespace) -> None:
    mix = args.mix
    print(
        f"\n== {kind}: {args.events:,} events, {args.accounts:,} accounts,"
        f" batches of {args.batch:,}; leads: {mix.forms:.0%} forms, {mix.searches:.0%} searches,"
        f" {mix.repeats:.0%} repeat callers, one phone number (and e-mail) per other lead"
    )
    print(f"{load()} (start)")
    service = Spent()
    with fresh_database(kind, args.postgres_url) as url:
        engine = make_engine(url)
        upgrade(engine)
        sessions = session_factory(engine)
        seconds, _ = timed(lambda: setup_accounts(sessions, args.accounts, args.taxes))
        print(f"setup (not timed in the figures): {seconds:.1f} s")

        with server_cpu(service, kind, url):
            accepted, duplicate, rejected = ingest_through_service(sessions, args, service)
            with engine.connect() as conn:
                leads = conn.execute(text("SELECT count(*) FROM leads")).scalar_one()
                called = conn.execute(
                    text("SELECT count(*) FROM leads WHERE first_called_at IS NOT NULL")
                ).scalar_one()
                excluded = conn.execute(
                    text("SELECT count(*) FROM leads WHERE exclusion_reason IS NOT NULL")
                ).scalar_one()
        print(service.line("ingest_events:", args.events, "events"))
        print(
            f"  (accepted {accepted:,}, duplicate {duplicate:,}, rejected {rejected:,};"
            f" {leads:,} leads, {called:,} called, {excluded:,} excluded automatically)"
        )
        print(f"{load()} (after ingestion)")
        engine.dispose()
        bill_copies(kind, url, args)

    if args.skip_references:
        return
    with fresh_database(kind, args.postgres_url) as raw_url:
        events_only = raw_reference(kind, raw_url, args)
    print(events_only.line("raw, events only:", args.events, "rows"))
    with fresh_database(kind, args.postgres_url) as full_url:
        full = full_reference(kind, full_url, args)
    how = "COPY + set-based upserts" if kind == "postgresql" else "executemany upserts"
    print(full.line("raw, full work:", args.events, "events") + f"  ({how})")
    print(f"{load()} (end)")
    for name, reference in (("events only", events_only), ("full work", full)):
        print(
            f"leadbill / {name + ':':<13} CPU {reference.cpu / service.cpu:5.2f},"
            f"  wall {reference.wall / service.wall:5.2f}"
        )
    print(f"full work / events only: CPU {events_only.cpu / full.cpu:5.2f}")


def machine() -> str:
    def version(command: list[str]) -> str:
        try:
            return subprocess.run(command, capture_output=True, text=True, check=True).stdout
        except (OSError, subprocess.CalledProcessError):
            return "?"

    memory = "?"
    if Path("/proc/meminfo").exists():
        total_kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{total_kb / 1024 / 1024:.1f} GiB"
    return (
        f"machine: {os.cpu_count()} cores, {memory} memory, {platform.platform()}\n"
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"{version(['psql', '--version']).strip() or 'psql ?'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    parser.add_argument("--profile", action="store_true", help="cProfile the ingestion")
    parser.add_argument(
        "--repeats", type=float, default=Mix().repeats, help="share of leads from a repeat caller"
    )
    parser.add_argument("--forms", type=float, default=Mix().forms, help="share of form leads")
    parser.add_argument(
        "--searches", type=float, default=Mix().searches, help="share of search leads"
    )
    parser.add_argument(
        "--skip-references", action="store_true", help="time the service only (no raw figures)"
    )
    parser.add_argument(
        "--bill-repeat",
        type=int,
        default=1,
        help="bill this many copies of the ingested database (figures per run, min, median)",
    )
    parser.add_argument(
        "--taxes", action="store_true", help="bill through a Swedish entity with a 25 %% rate"
    )
    args = parser.parse_args()
    args.mix = Mix(forms=args.forms, searches=args.searches, repeats=args.repeats)
    print(machine())
    print("command: python " + " ".join(sys.argv))
    kinds = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    for kind in kinds:
        run(kind, args)


if __name__ == "__main__":
    main()
