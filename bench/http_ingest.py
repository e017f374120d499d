"""Benchmark: lead events over HTTP (`POST /v1/lead-events`), beside the in-process rate.

    python bench/http_ingest.py --database sqlite|postgresql
        [--events 300000] [--accounts 1000] [--batch 1000] [--connections 4]
        [--workers 2] [--postgres-url postgresql://postgres@127.0.0.1:5432/test]
        [--skip-in-process] [--floor]

It creates a fresh database (SQLite: a temporary file; PostgreSQL: a new database
on the --postgres-url server, dropped afterwards), migrates it, creates one plan,
the accounts with a subscription each and an ingest API key (not timed), and
starts `leadbill serve` on a free loopback port with --workers. It generates
the events of bench/ingest_and_bill.py (January 2026, in time order) as JSON
batches of --batch events (encoded before the clock starts), and sends them
from --connections threads, each with one keep-alive connection, every batch
once. It prints events/s over the whole send, and p50/p99 latency per batch.

In the same run it then times, without HTTP:

- in process: the same batches through `leads.service.ingest_events`, one
  transaction per batch (what the endpoint calls), on another fresh database;
- the HTTP layer's own work for one batch, without a database: parsing and
  validating the JSON body into the request model, turning it into the rows the
  service reads, and building and encoding the per-event response.

With --floor it also sends the same batches to a server whose ingestion is
replaced by nothing (every event answered accepted, nothing stored; authentication
still reads the database): the most this machine can serve over HTTP at all. That
server is this script's own (`floor_app`, run by uvicorn with --workers), never
the product's.

The load generator runs on the same machine as the server (loopback only) and
takes CPU from it: on 2 cores that is part of the figure.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ingest_and_bill import DEFAULT_POSTGRES, csv_rows, fresh_database, setup_accounts
from leadbill.auth.service import create_key
from leadbill.db import make_engine, session_factory
from leadbill.leads.schemas import (
    BatchTotals,
    EventResult,
    EventStatus,
    LeadEventBatch,
    LeadEventBatchResult,
)
from leadbill.leads.service import ingest_events
from leadbill.migrate import upgrade

INGESTED_AT = datetime(2026, 2, 1, tzinfo=UTC)


def _event(row: dict[str, str | None]) -> dict[str, Any]:
    """A CSV-like row as an API event: empty columns left out, the duration a number."""
    event: dict[str, Any] = {k: v for k, v in row.items() if v}
    if "duration_seconds" in event:
        event["duration_seconds"] = int(event["duration_seconds"])
    return event


def batches(total: int, accounts: int, batch: int) -> list[list[dict[str, Any]]]:
    """The events as API batches."""
    return [[_event(row) for row in rows] for rows in csv_rows(total, accounts, batch)]


def prepare(url: str, accounts: int) -> str:
    """Migrate the database, create the accounts, and return an ingest key."""
    engine = make_engine(url)
    upgrade(engine)
    sessions = session_factory(engine)
    setup_accounts(sessions, accounts)
    with sessions() as session, session.begin():
        _row, key = create_key(session, role="ingest", name="bench", as_of=INGESTED_AT)
    engine.dispose()
    return key


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def floor_app() -> Any:
    """The API with the ingestion of a batch replaced by nothing (--floor only).

    Every event is answered accepted and nothing is stored: what is left is
    uvicorn, authentication, parsing and validating the body, and the response.
    """
    from leadbill.api import create_app
    from leadbill.leads import endpoints
    from leadbill.leads.service import IngestResult

    def nothing(_request: Any, rows: list[dict[str, str | None]]) -> IngestResult:
        return IngestResult(accepted=len(rows))

    endpoints._ingest = nothing  # type: ignore[assignment]  # this benchmark's own server
    return create_app()


@contextmanager
def server(url: str, workers: int, floor: bool = False) -> Iterator[int]:
    """`leadbill serve` on a free loopback port against `url`; stopped afterwards.

    With `floor`, uvicorn serves `floor_app` instead (the same options).
    """
    port = free_port()
    arguments = ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    if floor:
        bench = str(Path(__file__).resolve().parent)
        command = [sys.executable, "-m", "uvicorn", "--app-dir", bench, "--factory"]
        command += ["http_ingest:floor_app", *arguments, "--no-access-log"]
    else:
        leadbill = shutil.which("leadbill", path=str(Path(sys.executable).parent)) or "leadbill"
        command = [leadbill, "serve", *arguments, "--no-access-log"]
    log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - kept after the server stops, for reading
        prefix="leadbill-serve-", suffix=".log", delete=False
    )
    process = subprocess.Popen(
        command,
        env={**os.environ, "LEADBILL_DATABASE_URL": url},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                connection.request("GET", "/openapi.json")
                if connection.getresponse().status == 200:
                    connection.close()
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"leadbill serve did not start; see {log.name}")
            time.sleep(0.2)
        # Every worker opens its engine at its first request: warm them before the clock.
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
        print(f"server log: {log.name}")


def send_all(
    port: int, key: str, bodies: list[bytes], connections: int
) -> tuple[float, list[float], dict[str, int]]:
    """Send every body once from `connections` threads; (seconds, latencies, totals)."""
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    latencies: list[float] = []
    totals = {"accepted": 0, "duplicate": 0, "rejected": 0, "errors": 0, "retried": 0}
    lock = threading.Lock()
    next_index = iter(range(len(bodies)))

    def post(connection: http.client.HTTPConnection, body: bytes) -> tuple[int, bytes]:
        connection.request("POST", "/v1/lead-events", body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()

    def worker() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        while True:
            with lock:
                index = next(next_index, None)
            if index is None:
                break
            started = time.perf_counter()
            try:
                status, payload = post(connection, bodies[index])
            except (ConnectionError, http.client.HTTPException):
                # The server closed a kept-alive connection: batches are idempotent, so
                # send it again on a new connection (its latency includes the retry).
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                status, payload = post(connection, bodies[index])
                with lock:
                    totals["retried"] += 1
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                if status != 200:
                    totals["errors"] += 1
                    continue
                counts = json.loads(payload)["totals"]
                for name in ("accepted", "duplicate", "rejected"):
                    totals[name] += counts[name]
        connection.close()

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, latencies, totals


def percentile(values: list[float], share: float) -> float:
    """The value below which `share` of the sorted values lie (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def in_process(url: str, accounts: int, rows: list[list[dict[str, Any]]]) -> float:
    """Seconds to ingest the batches through the service, one transaction each."""
    prepare(url, accounts)
    engine = make_engine(url)
    sessions = session_factory(engine)
    started = time.perf_counter()
    for batch in rows:
        with sessions() as session, session.begin():
            ingest_events(session, batch, as_of=INGESTED_AT, first_line=0)
    elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed


def http_layer(body: bytes, repeat: int = 20) -> tuple[float, float, float]:
    """CPU milliseconds per batch to parse and validate the body as FastAPI does (json.loads,
    then the model), turn it into service rows, and build and encode a response of
    accepted events (no database)."""
    parse = rows = respond = 0.0
    for _ in range(repeat):
        t0 = time.process_time()
        batch = LeadEventBatch.model_validate(json.loads(body))
        t1 = time.process_time()
        [event.row() for event in batch.events]
        t2 = time.process_time()
        results = [
            EventResult(index=i, idempotency_key=e.idempotency_key, status=EventStatus.ACCEPTED)
            for i, e in enumerate(batch.events)
        ]
        totals = BatchTotals(received=len(results), accepted=len(results), duplicate=0, rejected=0)
        LeadEventBatchResult(totals=totals, results=results).model_dump_json()
        t3 = time.process_time()
        parse, rows, respond = parse + t1 - t0, rows + t2 - t1, respond + t3 - t2
    return tuple(1000 * value / repeat for value in (parse, rows, respond))  # type: ignore[return-value]


def machine() -> str:
    """One line describing the machine and the versions that matter."""
    import sqlite3

    return (
        f"{os.cpu_count()} cores, Linux {platform.release()} {platform.machine()}; "
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="postgresql")
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--accounts", type=int, default=1_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    parser.add_argument("--skip-in-process", action="store_true")
    parser.add_argument(
        "--floor", action="store_true", help="also time a server whose ingestion does nothing"
    )
    args = parser.parse_args()

    print(machine())
    print(
        f"{args.database}: {args.events:,} events in batches of {args.batch:,}, "
        f"{args.accounts:,} accounts, {args.workers} server workers, "
        f"{args.connections} connections"
    )
    rows = batches(args.events, args.accounts, args.batch)
    bodies = [json.dumps({"events": batch}, separators=(",", ":")).encode() for batch in rows]
    size = sum(len(body) for body in bodies) / len(bodies)
    print(f"batches: {len(bodies)}, {size / 1024:.0f} KiB each on average")

    with fresh_database(args.database, args.postgres_url) as url:
        key = prepare(url, args.accounts)
        with server(url, args.workers) as port:
            # Warm every worker (engine, imports) with an empty batch per connection.
            send_all(port, key, [b'{"events":[]}'] * (4 * args.workers), args.connections)
            seconds, latencies, totals = send_all(port, key, bodies, args.connections)
        if args.floor:
            with server(url, args.workers, floor=True) as port:
                send_all(port, key, [b'{"events":[]}'] * (4 * args.workers), args.connections)
                floor_seconds, floor_latencies, _ = send_all(port, key, bodies, args.connections)
    events = sum(len(batch) for batch in rows)
    p50, p99 = (1000 * percentile(latencies, share) for share in (0.50, 0.99))
    print(
        f"HTTP: {seconds:.1f} s, {events / seconds:,.0f} events/s; "
        f"per batch p50 {p50:.0f} ms, p99 {p99:.0f} ms"
    )
    print(
        f"  accepted {totals['accepted']:,}, duplicate {totals['duplicate']:,}, "
        f"rejected {totals['rejected']:,}, failed batches {totals['errors']}, "
        f"batches sent again after a closed connection {totals['retried']}"
    )
    if args.floor:
        p50, p99 = (1000 * percentile(floor_latencies, share) for share in (0.50, 0.99))
        print(
            f"HTTP floor (ingestion replaced by nothing): {floor_seconds:.1f} s, "
            f"{events / floor_seconds:,.0f} events/s; per batch p50 {p50:.0f} ms, p99 {p99:.0f} ms"
        )
    if not args.skip_in_process:
        service_rows = [
            [{k: (None if v is None else str(v)) for k, v in event.items()} for event in batch]
            for batch in rows
        ]
        with fresh_database(args.database, args.postgres_url) as url:
            elapsed = in_process(url, args.accounts, service_rows)
        print(
            f"in process (ingest_events, one transaction per batch): {elapsed:.1f} s, "
            f"{events / elapsed:,.0f} events/s"
        )
    parse, convert, respond = http_layer(bodies[len(bodies) // 2])
    print(
        f"HTTP layer per batch of {args.batch:,}, one core, no database: parse and validate "
        f"{parse:.1f} ms, rows for the service {convert:.1f} ms, response {respond:.1f} ms"
    )


if __name__ == "__main__":
    main()
