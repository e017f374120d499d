"""Set-based statements of lead-event ingestion, a few per step and chunk.

Each statement handles a whole chunk of rows: on PostgreSQL the chunk travels
as one packed text parameter per column, unnested by the server; on SQLite as
one JSON array (`json_each`) or through the driver's executemany. Nothing here
runs once per event. Statements go
through the session's own connection with `exec_driver_sql`, so they join the
caller's transaction at the cost of the driver alone.

Instants arrive already in the text form the `UTCDateTime` column stores (see
`stored_instant`), so text order is time order on SQLite and the same text
parses to the same instant on PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from operator import attrgetter
from typing import Any, NamedTuple

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from leadbill.errors import InvalidInput

# Bind parameters per statement stay below SQLite's limit (32766).
IN_CHUNK = 10_000

LeadKey = tuple[int, str]


@dataclass(slots=True)
class LeadRow:
    """The aggregate of one chunk's accepted events of a lead, or a stored lead's columns.

    The fields follow the `leads` columns that ingestion writes (`LEAD_FIELDS`, in
    this order): attributes keep their first non-empty value, instants the earliest.
    """

    account_id: int
    external_id: str
    seat_id: int | None = None
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    postal_code: str | None = None
    source: str | None = None
    received_at: str | None = None  # stored text, see stored_instant
    first_called_at: str | None = None
    category: str | None = None
    campaign: str | None = None
    company: str | None = None
    company_domain: str | None = None
    first_found_at: str | None = None
    phone_e164: str | None = None
    email_key: str | None = None


LEAD_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(LeadRow))
# A lead row's values in LEAD_FIELDS order, as the driver takes them.
lead_values: Callable[[LeadRow], tuple[Any, ...]] = attrgetter(*LEAD_FIELDS)


class EventRow(NamedTuple):
    """One event as `lead_events` stores it (ids resolved, the instant as stored text)."""

    account_id: int
    lead_id: int
    idempotency_key: str
    type: str
    occurred_at: str
    call_result: str | None
    duration_seconds: int | None
    detail: str | None


def dialect_name(session: Session) -> str:
    """`sqlite` or `postgresql`."""
    return session.get_bind().dialect.name


def stored_instant(instant: datetime, dialect: str) -> str:
    """The instant as the UTCDateTime column writes it, as text.

    SQLite: naive UTC 'YYYY-MM-DD HH:MM:SS.ffffff' (what SQLAlchemy's DateTime
    writes); PostgreSQL: the same with '+00:00', parsed by the server.
    """
    utc = instant.astimezone(UTC)
    if dialect == "sqlite":
        return utc.replace(tzinfo=None).isoformat(" ", "microseconds")
    return utc.isoformat(" ", "microseconds")


_SEPARATOR = "\x1f"


def packed(values: Iterable[Any]) -> str:
    """PostgreSQL: one column of a chunk as one text parameter, split by the server.

    `string_to_array(text, E'\\x1f', '')` turns it back into an array ('' is NULL).
    Passing one string per column spares the driver adapting every element of
    an array parameter, which costs more than the statement itself.
    """
    texts = ["" if value is None else str(value) for value in values]
    joined = _SEPARATOR.join(texts)
    if texts and joined.count(_SEPARATOR) != len(texts) - 1:
        raise InvalidInput("row", "a value contains the control character U+001F")
    return joined


def arrays(*types: str) -> str:
    """PostgreSQL: the arrays of `unnest(...)`, each from one packed text parameter."""
    return ", ".join(f"string_to_array(%s, E'\\x1f', '')::{name}[]" for name in types)


def _connection(session: Session) -> Connection:
    return session.connection()


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def account_ids(session: Session, codes: Iterable[str]) -> dict[str, int]:
    """Account id by code, for the codes that exist."""
    wanted = sorted(set(codes))
    found: dict[str, int] = {}
    conn = _connection(session)
    if dialect_name(session) == "postgresql":
        # One packed parameter: thousands of separate ones cost more than the query.
        # Joined from unnest, never `= ANY(string_to_array(%s))`: once the driver has
        # prepared the statement, the server's generic plan splits the text again for
        # every row it scans (350 ms instead of 1 ms for 1,000 accounts).
        sql = (
            f"SELECT a.code, a.id FROM unnest({arrays('text')}) AS k(code)"
            " JOIN accounts a ON a.code = k.code"
        )
        return dict(conn.exec_driver_sql(sql, (packed(wanted),)).all())
    # One JSON parameter: the statement text stays the same, so SQLite prepares it once.
    sql = "SELECT a.code, a.id FROM json_each(?) AS k JOIN accounts a ON a.code = k.value"
    found.update(conn.exec_driver_sql(sql, (json.dumps(wanted),)).all())
    return found


def seat_ids(session: Session, account_ids: Iterable[int]) -> dict[tuple[int, str], int]:
    """Seat id by (account id, seat code), for every seat of these accounts."""
    wanted = sorted(set(account_ids))
    found: dict[tuple[int, str], int] = {}
    conn = _connection(session)
    if dialect_name(session) == "postgresql":
        sql = (
            f"SELECT s.account_id, s.code, s.id FROM unnest({arrays('bigint')}) AS k(account_id)"
            " JOIN seats s ON s.account_id = k.account_id"
        )
        rows = conn.exec_driver_sql(sql, (packed(wanted),)).all()
        return {(account_id, code): seat_id for account_id, code, seat_id in rows}
    marker = "?"
    for chunk in _chunks(wanted, IN_CHUNK):
        sql = (
            "SELECT account_id, code, id FROM seats "
            f"WHERE account_id IN ({', '.join([marker] * len(chunk))})"
        )
        for account_id, code, seat_id in conn.exec_driver_sql(sql, tuple(chunk)):
            found[(account_id, code)] = seat_id
    return found


# What an event records of itself, in this order: the lead's external id, type,
# occurred_at (stored text, see stored_instant), call_result, duration_seconds, detail.
EventContent = tuple[Any, ...]


def existing_events(
    session: Session, keys: Sequence[tuple[int, str]]
) -> dict[tuple[int, str], EventContent]:
    """The content of the events already stored under these (account id, key) pairs."""
    if not keys:
        return {}
    conn = _connection(session)
    dialect = dialect_name(session)
    columns = (
        "e.account_id, e.idempotency_key, l.external_id, e.type, e.occurred_at,"
        " e.call_result, e.duration_seconds, e.detail"
    )
    if dialect == "postgresql":
        rows = conn.exec_driver_sql(
            f"SELECT {columns}"
            f" FROM unnest({arrays('bigint', 'text')}) AS k(account_id, idempotency_key)"
            " JOIN lead_events e ON e.account_id = k.account_id"
            " AND e.idempotency_key = k.idempotency_key"
            " JOIN leads l ON l.id = e.lead_id",
            (packed(k[0] for k in keys), packed(k[1] for k in keys)),
        )
    else:
        # A join (not a row-value IN, which SQLite answers with a table scan)
        # probes the unique index once per key.
        rows = conn.exec_driver_sql(
            f"SELECT {columns} FROM json_each(?) AS k"
            " JOIN lead_events e ON e.account_id = json_extract(k.value, '$[0]')"
            " AND e.idempotency_key = json_extract(k.value, '$[1]')"
            " JOIN leads l ON l.id = e.lead_id",
            (json.dumps(keys),),
        )
    found = {}
    for account_id, key, external_id, type_, occurred_at, call_result, duration, detail in rows:
        # SQLite gives the stored text back; PostgreSQL a datetime, written as stored.
        at = occurred_at if isinstance(occurred_at, str) else stored_instant(occurred_at, dialect)
        found[(account_id, key)] = (external_id, type_, at, call_result, duration, detail)
    return found


_UPSERT_SET = """
    seat_id = COALESCE(leads.seat_id, excluded.seat_id),
    name = COALESCE(leads.name, excluded.name),
    phone = COALESCE(leads.phone, excluded.phone),
    email = COALESCE(leads.email, excluded.email),
    postal_code = COALESCE(leads.postal_code, excluded.postal_code),
    source = COALESCE(leads.source, excluded.source),
    category = COALESCE(leads.category, excluded.category),
    campaign = COALESCE(leads.campaign, excluded.campaign),
    company = COALESCE(leads.company, excluded.company),
    company_domain = COALESCE(leads.company_domain, excluded.company_domain),
    phone_e164 = CASE WHEN leads.phone IS NULL THEN excluded.phone_e164 ELSE leads.phone_e164 END,
    email_key = CASE WHEN leads.email IS NULL THEN excluded.email_key ELSE leads.email_key END,
    first_found_at = LEAST(leads.first_found_at, excluded.first_found_at),
"""

# Lock order (PostgreSQL): the upsert and the event insert take their row and key locks
# in the order of the rows they write, so both write in one order, (account id,
# external id) and (account id, idempotency key): two batches sharing leads then wait
# for one another instead of each holding a lead the other needs. Ids are still drawn
# in the batch's order (the subquery, kept apart by OFFSET 0, numbers the rows before
# they are sorted), so an earlier row of a batch keeps the smaller id.
_UPSERT_LEADS = {
    # The upsert returns the id of every lead, created or merged.
    "postgresql": f"""
        INSERT INTO leads (id, account_id, external_id, seat_id, name, phone, email, postal_code,
                           source, received_at, first_called_at, category, campaign, company,
                           company_domain, first_found_at, phone_e164, email_key, created_at)
        SELECT * FROM (
        SELECT nextval('leads_id_seq'::regclass), *, %s::timestamptz FROM unnest({
        arrays(
            "bigint",
            "text",
            "bigint",
            "text",
            "text",
            "text",
            "text",
            "text",
            "timestamptz",
            "timestamptz",
            "text",
            "text",
            "text",
            "text",
            "timestamptz",
            "text",
            "text",
        )
    }) OFFSET 0
        ) AS batch ORDER BY 2, 3
        ON CONFLICT (account_id, external_id) DO UPDATE SET"""
    + _UPSERT_SET
    + """
            received_at = LEAST(leads.received_at, excluded.received_at),
            first_called_at = LEAST(leads.first_called_at, excluded.first_called_at)
        RETURNING account_id, external_id, id
    """,
}


def upsert_leads(session: Session, leads: Sequence[LeadRow], created_at: str) -> dict[LeadKey, int]:
    """Create missing leads and merge the chunk's aggregates into existing ones.

    Attributes and the seat keep the first non-empty value (COALESCE); the
    instants keep the earliest. Returns the lead id by (account id, external id).
    """
    if not leads:
        return {}
    conn = _connection(session)
    if dialect_name(session) == "postgresql":
        values = map(lead_values, leads)
        columns = [packed(column) for column in zip(*values, strict=True)]
        rows = conn.exec_driver_sql(_UPSERT_LEADS["postgresql"], (created_at, *columns)).all()
        return {(account_id, external_id): lead_id for account_id, external_id, lead_id in rows}
    return _upsert_leads_sqlite(conn, leads, created_at)


_LEAD_COLUMNS = ", ".join(LEAD_FIELDS)
# The columns a merge may change: every LeadRow field but the key.
_MERGED = LEAD_FIELDS[2:]
_SQLITE_FIND_LEADS = f"""
    SELECT l.account_id, l.external_id, l.id, {", ".join(f"l.{name}" for name in _MERGED)}
    FROM json_each(?) AS k
    JOIN leads l ON l.account_id = json_extract(k.value, '$[0]')
     AND l.external_id = json_extract(k.value, '$[1]')
"""
_SQLITE_INSERT_LEADS = (
    f"INSERT INTO leads (id, {_LEAD_COLUMNS}, created_at) VALUES ({', '.join(['?'] * 19)})"
)
# Attributes and the seat keep their first non-empty value; the instants keep the
# earliest (stored text, so text order is time order).
_FIRST_VALUE = (
    "seat_id",
    "name",
    "phone",
    "email",
    "postal_code",
    "source",
    "category",
    "campaign",
    "company",
    "company_domain",
)
_EARLIEST = ("received_at", "first_called_at", "first_found_at")


def _merged(stored: LeadRow, lead: LeadRow) -> LeadRow:
    """The stored lead with a chunk's aggregate merged in.

    The same rules as PostgreSQL's upsert (`_UPSERT_SET`): first non-empty
    value, earliest instant, and the normalised phone and e-mail follow the
    phone and e-mail they come from.
    """
    merged = LeadRow(*lead_values(stored))
    for name in _FIRST_VALUE:
        if getattr(merged, name) is None:
            setattr(merged, name, getattr(lead, name))
    for name in _EARLIEST:
        new, old = getattr(lead, name), getattr(merged, name)
        if new is not None and (old is None or new < old):
            setattr(merged, name, new)
    if stored.phone is None:
        merged.phone_e164 = lead.phone_e164
    if stored.email is None:
        merged.email_key = lead.email_key
    return merged


def _upsert_leads_sqlite(
    conn: Connection, leads: Sequence[LeadRow], created_at: str
) -> dict[LeadKey, int]:
    # The transaction holds SQLite's single write lock (BEGIN IMMEDIATE; a deferred
    # one could not commit over a concurrent writer), so the leads found here and
    # the ids taken after max(id) cannot be raced: plain executemany, no upsert.
    ids: dict[LeadKey, int] = {}
    stored: dict[LeadKey, LeadRow] = {}
    keys = [(lead.account_id, lead.external_id) for lead in leads]
    for row in conn.exec_driver_sql(_SQLITE_FIND_LEADS, (json.dumps(keys),)).all():
        key = (row[0], row[1])
        ids[key] = row[2]
        stored[key] = LeadRow(row[0], row[1], *row[3:])
    new = [lead for lead in leads if (lead.account_id, lead.external_id) not in ids]
    if new:
        next_id = conn.exec_driver_sql("SELECT coalesce(max(id), 0) + 1 FROM leads").scalar_one()
        rows = []
        for number, lead in enumerate(new, start=next_id):
            ids[(lead.account_id, lead.external_id)] = number
            rows.append((number, *lead_values(lead), created_at))
        conn.exec_driver_sql(_SQLITE_INSERT_LEADS, rows)
    # A merge writes only the columns it changes, and only for leads it changes
    # (a later call of a lead already called changes nothing): every column written
    # rewrites its index entries.
    updates: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
    by_key = dict(zip(keys, leads, strict=True))
    for key, before in stored.items():
        after = _merged(before, by_key[key])
        changed = tuple(name for name in _MERGED if getattr(after, name) != getattr(before, name))
        if changed:
            values = (*(getattr(after, name) for name in changed), ids[key])
            updates.setdefault(changed, []).append(values)
    for changed, rows in updates.items():
        columns = ", ".join(f"{name} = ?" for name in changed)
        conn.exec_driver_sql(f"UPDATE leads SET {columns} WHERE id = ?", rows)
    return ids


_INSERT_EVENTS = {
    "postgresql": f"""
        INSERT INTO lead_events (id, account_id, lead_id, idempotency_key, type, occurred_at,
                                 call_result, duration_seconds, detail, ingested_at)
        SELECT * FROM (
        SELECT nextval('lead_events_id_seq'::regclass), *, %s::timestamptz
        FROM unnest({
        arrays("bigint", "bigint", "text", "text", "timestamptz", "text", "integer", "text")
    }) OFFSET 0
        ) AS batch ORDER BY 2, 4
        ON CONFLICT (account_id, idempotency_key) DO NOTHING
        RETURNING account_id, idempotency_key
    """,
    "sqlite": """
        INSERT INTO lead_events (account_id, lead_id, idempotency_key, type, occurred_at,
                                 call_result, duration_seconds, detail, ingested_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (account_id, idempotency_key) DO NOTHING
    """,
}


_INSERT_NEW_EVENTS = {
    # Without RETURNING: the count of rows inserted says whether every key was new.
    "postgresql": _INSERT_EVENTS["postgresql"].split("RETURNING")[0],
    "sqlite": _INSERT_EVENTS["sqlite"],
}


def insert_new_events(session: Session, events: Sequence[EventRow], ingested_at: str) -> bool:
    """Insert the events, expected all new; False when the unique constraint skipped any.

    The caller then undoes the statement (a savepoint) and takes the path that
    looks up the events already stored first (`existing_events`, `insert_events`).
    """
    if not events:
        return True
    conn = _connection(session)
    if dialect_name(session) == "postgresql":
        columns = [packed(column) for column in zip(*events, strict=True)]
        sql = _INSERT_NEW_EVENTS["postgresql"]
        result = conn.exec_driver_sql(sql, (ingested_at, *columns))
    else:
        rows = [(*event, ingested_at) for event in events]
        result = conn.exec_driver_sql(_INSERT_NEW_EVENTS["sqlite"], rows)
    return bool(result.rowcount == len(events))


def insert_events(
    session: Session, events: Sequence[EventRow], ingested_at: str
) -> set[tuple[int, str]] | None:
    """Insert the events; a key already stored is skipped by the unique constraint.

    Returns the (account id, key) pairs that were *not* inserted because a
    concurrent transaction stored them first, or None when every row went in.
    """
    if not events:
        return None
    conn = _connection(session)
    if dialect_name(session) == "postgresql":
        columns = [packed(column) for column in zip(*events, strict=True)]
        inserted = set(
            conn.exec_driver_sql(_INSERT_EVENTS["postgresql"], (ingested_at, *columns)).all()
        )
        if len(inserted) == len(events):
            return None
        return {(e.account_id, e.idempotency_key) for e in events} - inserted
    result = conn.exec_driver_sql(
        _INSERT_EVENTS["sqlite"], [(*event, ingested_at) for event in events]
    )
    if result.rowcount == len(events):
        return None
    # SQLite runs one writer at a time (BEGIN IMMEDIATE) and the keys were checked in
    # the same transaction, so this means the caller's transaction is not a write one.
    raise RuntimeError("lead events changed during ingestion; the transaction must be retried")


def recompute_instants(
    session: Session,
    lead_ids: Iterable[int],
    received_type: str,
    call_types: Iterable[str],
    found_types: Iterable[str] = (),
) -> None:
    """Set received_at, first_called_at and first_found_at of these leads from their events."""
    ids = sorted(set(lead_ids))
    types = sorted(call_types)
    found = sorted(found_types)
    if not ids:
        return
    conn = _connection(session)
    if dialect_name(session) == "postgresql":
        # One statement, each list one packed parameter; ids in order (lock order).
        conn.exec_driver_sql(
            "UPDATE leads SET received_at = (SELECT min(e.occurred_at) FROM lead_events e"
            " WHERE e.lead_id = leads.id AND e.type = %s),"
            " first_called_at = (SELECT min(e.occurred_at) FROM lead_events e"
            " WHERE e.lead_id = leads.id AND e.type = ANY(%s::text[])),"
            " first_found_at = (SELECT min(e.occurred_at) FROM lead_events e"
            " WHERE e.lead_id = leads.id AND e.type = ANY(%s::text[]))"
            f" FROM unnest({arrays('bigint')}) AS k(id) WHERE leads.id = k.id",
            (received_type, types, found, packed(ids)),
        )
        return
    marker = "?"
    for chunk in _chunks(ids, IN_CHUNK):
        sql = (
            "UPDATE leads SET received_at = (SELECT min(e.occurred_at) FROM lead_events e"
            f" WHERE e.lead_id = leads.id AND e.type = {marker}),"
            " first_called_at = (SELECT min(e.occurred_at) FROM lead_events e"
            f" WHERE e.lead_id = leads.id AND e.type IN ({', '.join([marker] * len(types))})),"
            " first_found_at = (SELECT min(e.occurred_at) FROM lead_events e"
            f" WHERE e.lead_id = leads.id AND e.type IN ({', '.join([marker] * len(found))}))"
            f" WHERE id IN ({', '.join([marker] * len(chunk))})"
        )
        conn.exec_driver_sql(sql, (received_type, *types, *found, *chunk))
