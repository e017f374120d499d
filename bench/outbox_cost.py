"""Benchmark: what the mail outbox costs ingestion and the billing run.

    python bench/outbox_cost.py --database sqlite|postgresql|both
        [--events 20000] [--accounts 10000] [--rounds 3] [--taxes] [--only ingestion|billing]

Usage alerts are queued when an account's leads cross 80 % and 100 % of the
plan's 100 included leads: time ingestion with more than 100 leads per account
(for example --events 100000 --accounts 500) to have one alert per threshold.

The same work twice in one process, alternately, with and without the mail
outbox's writes: "without" replaces the functions that queue messages in the
ingestion's and the billing run's transactions (usage alerts; "invoice issued")
with ones that queue nothing, which is what the code did before the outbox.
Everything else is `bench/ingest_and_bill.py`'s: its generated stream, its
accounts and plans, its copies of one ingested database for each billing run,
its CPU figures (this process, and the PostgreSQL backends of the database).

A billing run writes one row per batch of invoices; the worker (or the next
reader of the outbox) makes the messages from them. That part is printed after
each run with the outbox ("then the worker's catch-up"), outside the run's figures.

Ingestion: each round ingests the stream into two fresh databases, one with
and one without the outbox. Billing: each round bills two copies of one
ingested database, one with and one without. It prints each figure and the
ratio with / without of the medians (1.00: the outbox costs nothing).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from statistics import median
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import ingest_and_bill as bench
import leadbill.billing.invoices
import leadbill.billing.service
import leadbill.usage.service
from leadbill.billing.service import run_billing
from leadbill.db import make_engine, session_factory
from leadbill.mail.service import catch_up
from leadbill.migrate import upgrade

# Where the ingestion and the billing run queue their messages.
QUEUES = (
    (leadbill.billing.service, "queue_billing_batch"),
    (leadbill.billing.invoices, "queue_invoices_issued"),
    (leadbill.usage.service, "queue_thresholds_reached"),
)


def _nothing(*_args: Any, **_kwargs: Any) -> int:
    return 0


@contextmanager
def outbox(enabled: bool) -> Iterator[None]:
    """The mail outbox as shipped (`enabled`), or its queueing replaced by nothing."""
    if enabled:
        yield
        return
    kept = [(module, name, getattr(module, name)) for module, name in QUEUES]
    for module, name, _function in kept:
        setattr(module, name, _nothing)
    try:
        yield
    finally:
        for module, name, function in kept:
            setattr(module, name, function)


def _ingest(kind: str, args: argparse.Namespace, enabled: bool) -> bench.Spent:
    spent = bench.Spent()
    with bench.fresh_database(kind, args.postgres_url) as url:
        engine = make_engine(url)
        upgrade(engine)
        sessions = session_factory(engine)
        bench.setup_accounts(sessions, args.accounts, args.taxes)
        with outbox(enabled), bench.server_cpu(spent, kind, url):
            bench.ingest_through_service(sessions, args, spent)
        engine.dispose()
    return spent


def _bill(kind: str, url: str, number: int, enabled: bool) -> bench.Spent:
    spent = bench.Spent()
    with bench.database_copy(kind, url, number) as copy_url:
        engine = make_engine(copy_url)
        sessions = session_factory(engine)
        database = copy_url.rsplit("/", 1)[1]
        server = bench.backend_cpu(database) if kind == "postgresql" else 0.0
        cpu, began = time.process_time(), time.perf_counter()
        with outbox(enabled):
            run_billing(sessions, bench.BILL_AS_OF)
        spent.wall = time.perf_counter() - began
        spent.client = time.process_time() - cpu
        if kind == "postgresql":
            spent.server = bench.backend_cpu(database) - server
        if enabled:
            _catch_up(kind, sessions, database)
        engine.dispose()
    return spent


def _catch_up(kind: str, sessions: Any, database: str) -> None:
    """The worker's part, after the run: the batches' rows made into messages."""
    spent = bench.Spent()
    server = bench.backend_cpu(database) if kind == "postgresql" else 0.0
    cpu, began = time.process_time(), time.perf_counter()
    with sessions.begin() as session:
        made = catch_up(session)
    spent.wall = time.perf_counter() - began
    spent.client = time.process_time() - cpu
    if kind == "postgresql":
        spent.server = bench.backend_cpu(database) - server
    print(spent.line("  then the worker's catch-up:", made, "messages"))


def _summary(name: str, runs: dict[bool, list[bench.Spent]], kind: str) -> None:
    def med(enabled: bool, part: str) -> float:
        return median(getattr(spent, part) for spent in runs[enabled])

    parts = ("client", "server", "cpu", "wall") if kind == "postgresql" else ("client", "wall")
    ratios = ", ".join(f"{part} {med(True, part) / med(False, part):.2f}" for part in parts)
    print(f"{name} with / without the outbox (medians): {ratios}")


def run(kind: str, args: argparse.Namespace) -> None:
    print(f"\n== {kind}: {args.events:,} events, {args.accounts:,} accounts, {args.rounds} rounds")
    print(bench.load())
    if args.only != "billing":
        _ingestion(kind, args)
    if args.only != "ingestion":
        _billing(kind, args)
    print(bench.load())


def _ingestion(kind: str, args: argparse.Namespace) -> None:
    ingested: dict[bool, list[bench.Spent]] = {True: [], False: []}
    for round_ in range(args.rounds):
        for enabled in (round_ % 2 == 0, round_ % 2 == 1):  # alternate which goes first
            spent = _ingest(kind, args, enabled)
            ingested[enabled].append(spent)
            label = "with" if enabled else "without"
            print(spent.line(f"ingest, {label}:", args.events, "events"))
    _summary("ingestion", ingested, kind)


def _billing(kind: str, args: argparse.Namespace) -> None:
    billed: dict[bool, list[bench.Spent]] = {True: [], False: []}
    with bench.fresh_database(kind, args.postgres_url) as url:
        engine = make_engine(url)
        upgrade(engine)
        sessions = session_factory(engine)
        bench.setup_accounts(sessions, args.accounts, args.taxes)
        bench.ingest_through_service(sessions, args, bench.Spent())
        engine.dispose()
        number = 0
        for round_ in range(args.rounds):
            for enabled in (round_ % 2 == 0, round_ % 2 == 1):
                spent = _bill(kind, url, number, enabled)
                number += 1
                billed[enabled].append(spent)
                label = "with" if enabled else "without"
                print(spent.line(f"bill, {label}:", args.accounts, "subscriptions"))
    _summary("billing run", billed, kind)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--postgres-url", default=bench.DEFAULT_POSTGRES)
    parser.add_argument("--taxes", action="store_true", help="bill through a Swedish entity")
    parser.add_argument("--only", choices=["ingestion", "billing"], help="time only this part")
    args = parser.parse_args()
    args.mix = bench.Mix()
    args.profile = False
    print(bench.machine())
    print("command: python " + " ".join(sys.argv))
    for kind in ["sqlite", "postgresql"] if args.database == "both" else [args.database]:
        run(kind, args)


if __name__ == "__main__":
    main()
