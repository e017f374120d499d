"""Lead-event ingestion: validate rows, store each event once, keep leads up to date.

Rows arrive as text (a CSV file read with DictReader, later a REST batch). Each
row is checked on its own; a bad row is rejected with its line, field and
reason, and the others are kept (or, with `all_or_nothing`, none is). The
idempotency key is unique per account in the database: a re-sent event is
reported as a duplicate and changes nothing, whatever the order or the
concurrency of the senders.

A lead's `first_called_at` is the earliest of its events that the `called`
counting policy selects (core.billability), so usage is a plain GROUP BY; its
attributes keep the first non-empty value they were given.

Everything is set-based: per chunk of rows, one query resolves the accounts,
one the seats, one finds the keys already stored, one upserts the leads and one
inserts the events.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from leadbill.core.billability import EventType, counting_events
from leadbill.core.errors import RuleViolation
from leadbill.core.periods import require_utc
from leadbill.core.plans import CountingPolicy
from leadbill.errors import from_rule
from leadbill.leads import repository
from leadbill.leads.csv_format import MAX_LENGTH

# Rows per set-based step: big enough to amortise each statement, small enough
# to keep one chunk's parameters and memory modest.
CHUNK_ROWS = 10_000

EVENT_TYPES: frozenset[str] = frozenset(str(value) for value in EventType)
# The event types whose earliest occurrence sets first_called_at: exactly what the
# core's `called` policy counts, never a list of our own.
CALL_TYPES: frozenset[str] = frozenset(str(t) for t in counting_events(CountingPolicy.CALLED))
RECEIVED = str(EventType.RECEIVED)
_TYPE_LIST = ", ".join(str(value) for value in EventType)
_ATTRIBUTES = ("name", "phone", "email", "postal_code", "source")


class RowStatus(enum.StrEnum):
    """What happened to one row."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class RowOutcome:
    """The outcome of one row that was not simply accepted."""

    line: int
    idempotency_key: str | None
    status: RowStatus
    field: str | None
    reason: str

    def __str__(self) -> str:
        where = f"{self.field}: " if self.field else ""
        return f"line {self.line}: {where}{self.reason}"


@dataclass(slots=True)
class IngestResult:
    """Counts of one ingestion, and the outcome of every row not accepted.

    Accepted rows are not listed one by one: a row whose line is absent from
    `outcomes` was accepted. When `all_or_nothing` refused the batch, `stored`
    is False, `accepted` and `duplicate` are 0 and `discarded` counts the
    valid rows that were not stored.
    """

    accepted: int = 0
    duplicate: int = 0
    rejected: int = 0
    outcomes: list[RowOutcome] = field(default_factory=list)
    stored: bool = True
    discarded: int = 0

    @property
    def rejections(self) -> list[RowOutcome]:
        """The rejected rows, by line."""
        return [o for o in self.outcomes if o.status is RowStatus.REJECTED]

    @property
    def duplicates(self) -> list[RowOutcome]:
        """The duplicate rows, by line."""
        return [o for o in self.outcomes if o.status is RowStatus.DUPLICATE]


class _Rejected(Exception):
    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason


# One parsed row: line, idempotency_key, account, lead_id, event type, occurred_at
# (stored text), seat, name, phone, email, postal_code, source, call_result,
# duration_seconds, detail. Account and seat are codes after parsing and ids once
# resolved. Plain tuples keep a million rows cheap.
_Row = tuple[Any, ...]


def _optional(row: Mapping[str, str | None], name: str) -> str | None:
    value = row.get(name)
    if not value:
        return None
    value = value.strip()
    if not value:
        return None
    if len(value) > MAX_LENGTH[name]:
        raise _Rejected(name, f"longer than {MAX_LENGTH[name]} characters")
    return value


def _required(row: Mapping[str, str | None], name: str) -> str:
    value = _optional(row, name)
    if value is None:
        raise _Rejected(name, "is required")
    return value


def _instant(value: str, sqlite: bool) -> str:
    # RFC 3339: a full date, 'T' (or a space) and a time with an offset. The
    # shape check keeps out the other ISO 8601 forms fromisoformat accepts.
    if len(value) < 19 or value[4] != "-" or value[7] != "-" or value[10] not in "Tt ":
        raise _Rejected("occurred_at", f"{value!r} is not an RFC 3339 instant")
    try:
        instant = datetime.fromisoformat(value.upper() if value[-1] == "z" else value)
    except ValueError:
        raise _Rejected("occurred_at", f"{value!r} is not an RFC 3339 instant") from None
    if instant.tzinfo is None:
        raise _Rejected("occurred_at", f"{value!r} has no UTC offset (add Z or +hh:mm)")
    if instant.tzinfo is not UTC:
        instant = instant.astimezone(UTC)
    if sqlite:
        return instant.replace(tzinfo=None).isoformat(" ", "microseconds")
    return instant.isoformat(" ", "microseconds")


def _parse(row: Mapping[str, str | None], line: int, sqlite: bool) -> _Row:
    key = _required(row, "idempotency_key")
    account = _required(row, "account")
    lead = _required(row, "lead_id")
    event_type = _required(row, "event_type")
    if event_type not in EVENT_TYPES:
        raise _Rejected("event_type", f"{event_type!r} is not one of {_TYPE_LIST}")
    occurred_at = _instant(_required(row, "occurred_at"), sqlite)
    duration: int | None = None
    text = row.get("duration_seconds")
    if text and (text := text.strip()):
        if not text.isdigit():
            raise _Rejected("duration_seconds", f"{text!r} is not a whole number of seconds >= 0")
        duration = int(text)
    return (
        line,
        key,
        account,
        lead,
        event_type,
        occurred_at,
        _optional(row, "seat"),
        _optional(row, "name"),
        _optional(row, "phone"),
        _optional(row, "email"),
        _optional(row, "postal_code"),
        _optional(row, "source"),
        _optional(row, "call_result"),
        duration,
        _optional(row, "detail"),
    )


def ingest_events(
    session: Session,
    rows: Sequence[Mapping[str, str | None]],
    *,
    as_of: datetime,
    all_or_nothing: bool = False,
    first_line: int = 2,
) -> IngestResult:
    """Validate and store lead events; duplicates change nothing, bad rows are reported.

    `rows` are mappings of column name to text (see docs/csv-format.md); the row
    at index i is reported as line `first_line + i` (2 for a CSV file whose
    line 1 is the header). `as_of` is the ingestion instant, stored on new
    events and leads. With `all_or_nothing`, one rejected row means nothing is
    stored. The caller owns the transaction.
    """
    try:
        as_of = require_utc(as_of, "as_of")
    except RuleViolation as error:
        raise from_rule(error) from None
    result = IngestResult()
    sqlite = repository.dialect_name(session) == "sqlite"
    parsed_chunks: list[list[_Row]] = []
    for start in range(0, len(rows), CHUNK_ROWS):
        parsed = _check_chunk(session, rows, start, first_line, sqlite, result)
        parsed_chunks.append(parsed)
        if not all_or_nothing:
            _store_chunk(session, parsed, as_of, result)
            parsed_chunks.clear()
    if all_or_nothing:
        if result.rejected:
            result.stored = False
            result.discarded = sum(len(chunk) for chunk in parsed_chunks)
        else:
            for parsed in parsed_chunks:
                _store_chunk(session, parsed, as_of, result)
    result.outcomes.sort(key=lambda outcome: outcome.line)
    return result


def _check_chunk(
    session: Session,
    rows: Sequence[Mapping[str, str | None]],
    start: int,
    first_line: int,
    sqlite: bool,
    result: IngestResult,
) -> list[_Row]:
    """Parse one chunk and resolve its accounts and seats; record its rejections."""
    parsed: list[_Row] = []
    outcomes = result.outcomes
    before = len(outcomes)
    line = first_line + start
    for row in rows[start : start + CHUNK_ROWS]:
        try:
            parsed.append(_parse(row, line, sqlite))
        except _Rejected as error:
            key = row.get("idempotency_key")
            outcomes.append(
                RowOutcome(line, key or None, RowStatus.REJECTED, error.field, error.reason)
            )
        line += 1
    accounts = repository.account_ids(session, {p[2] for p in parsed})
    seated = {accounts[p[2]] for p in parsed if p[6] is not None and p[2] in accounts}
    seats = repository.seat_ids(session, seated) if seated else {}
    known: list[_Row] = []
    for p in parsed:
        if p[2] not in accounts:
            reason = f"unknown account {p[2]!r}"
            outcomes.append(RowOutcome(p[0], p[1], RowStatus.REJECTED, "account", reason))
        elif p[6] is not None and (accounts[p[2]], p[6]) not in seats:
            reason = f"unknown seat {p[6]!r} on account {p[2]!r}"
            outcomes.append(RowOutcome(p[0], p[1], RowStatus.REJECTED, "seat", reason))
        else:
            known.append(p)
    result.rejected += len(outcomes) - before
    # Account and seat ids replace the codes, so storing needs no further lookup.
    return [
        (
            p[0],
            p[1],
            accounts[p[2]],
            p[3],
            p[4],
            p[5],
            None if p[6] is None else seats[(accounts[p[2]], p[6])],
            *p[7:],
        )
        for p in known
    ]


def _store_chunk(
    session: Session, parsed: list[_Row], as_of: datetime, result: IngestResult
) -> None:
    """Store one checked chunk: skip duplicates, upsert its leads, insert its events."""
    if not parsed:
        return
    dialect = repository.dialect_name(session)
    # The same key twice in the batch: the first row is the event, later ones repeat it.
    first_seen: dict[tuple[int, str], int] = {}
    fresh: list[_Row] = []
    for p in parsed:
        account_key = (p[2], p[1])
        seen = first_seen.setdefault(account_key, p[0])
        if seen != p[0]:
            result.outcomes.append(
                RowOutcome(
                    p[0], p[1], RowStatus.DUPLICATE, "idempotency_key", f"repeats line {seen}"
                )
            )
        else:
            fresh.append(p)
    stored = repository.existing_keys(session, list(first_seen))
    if stored:
        candidates = []
        for p in fresh:
            if (p[2], p[1]) in stored:
                result.outcomes.append(
                    RowOutcome(
                        p[0], p[1], RowStatus.DUPLICATE, "idempotency_key", "already received"
                    )
                )
            else:
                candidates.append(p)
        fresh = candidates

    leads = _lead_aggregates(fresh)
    stamp = repository.stored_instant(as_of, dialect)
    lead_ids = repository.upsert_leads(session, list(leads.values()), stamp)
    events = [(p[2], lead_ids[(p[2], p[3])], p[1], p[4], p[5], p[12], p[13], p[14]) for p in fresh]
    lost = repository.insert_events(session, events, stamp)
    if lost:
        # A concurrent sender stored some of these keys first: they are duplicates,
        # and the instants of their leads are taken again from the stored events.
        affected = set()
        for p in fresh:
            if (p[2], p[1]) in lost:
                result.outcomes.append(
                    RowOutcome(
                        p[0], p[1], RowStatus.DUPLICATE, "idempotency_key", "already received"
                    )
                )
                affected.add(lead_ids[(p[2], p[3])])
        repository.recompute_instants(session, affected, RECEIVED, CALL_TYPES)
    result.accepted += len(fresh) - (len(lost) if lost else 0)
    result.duplicate += len(parsed) - len(fresh) + (len(lost) if lost else 0)


def _lead_aggregates(
    fresh: list[_Row],
) -> dict[tuple[int, str], list[int | str | None]]:
    """One row per lead: first non-empty seat and attributes, earliest instants."""
    leads: dict[tuple[int, str], list[int | str | None]] = {}
    for p in fresh:
        key = (p[2], p[3])
        lead = leads.get(key)
        event_type, at = p[4], p[5]
        if lead is None:
            leads[key] = [
                p[2],
                p[3],
                p[6],
                p[7],
                p[8],
                p[9],
                p[10],
                p[11],
                at if event_type == RECEIVED else None,
                at if event_type in CALL_TYPES else None,
            ]
            continue
        for index in range(2, 8):
            if lead[index] is None and p[index + 4] is not None:
                lead[index] = p[index + 4]
        if event_type == RECEIVED:
            if lead[8] is None or at < lead[8]:
                lead[8] = at
        elif event_type in CALL_TYPES and (lead[9] is None or at < lead[9]):
            lead[9] = at
    return leads
