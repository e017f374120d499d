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


@dataclass(frozen=True)
class Event:
    """One generated event, before it becomes a CSV-like row or a raw tuple."""

    account: int
    lead: int
    type: str
    at: datetime
    call_result: str | None
    duration: int | None


def _day_events(rng: random.Random, day: int, leads_per_day: int, first_lead: int, accounts: int):
    """Every event of the leads received on one day, in time order."""
    events: list[Event] = []
    day_start = START + timedelta(days=day)
    for number in range(leads_per_day):
        lead = first_lead + number
        account = rng.randrange(accounts)
        received = day_start + timedelta(seconds=rng.randrange(86_400))
        events.append(Event(account, lead, "received", received, None, None))
        if rng.random() < 0.25:
            continue  # never called: never counts
        at = received
        for _ in range(rng.randint(1, 3)):
            at += timedelta(minutes=rng.randint(1, 240), microseconds=rng.randrange(1_000_000))
            result = rng.choice(CALL_RESULTS)
            answered = result == "answered"
            kind = "call_answered" if answered else rng.choice(["call_attempted", "call_missed"])
            duration = rng.randint(30, 900) if answered else rng.randint(0, 40)
            events.append(Event(account, lead, kind, at, result, duration))
            if answered:
                break
    events.sort(key=lambda event: event.at)
    return events


def generate(total: int, accounts: int, seed: int = 7) -> Iterator[tuple[int, Event]]:
    """`total` events over January, in time order, numbered (the idempotency key)."""
    rng = random.Random(seed)
    leads_per_day = total // DAYS // 2 + 1  # about 2.4 events per lead
    produced = 0
    lead = 0
    day = 0
    while produced < total:
        for event in _day_events(rng, day % DAYS, leads_per_day, lead, accounts):
            yield produced, event
            produced += 1
            if produced == total:
                return
        lead += leads_per_day
        day += 1


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def csv_rows(total: int, accounts: int, batch: int) -> Iterator[list[dict[str, str | None]]]:
    """Batches of rows as csv.DictReader gives them (every value text)."""
    rows: list[dict[str, str | None]] = []
    for number, event in generate(total, accounts):
        rows.append(
            {
                "idempotency_key": f"ev-{number:09d}",
                "account": f"acct-{event.account:05d}",
                "lead_id": f"lead-{event.lead:08d}",
                "event_type": event.type,
                "occurred_at": _iso(event.at),
                "seat": "",
                "name": f"Lead {event.lead}" if event.type == "received" else "",
                "phone": f"+1303555{event.lead % 10_000:04d}" if event.type == "received" else "",
                "email": "",
                "postal_code": "80202" if event.type == "received" else "",
                "source": "web" if event.type == "received" else "",
                "call_result": event.call_result or "",
                "duration_seconds": "" if event.duration is None else str(event.duration),
                "detail": "",
            }
        )
        if len(rows) == batch:
            yield rows
            rows = []
    if rows:
        yield rows


def raw_rows(
    total: int, accounts: int, batch: int, sqlite: bool
) -> Iterator[list[tuple[Any, ...]]]:
    """The same events as driver-ready tuples (ids resolved, instants in stored form)."""
    stamp: Any = "2026-02-01 00:00:00.000000" if sqlite else INGESTED_AT
    rows: list[tuple[Any, ...]] = []
    for number, event in generate(total, accounts):
        at: Any = (
            event.at.replace(tzinfo=None).isoformat(" ", "microseconds") if sqlite else event.at
        )
        rows.append(
            (
                event.account + 1,
                event.lead + 1,
                f"ev-{number:09d}",
                event.type,
                at,
                event.call_result,
                event.duration,
                None,
                stamp,
            )
        )
        if len(rows) == batch:
            yield rows
            rows = []
    if rows:
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
        session.execute(
            insert(Account),
            [
                {
                    "code": f"acct-{n:05d}",
                    "name": f"Account {n}",
                    "currency": "USD",
                    "time_zone": "UTC",
                    "billing_email": f"billing{n}@bench.test",
                    "created_at": START,
                }
                for n in range(accounts)
            ],
        )
        if taxes:
            setup_taxes(session, accounts)
        for account in session.query(Account).order_by(Account.id):
            create_subscription(session, account=account, plan=plan, start=START)


def _profiled(enabled: bool) -> cProfile.Profile | None:
    return cProfile.Profile() if enabled else None


def ingest_through_service(
    sessions: sessionmaker[Session], total: int, accounts: int, batch: int, profile: bool
) -> tuple[float, int, int, int]:
    """Seconds spent in ingest_events (generation excluded), and the outcome counts."""
    profiler = _profiled(profile)
    spent = 0.0
    accepted = duplicate = rejected = 0
    for rows in csv_rows(total, accounts, batch):
        began = time.perf_counter()
        if profiler:
            profiler.enable()
        with sessions() as session, session.begin():
            result = ingest_events(session, rows, as_of=INGESTED_AT)
        if profiler:
            profiler.disable()
        spent += time.perf_counter() - began
        accepted += result.accepted
        duplicate += result.duplicate
        rejected += result.rejected
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    return spent, accepted, duplicate, rejected


def raw_reference(kind: str, url: str, total: int, accounts: int, batch: int) -> float:
    """Seconds the driver alone takes to executemany the same rows, batch by batch."""
    spent = 0.0
    if kind == "sqlite":
        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        _sqlite_pragmas(conn, None)  # the same settings as the engine's connections
        conn.execute(RAW_TABLE.format(id_type="INTEGER", ts_type="DATETIME"))
        conn.execute(RAW_INDEX)
        sql = RAW_INSERT.format(m="?")
        for rows in raw_rows(total, accounts, batch, sqlite=True):
            began = time.perf_counter()
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(sql, rows)
            conn.execute("COMMIT")
            spent += time.perf_counter() - began
        conn.close()
        return spent
    import psycopg

    with psycopg.connect(url) as conn:
        conn.execute(RAW_TABLE.format(id_type="BIGSERIAL", ts_type="TIMESTAMPTZ"))
        conn.execute(RAW_INDEX)
        conn.commit()
        sql = RAW_INSERT.format(m="%s")
        for rows in raw_rows(total, accounts, batch, sqlite=False):
            began = time.perf_counter()
            with conn.cursor() as cursor:
                cursor.executemany(sql, rows)
            conn.commit()
            spent += time.perf_counter() - began
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


def run(kind: str, args: argparse.Namespace) -> None:
    print(
        f"\n== {kind}: {args.events:,} events, {args.accounts:,} accounts,"
        f" batches of {args.batch:,}"
    )
    with fresh_database(kind, args.postgres_url) as url:
        engine = make_engine(url)
        upgrade(engine)
        sessions = session_factory(engine)
        seconds, _ = timed(lambda: setup_accounts(sessions, args.accounts, args.taxes))
        print(f"setup (not timed in the figures): {seconds:.1f} s")

        spent, accepted, duplicate, rejected = ingest_through_service(
            sessions, args.events, args.accounts, args.batch, args.profile
        )
        service_rate = args.events / spent
        with engine.connect() as conn:
            leads = conn.execute(text("SELECT count(*) FROM leads")).scalar_one()
            called = conn.execute(
                text("SELECT count(*) FROM leads WHERE first_called_at IS NOT NULL")
            ).scalar_one()
        print(
            f"ingest_events:   {spent:7.2f} s  {service_rate:>10,.0f} events/s"
            f"  (accepted {accepted:,}, duplicate {duplicate:,}, rejected {rejected:,};"
            f" {leads:,} leads, {called:,} called)"
        )

        engine.dispose()
        bill_copies(kind, url, args)

    with fresh_database(kind, args.postgres_url) as raw_url:
        raw_spent = raw_reference(kind, raw_url, args.events, args.accounts, args.batch)
    raw_rate = args.events / raw_spent
    print(f"raw executemany: {raw_spent:7.2f} s  {raw_rate:>10,.0f} rows/s  (driver alone)")
    print(f"service / raw:   {service_rate / raw_rate:7.2f}")


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
        "--bill-repeat",
        type=int,
        default=1,
        help="bill this many copies of the ingested database (figures per run, min, median)",
    )
    parser.add_argument(
        "--taxes", action="store_true", help="bill through a Swedish entity with a 25 %% rate"
    )
    args = parser.parse_args()
    print(machine())
    print("command: python " + " ".join(sys.argv))
    kinds = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    for kind in kinds:
        run(kind, args)


if __name__ == "__main__":
    main()
