"""`leadbill import ...`: load lead events from CSV files.

The file is read as a stream, in chunks of `CHUNK_ROWS` records, each stored in its
own transaction; a record that is not a row of the file (a quote left open, a
wrong number of values: csv_format.read_records) is rejected with its line
before the rows reach the service; an interrupted import can simply be run again, since every
event already stored is a duplicate. With --all-or-nothing the whole file is
one transaction and one rejected row means nothing is stored.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

from leadbill.console import err, now, out, print_error, sessions
from leadbill.errors import InvalidInput, LeadbillError
from leadbill.leads.csv_format import CsvReader, Rejection, check_header, read_records
from leadbill.leads.service import CHUNK_ROWS, IngestResult, RowOutcome, RowStatus, ingest_events

app = typer.Typer(help="Import lead events from CSV files.", no_args_is_help=True)

# Rejections and conflicts printed one by one; the rest are counted.
SHOWN_REJECTIONS = 50
# Files at least this large show a progress bar on a terminal.
PROGRESS_BYTES = 1_000_000
EXIT_REJECTED = 2


@dataclass
class _Totals:
    accepted: int = 0
    duplicate: int = 0
    conflict: int = 0
    rejected: int = 0
    discarded: int = 0
    shown: list[RowOutcome] = field(default_factory=list)

    def add(self, result: IngestResult, refused: list[Rejection]) -> None:
        """Count a chunk: the service's result and the records refused before it."""
        self.accepted += result.accepted
        self.duplicate += result.duplicate
        self.conflict += result.conflict
        self.rejected += result.rejected + len(refused)
        self.discarded += result.discarded
        room = SHOWN_REJECTIONS - len(self.shown)
        if room > 0:
            outcomes = [
                RowOutcome(r.line, r.idempotency_key, RowStatus.REJECTED, r.field, r.reason)
                for r in refused
            ]
            outcomes.extend(o for o in result.outcomes if o.status is not RowStatus.DUPLICATE)
            outcomes.sort(key=lambda outcome: outcome.line)
            self.shown.extend(outcomes[:room])


@dataclass
class _Chunk:
    """Up to CHUNK_ROWS records: the rows with their lines, and the records refused."""

    rows: list[dict[str, str | None]] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    refused: list[Rejection] = field(default_factory=list)


def _chunks(reader: CsvReader, names: list[str]) -> Iterator[_Chunk]:
    """Chunks of records, each row with the line it starts on (the header is line 1)."""
    chunk = _Chunk()
    for line, record in read_records(reader, names):
        if isinstance(record, Rejection):
            chunk.refused.append(record)
        else:
            chunk.rows.append(record)
            chunk.lines.append(line)
        if len(chunk.rows) + len(chunk.refused) == CHUNK_ROWS:
            yield chunk
            chunk = _Chunk()
    if chunk.rows or chunk.refused:
        yield chunk


@app.command("events")
def events(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV file of lead events"),
    all_or_nothing: bool = typer.Option(
        False, "--all-or-nothing", help="Store nothing if any row is rejected (one transaction)"
    ),
) -> None:
    """Import lead events from a CSV file (see docs/csv-format.md).

    Exit code 0 when every row was accepted or a duplicate, 2 when some rows were
    rejected or in conflict with an event already received under their key (with
    --all-or-nothing: nothing was stored).
    """
    totals = _Totals()
    size = file.stat().st_size
    try:
        with file.open("rb") as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
            reader = csv.reader(text)
            header = next(reader, None)
            unknown = check_header(header)
            names = [name.strip() for name in header or []]
            if unknown:
                print_error(", ".join(unknown), "ignored column(s):")
            progress = Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                DownloadColumn(),
                TimeRemainingColumn(),
                console=err,
                transient=True,
                disable=size < PROGRESS_BYTES or not err.is_terminal,
            )
            with progress:
                task = progress.add_task(f"importing {file.name}", total=size)
                if all_or_nothing:
                    _import_as_one(
                        _chunks(reader, names),
                        totals,
                        lambda: progress.update(task, completed=raw.tell()),
                    )
                else:
                    for chunk in _chunks(reader, names):
                        with sessions()() as session, session.begin():
                            result = ingest_events(
                                session, chunk.rows, as_of=now(), lines=chunk.lines
                            )
                        totals.add(result, chunk.refused)
                        progress.update(task, completed=raw.tell())
    except LeadbillError as error:
        print_error(error.detail)
        raise typer.Exit(error.exit_code) from None
    except (UnicodeDecodeError, csv.Error) as error:
        print_error(f"{file.name} is not a readable CSV file: {error}")
        raise typer.Exit(InvalidInput.exit_code) from None
    _report(totals, all_or_nothing)


class _RollBack(Exception):
    """Leaves the all-or-nothing transaction without storing anything."""


def _import_as_one(chunks: Iterator[_Chunk], totals: _Totals, tick: Callable[[], None]) -> None:
    """The whole file in one transaction, rolled back if any row is rejected or in conflict."""
    stamp = now()
    try:
        with sessions()() as session, session.begin():
            for chunk in chunks:
                # After a rejection later chunks are still checked, so that every
                # rejection is reported; the transaction is rolled back anyway.
                result = ingest_events(
                    session, chunk.rows, as_of=stamp, all_or_nothing=True, lines=chunk.lines
                )
                totals.add(result, chunk.refused)
                tick()
            if totals.rejected or totals.conflict:
                raise _RollBack
    except _RollBack:
        totals.discarded += totals.accepted + totals.duplicate
        totals.accepted = totals.duplicate = 0


def _report(totals: _Totals, all_or_nothing: bool) -> None:
    out.print(
        f"accepted {totals.accepted}, duplicate {totals.duplicate}, "
        f"conflict {totals.conflict}, rejected {totals.rejected}"
    )
    for outcome in totals.shown:
        out.print(f"{outcome} (conflict)" if outcome.status is RowStatus.CONFLICT else str(outcome))
    listed = totals.rejected + totals.conflict
    if listed > len(totals.shown):
        out.print(f"… and {listed - len(totals.shown)} more")
    if totals.rejected or totals.conflict:
        if all_or_nothing:
            out.print(f"nothing stored (--all-or-nothing): {totals.discarded} valid rows discarded")
        raise typer.Exit(EXIT_REJECTED)
