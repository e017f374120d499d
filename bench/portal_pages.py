"""Benchmark: the customer portal's dashboard and call report with a million leads.

    python bench/portal_pages.py --database postgresql|sqlite
        [--leads 1000000] [--big-leads 300000] [--accounts 2000] [--requests 200]
        [--postgres-url postgresql://postgres@127.0.0.1:5432/test] [--seed 42]
        [--keep | --reuse URL]

It creates a fresh database (SQLite: a temporary file; PostgreSQL: a new database
on the --postgres-url server, dropped afterwards), migrates it, and loads (not
timed) one monthly `called` plan, `--accounts` accounts subscribed since
2025-07-01 and `--leads` leads with their events, received from 2025-07-01 to
the portal's clock, 2026-01-20 15:00 UTC (the current period is January 2026):

- one brokerage, `summit`, with 40 seats, holds `--big-leads` leads: 40 % of
  them in the current period, the rest spread over the six earlier periods;
- the other accounts hold the remaining leads, skewed (account n gets a share
  proportional to 1 / n ** 0.8), received at random over the whole span.

Operator lead ids rise with time within an account (as a dialler numbers
them). A lead is `received`; three in four are then called one to three times
(`call_attempted`, `call_missed`, `call_answered`) within hours, an answered
call has a recording half of the time; calls after the clock are not sent.
One called lead in a thousand carries a staff decision (wrong number, R16).
Leads and events are written in bulk (PostgreSQL: COPY; SQLite: executemany),
the call report's activity index is filled from them (leads.activity.backfill,
as migration 0015 does), the billing run invoices the six earlier periods (as of
2026-01-01), then the database is analysed (PostgreSQL: VACUUM ANALYZE).

It then serves the real app (`leadbill.api.create_app`, uvicorn on a free
loopback port in a thread of this process, clock pinned), signs a customer user
of `summit` and a reviewer in through the sign-in form (with its CSRF token)
and times `--requests` GET requests of each page with httpx, after a warm-up:
/portal/dashboard and /portal/calls (first page) for the customer, and the
review queue /portal/staff/reviews for the reviewer. It prints p50, p95, p99
and max in ms per page and the SQL statements each request ran.

`--keep` leaves the loaded database in place and prints its URL; `--reuse URL`
times such a database again (migrated to head and analysed first) without
loading it: how a change of index or query is compared on the same data.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import re
import socket
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, create_engine, event, insert, select, text
from sqlalchemy.orm import Session, sessionmaker

from leadbill.accounts.models import Account
from leadbill.billing.service import run_billing
from leadbill.db import UTCDateTime, make_engine, session_factory
from leadbill.leads.activity import backfill
from leadbill.migrate import upgrade
from leadbill.plans.service import create_plan
from leadbill.portal.users import create_user
from leadbill.seats.service import create_seat
from leadbill.settings import Settings
from leadbill.subscriptions.service import create_subscription

START = datetime(2025, 7, 1, tzinfo=UTC)
AS_OF = datetime(2026, 1, 20, 15, tzinfo=UTC)
PERIOD_START = datetime(2026, 1, 1, tzinfo=UTC)
PASSWORD = "correct horse battery"
BIG = "summit"
SEATS = 40
CALL_KINDS = ("call_attempted", "call_missed")
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"

LEAD_COLUMNS = [
    "id",
    "account_id",
    "external_id",
    "seat_id",
    "name",
    "phone",
    "email",
    "postal_code",
    "source",
    "received_at",
    "first_called_at",
    "created_at",
    "phone_e164",
    "email_key",
    "decision_reason",
]
EVENT_COLUMNS = [
    "account_id",
    "lead_id",
    "idempotency_key",
    "type",
    "occurred_at",
    "call_result",
    "duration_seconds",
    "ingested_at",
]
DECISION_COLUMNS = ["account_id", "lead_id", "reason", "decided_by", "decided_at"]


@dataclass(frozen=True)
class Shape:
    """What was loaded."""

    accounts: int
    leads: int
    events: int
    big_leads: int
    big_current: int
    big_counted: int


# --- databases -------------------------------------------------------------------------------


@contextmanager
def fresh_database(kind: str, postgres_url: str, keep: bool) -> Iterator[str]:
    """The URL of a new, empty database of `kind`, removed afterwards unless `keep`."""
    if kind == "sqlite":
        directory = tempfile.mkdtemp(prefix="leadbill-bench-")
        path = Path(directory) / "bench.db"
        try:
            yield f"sqlite:///{path}"
        finally:
            if not keep:
                for leftover in Path(directory).iterdir():
                    leftover.unlink()
                Path(directory).rmdir()
        return
    name = f"leadbill_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield postgres_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        if not keep:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# --- data ------------------------------------------------------------------------------------


def setup_accounts(sessions: sessionmaker[Session], accounts: int) -> tuple[int, list[int]]:
    """The plan, the accounts and their subscriptions, the big account's seats and users."""
    with sessions() as session, session.begin():
        plan = create_plan(
            session,
            code="pkg-100k",
            name="Package 100,000",
            currency="USD",
            interval="month",
            fee="50000.00",
            included_leads=100_000,
            per_lead_rate="0.60",
            seat_fee="57.00",
            counting_policy="called",
            as_of=START,
        )
        codes = [BIG] + [f"acct-{n:05d}" for n in range(1, accounts)]
        session.execute(
            insert(Account),
            [
                {
                    "code": code,
                    "name": "Summit Brokerage" if code == BIG else f"Account {code}",
                    "currency": "USD",
                    "time_zone": "UTC",
                    "billing_email": f"billing@{code}.test",
                    "created_at": START,
                }
                for code in codes
            ],
        )
        ids = []
        for account in session.scalars(select(Account).order_by(Account.id)):
            create_subscription(session, account=account, plan=plan, start=START)
            ids.append(account.id)
        big = session.scalars(select(Account).where(Account.code == BIG)).one()
        seat_ids = [
            create_seat(
                session,
                account=big,
                code=f"summit-{n:02d}",
                primary_name=f"Agent {n}",
                primary_email=f"agent{n}@summit.test",
                as_of=START,
            )[0].id
            for n in range(SEATS)
        ]
        create_user(
            session,
            email="owner@summit.test",
            password=PASSWORD,
            role="customer",
            account_code=BIG,
            as_of=START,
        )
        create_user(
            session, email="rosa@operator.test", password=PASSWORD, role="reviewer", as_of=START
        )
    return ids[0], seat_ids


def _received_instants(rng: random.Random, count: int, start: datetime, end: datetime) -> list:
    span = (end - start).total_seconds()
    return sorted(start + timedelta(seconds=rng.random() * span) for _ in range(count))


def generate(
    rng: random.Random, account_ids: Sequence[int], seat_ids: Sequence[int], total: int, big: int
) -> Iterator[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]]:
    """Per account: its leads, their events and their staff decisions, as column tuples."""
    others = account_ids[1:]
    weights = [1 / (n + 1) ** 0.8 for n in range(len(others))]
    per_account = [0] * len(others)
    for index in rng.choices(range(len(others)), weights=weights, k=total - big):
        per_account[index] += 1
    current = int(big * 0.4)
    lead_id = 0
    for number, account_id in enumerate(account_ids):
        if number == 0:
            instants = _received_instants(rng, big - current, START, PERIOD_START)
            instants += _received_instants(rng, current, PERIOD_START, AS_OF)
            prefix = "SUM"
        else:
            instants = _received_instants(rng, per_account[number - 1], START, AS_OF)
            prefix = f"A{number:04d}"
        leads: list[tuple[Any, ...]] = []
        events: list[tuple[Any, ...]] = []
        decisions: list[tuple[Any, ...]] = []
        for seq, received in enumerate(instants):
            lead_id += 1
            phone = f"+1303{rng.randrange(10_000_000):07d}"
            email = f"lead{lead_id}@example.com" if rng.random() < 0.5 else None
            key = f"{prefix}-{seq:07d}"
            events.append((account_id, lead_id, f"{key}-r", "received", received, None, None))
            first_called = None
            if rng.random() < 0.75:
                at = received
                for call in range(rng.randint(1, 3)):
                    at += timedelta(minutes=rng.randint(1, 240), seconds=rng.randrange(60))
                    if at > AS_OF:
                        break
                    answered = rng.random() < 0.35
                    kind = "call_answered" if answered else rng.choice(CALL_KINDS)
                    result = "answered" if answered else rng.choice(["no_answer", "voicemail"])
                    duration = rng.randint(30, 900) if answered else rng.randint(0, 40)
                    events.append(
                        (account_id, lead_id, f"{key}-c{call}", kind, at, result, duration)
                    )
                    first_called = first_called or at
                    if answered:
                        if rng.random() < 0.5:
                            events.append(
                                (account_id, lead_id, f"{key}-rec", "recording_available",
                                 at + timedelta(minutes=5), None, None)
                            )  # fmt: skip
                        break
            decision = None
            if first_called is not None and rng.random() < 0.001:
                decision = "wrong_number"
                decided_at = first_called + timedelta(hours=2)
                decisions.append((account_id, lead_id, decision, "qa@operator.test", decided_at))
            leads.append(
                (
                    lead_id,
                    account_id,
                    key,
                    seat_ids[rng.randrange(len(seat_ids))] if number == 0 else None,
                    f"Lead {lead_id}",
                    phone,
                    email,
                    f"{80000 + rng.randrange(1000)}",
                    "phone" if rng.random() < 0.7 else "form",
                    received,
                    first_called,
                    received,
                    phone,
                    email,
                    decision,
                )
            )
        yield leads, events, decisions


def _event_rows(events: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    # Ingested a minute after each event happened.
    return [(*e, e[4] + timedelta(minutes=1)) for e in events]


def load(
    engine: Engine, kind: str, account_ids: list[int], seat_ids: list[int], args: Any
) -> Shape:
    """Write every lead, event and decision in bulk; analyse the database."""
    rng = random.Random(args.seed)
    counts = {"leads": 0, "events": 0, "big_current": 0, "big_counted": 0}
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        stored = UTCDateTime().dialect_impl(engine.dialect).bind_processor(engine.dialect)
        for number, (leads, events, decisions) in enumerate(
            generate(rng, account_ids, seat_ids, args.leads, args.big_leads)
        ):
            counts["leads"] += len(leads)
            counts["events"] += len(events)
            if number == 0:
                counts["big_current"] = sum(1 for lead in leads if lead[9] >= PERIOD_START)
                counts["big_counted"] = sum(
                    1 for lead in leads if lead[10] and lead[10] >= PERIOD_START and not lead[14]
                )
            event_rows = _event_rows(events)
            if kind == "postgresql":
                for table, columns, rows in (
                    ("leads", LEAD_COLUMNS, leads),
                    ("lead_events", EVENT_COLUMNS, event_rows),
                    ("lead_decisions", DECISION_COLUMNS, decisions),
                ):
                    if rows:
                        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                            for row in rows:
                                copy.write_row(row)
            else:
                assert stored is not None

                def texts(rows: list[tuple[Any, ...]], at: Sequence[int]) -> list[tuple[Any, ...]]:
                    return [
                        tuple(
                            stored(v) if i in at and v is not None else v for i, v in enumerate(r)
                        )
                        for r in rows
                    ]

                for table, columns, rows, at in (
                    ("leads", LEAD_COLUMNS, leads, (9, 10, 11)),
                    ("lead_events", EVENT_COLUMNS, event_rows, (4, 7)),
                    ("lead_decisions", DECISION_COLUMNS, decisions, (4,)),
                ):
                    if rows:
                        marks = ", ".join("?" for _ in columns)
                        cursor.executemany(
                            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
                            texts(rows, at),
                        )
            if number % 200 == 0:
                raw.commit()
        raw.commit()
    finally:
        raw.close()
    # Ingestion keeps the call report's activity index; a bulk load fills it at once.
    with engine.begin() as conn:
        backfill(conn)
    if kind == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in ("leads", "lead_events", "lead_decisions"):
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                        f" (SELECT max(id) FROM {table}))"
                    )
                )
    return Shape(
        len(account_ids),
        counts["leads"],
        counts["events"],
        args.big_leads,
        counts["big_current"],
        counts["big_counted"],
    )


def analyse(engine: Engine, kind: str) -> None:
    """Fresh planner statistics (PostgreSQL: and the visibility map, as autovacuum keeps it)."""
    if kind == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))


# --- the server and the clients ----------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serve(sessions: sessionmaker[Session], database_url: str) -> Iterator[str]:
    """The app `leadbill serve` runs, on a free loopback port, its clock pinned at AS_OF."""
    import uvicorn

    from leadbill.api import create_app

    app = create_app(sessions)
    app.state.portal_clock = lambda: AS_OF
    app.state.portal_settings = Settings(database_url=database_url, portal_secure_cookies=False)
    port = _free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the portal server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def signed_in(base: str, email: str) -> httpx.Client:
    """A client signed in through the sign-in form (its CSRF token from the page)."""
    client = httpx.Client(base_url=base, timeout=60)
    form = client.get("/portal/sign-in")
    form.raise_for_status()
    found = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    if found is None:
        raise RuntimeError("no CSRF token on the sign-in form")
    answer = client.post(
        "/portal/sign-in",
        data={"email": email, "password": PASSWORD, "csrf_token": found.group(1)},
    )
    if answer.status_code not in (302, 303):
        raise RuntimeError(f"sign-in of {email} answered {answer.status_code}")
    return client


class StatementCounter:
    """Counts the SQL statements the engine runs (the server runs in this process)."""

    def __init__(self, engine: Engine) -> None:
        self.count = 0
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, *_args: Any) -> None:
        self.count += 1


def time_page(
    client: httpx.Client, path: str, requests: int, warmup: int, counter: StatementCounter
) -> tuple[list[float], int, int]:
    """Milliseconds of each timed GET, the statements of the last one and its size."""
    for _ in range(warmup):
        client.get(path).raise_for_status()
    times = []
    statements = size = 0
    for _ in range(requests):
        before = counter.count
        started = time.perf_counter()
        answer = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        answer.raise_for_status()
        statements = counter.count - before
        size = len(answer.content)
    return times, statements, size


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(share * len(ordered) + 0.5) - 1))]


def _load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def prepare(url: str, kind: str, args: argparse.Namespace) -> Engine:
    """Migrate the database at `url`, and load it unless it is a kept one (--reuse)."""
    engine = make_engine(url)
    upgrade(engine)
    if args.reuse:
        analyse(engine, kind)
        print(f"{kind}: reusing {url} (migrated to head, analysed)", flush=True)
        return engine
    sessions = session_factory(engine)
    started = time.perf_counter()
    big_id, seat_ids = setup_accounts(sessions, args.accounts)
    with engine.connect() as conn:
        account_ids = [row[0] for row in conn.execute(text("SELECT id FROM accounts ORDER BY id"))]
    assert account_ids[0] == big_id
    shape = load(engine, kind, account_ids, seat_ids, args)
    # The earlier periods are invoiced, as the monthly billing run leaves them.
    billed = run_billing(sessions, PERIOD_START)
    analyse(engine, kind)
    print(
        f"{kind}: loaded {shape.accounts:,} accounts, {shape.leads:,} leads,"
        f" {shape.events:,} events in {time.perf_counter() - started:.0f} s;"
        f" {BIG}: {shape.big_leads:,} leads, {shape.big_current:,} received in the current"
        f" period, {shape.big_counted:,} counted in it; earlier periods billed"
        f" ({billed.invoices_issued:,} invoices)",
        flush=True,
    )
    if args.keep:
        print(f"kept: {url} (rerun with --reuse {url})", flush=True)
    return engine


@contextmanager
def database(kind: str, args: argparse.Namespace) -> Iterator[str]:
    """A fresh database, or the kept one named by --reuse."""
    if args.reuse:
        yield args.reuse
        return
    with fresh_database(kind, args.postgres_url, args.keep) as url:
        yield url


def run(kind: str, args: argparse.Namespace) -> None:
    """Load, serve, time, print."""
    with database(kind, args) as url:
        engine = prepare(url, kind, args)
        sessions = session_factory(engine)
        counter = StatementCounter(engine)
        with serve(sessions, url) as base:
            customer = signed_in(base, "owner@summit.test")
            staff = signed_in(base, "rosa@operator.test")
            print(f"load average before timing: {_load_average()}", flush=True)
            print(f"{'page':<24}{'p50':>9}{'p95':>9}{'p99':>9}{'max':>9}  statements  bytes")
            for client, path in (
                (customer, "/portal/dashboard"),
                (customer, "/portal/calls"),
                (staff, "/portal/staff/reviews"),
            ):
                times, statements, size = time_page(
                    client, path, args.requests, args.warmup, counter
                )
                print(
                    f"{path:<24}{statistics.median(times):>9.1f}{percentile(times, 0.95):>9.1f}"
                    f"{percentile(times, 0.99):>9.1f}{max(times):>9.1f}  {statements:>10}"
                    f"  {size:>5}",
                    flush=True,
                )
            print(f"load average after timing: {_load_average()}", flush=True)
            customer.close()
            staff.close()
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="postgresql")
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--big-leads", type=int, default=300_000)
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    parser.add_argument("--keep", action="store_true", help="keep the loaded database")
    parser.add_argument("--reuse", metavar="URL", help="time a database kept by --keep")
    args = parser.parse_args()
    if args.big_leads >= args.leads:
        parser.error("--big-leads must be below --leads")
    print(
        f"{platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} cores;"
        f" {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; load average {_load_average()}",
        flush=True,
    )
    run(args.database, args)


if __name__ == "__main__":
    sys.exit(main())
