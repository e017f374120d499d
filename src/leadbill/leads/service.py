"""Lead-event ingestion: validate rows, store each event once, keep leads up to date.

Rows arrive as text (a CSV file read with DictReader, later a REST batch). Each
row is checked on its own; a bad row is rejected with its line, field and
reason, and the others are kept (or, with `all_or_nothing`, none is). The
idempotency key is unique per account in the database: a re-sent event is
reported as a duplicate and changes nothing, whatever the order or the
concurrency of the senders. A key sent again with other content (another
instant, type, lead, call result, duration or detail) is a conflict: it changes
nothing either, but is reported apart, with the fields that differ, so that a
correction sent under an old key is not mistaken for a retry.

A lead's `first_called_at` is the earliest of its events that the `called`
counting policy selects (core.billability), and `first_found_at` the earliest
the `contact_found` policy selects, so usage is a plain GROUP BY; its
attributes keep the first non-empty value they were given. Its phone and
e-mail are also stored normalised (core.contacts, in the account's phone
region), and once the chunk is stored the core's automatic reasons (R12, R18)
are decided for its leads and stored with them (leads.policies).

Everything is set-based: per chunk of rows, one query resolves the accounts,
one the seats, one (PostgreSQL) or three (SQLite) write the leads and one
inserts the events, inside a savepoint; deciding the automatic reasons takes a
few more (leads.policies.evaluate_leads), the usage thresholds one or two.
When the unique key skipped an event (a re-sent one), the savepoint is undone
and the chunk is stored again after one query has found the keys already
stored, so that duplicates change nothing and are reported.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from operator import attrgetter

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadbill.accounts.models import Account
from leadbill.context.repository import settings_of
from leadbill.core.billability import EventType, counting_events
from leadbill.core.contacts import normalise_email, normalise_phone
from leadbill.core.errors import RuleViolation
from leadbill.core.periods import require_utc
from leadbill.core.plans import CountingPolicy
from leadbill.errors import from_rule
from leadbill.leads import repository
from leadbill.leads.activity import record_activity
from leadbill.leads.csv_format import ParsedRow, parse_rows
from leadbill.leads.policies import evaluate_leads
from leadbill.leads.repository import EventRow, LeadKey, LeadRow
from leadbill.settings import Settings
from leadbill.subscriptions.pausing import paused_accounts
from leadbill.usage.service import record_threshold_crossings

# Rows per set-based step: big enough to amortise each statement, small enough
# to keep one chunk's parameters and memory modest.
CHUNK_ROWS = 10_000

# The event types whose earliest occurrence sets first_called_at: exactly what the
# core's `called` policy counts, never a list of our own.
CALL_TYPES: frozenset[str] = frozenset(str(t) for t in counting_events(CountingPolicy.CALLED))
RECEIVED = str(EventType.RECEIVED)
# The same for first_found_at and the `contact_found` policy.
FOUND_TYPES: frozenset[str] = frozenset(
    str(t) for t in counting_events(CountingPolicy.CONTACT_FOUND)
)


class RowStatus(enum.StrEnum):
    """What happened to one row."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    CONFLICT = "conflict"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class RowOutcome:
    """The outcome of one row that was not simply accepted."""

    line: int
    idempotency_key: str | None
    status: RowStatus
    field: str | None
    reason: str
    # A conflict: the fields whose content differs from the event kept.
    differing: tuple[str, ...] = ()

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
    conflict: int = 0
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

    @property
    def conflicts(self) -> list[RowOutcome]:
        """The rows whose key was already used for other content, by line."""
        return [o for o in self.outcomes if o.status is RowStatus.CONFLICT]


# What an event records of itself, compared when its key comes again (ParsedRow
# fields, in repository.EventContent's order). Instants are compared as stored (UTC,
# to the microsecond), so the same instant written in another offset is the same. The
# lead's details (seat, name, phone, ...) are not the event's: they only fill what the
# lead lacks.
_CONTENT = ("lead_id", "event_type", "occurred_at", "call_result", "duration_seconds", "detail")
_content: Callable[[ParsedRow], repository.EventContent] = attrgetter(*_CONTENT)


def _repeat(p: ParsedRow, kept: repository.EventContent, where: str) -> RowOutcome:
    """A row whose key is already taken: a duplicate, or a conflict naming what differs."""
    differing = tuple(
        name for name, new, old in zip(_CONTENT, _content(p), kept, strict=True) if new != old
    )
    key = p.idempotency_key
    if not differing:
        return RowOutcome(p.line, key, RowStatus.DUPLICATE, "idempotency_key", where)
    names = ", ".join(differing)
    reason = f"{where} with a different {names}: this row is not stored"
    return RowOutcome(p.line, key, RowStatus.CONFLICT, "idempotency_key", reason, differing)


def ingest_events(
    session: Session,
    rows: Sequence[Mapping[str, str | None]],
    *,
    as_of: datetime,
    all_or_nothing: bool = False,
    first_line: int = 2,
    lines: Sequence[int] | None = None,
    backdating_days: int | None = None,
) -> IngestResult:
    """Validate and store lead events; duplicates change nothing, bad rows are reported.

    `rows` are mappings of column name to text (see docs/csv-format.md); the row
    at index i is reported as line `first_line + i` (2 for a CSV file whose
    line 1 is the header), or as `lines[i]` when given (a file's own line
    numbers, which skip the records refused before). `as_of` is the ingestion instant, stored on new
    events and leads. With `all_or_nothing`, one rejected row means nothing is
    stored. The caller owns the transaction.

    An `occurred_at` must lie in the window of `EventWindow`: from the account's
    creation less `backdating_days` (default: LEADBILL_EVENT_BACKDATING_DAYS) to a
    day after `as_of`. A mistyped year would otherwise move a lead's counting
    instant, and the lead, into another period.
    """
    try:
        as_of = require_utc(as_of, "as_of")
    except RuleViolation as error:
        raise from_rule(error) from None
    if backdating_days is None:
        backdating_days = Settings.from_env().event_backdating_days
    window = EventWindow(as_of, timedelta(days=backdating_days))
    result = IngestResult()
    sqlite = repository.dialect_name(session) == "sqlite"
    parsed_chunks: list[list[ParsedRow]] = []
    for start in range(0, len(rows), CHUNK_ROWS):
        parsed = _check_chunk(session, rows, start, first_line, lines, sqlite, result, window)
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
    lines: Sequence[int] | None,
    sqlite: bool,
    result: IngestResult,
    window: EventWindow,
) -> list[ParsedRow]:
    """Parse one chunk and resolve its accounts and seats; record its rejections."""
    end = start + CHUNK_ROWS
    numbers = None if lines is None else lines[start:end]
    parsed, rejections = parse_rows(rows[start:end], first_line + start, sqlite, numbers)
    outcomes = result.outcomes
    before = len(outcomes)
    for line, key, field_name, reason in rejections:
        outcomes.append(RowOutcome(line, key, RowStatus.REJECTED, field_name, reason))
    accounts = repository.account_ids(session, {p.account for p in parsed})
    seated = {accounts[p.account] for p in parsed if p.seat is not None and p.account in accounts}
    seats = repository.seat_ids(session, seated) if seated else {}
    earliest = window.earliest(session, accounts.values())
    paused = paused_accounts(session, accounts.values())
    latest = window.latest
    known: list[ParsedRow] = []
    keep = known.append
    account_id_of = accounts.get
    for p in parsed:
        account_id = account_id_of(p.account)
        if account_id is None:
            reason = f"unknown account {p.account!r}"
            outcomes.append(
                RowOutcome(p.line, p.idempotency_key, RowStatus.REJECTED, "account", reason)
            )
            continue
        if paused and account_id in paused:
            reason = paused[account_id]
            outcomes.append(
                RowOutcome(p.line, p.idempotency_key, RowStatus.REJECTED, "account", reason)
            )
            continue
        # The stored text (see repository.stored_instant) sorts as the instant does.
        occurred = p.occurred_at[:26]
        if occurred < earliest[account_id][0] or occurred > latest[0]:
            bound = earliest[account_id] if occurred < latest[0] else latest
            reason = f"{_shown(occurred)} is {bound[1]}"
            outcomes.append(
                RowOutcome(p.line, p.idempotency_key, RowStatus.REJECTED, "occurred_at", reason)
            )
            continue
        if p.seat is not None:
            seat_id = seats.get((account_id, p.seat))
            if seat_id is None:
                reason = f"unknown seat {p.seat!r} on account {p.account!r}"
                outcomes.append(
                    RowOutcome(p.line, p.idempotency_key, RowStatus.REJECTED, "seat", reason)
                )
                continue
            p.seat_id = seat_id
        # Ids beside the codes, so storing needs no further lookup.
        p.account_id = account_id
        keep(p)
    result.rejected += len(outcomes) - before
    return known


def _stored_text(instant: datetime) -> str:
    return instant.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _shown(stored: str) -> str:
    return stored[:19].replace(" ", "T") + "Z"


class EventWindow:
    """The instants an event may have: its account's creation less the back-dating
    allowance, to a day after the ingestion's `as_of`; as (stored text, reason)."""

    def __init__(self, as_of: datetime, backdating: timedelta) -> None:
        self.backdating = backdating
        ahead = as_of + timedelta(days=1)
        self.latest = (
            _stored_text(ahead),
            f"more than a day after the events were received ({as_of:%Y-%m-%d %H:%M} UTC)",
        )

    def earliest(self, session: Session, account_ids: Iterable[int]) -> dict[int, tuple[str, str]]:
        """Per account id, the earliest instant its events may have."""
        ids = sorted(set(account_ids))
        if not ids:
            return {}
        days = self.backdating.days
        found: dict[int, tuple[str, str]] = {}
        for account_id, created_at in session.execute(
            select(Account.id, Account.created_at).where(Account.id.in_(ids))
        ):
            try:
                start = created_at - self.backdating
            except OverflowError:
                start = datetime.min.replace(tzinfo=UTC)
            found[account_id] = (
                _stored_text(start),
                f"before {_shown(_stored_text(start))}: the account was created on "
                f"{created_at:%Y-%m-%d} and events may be back-dated {days} days "
                "(LEADBILL_EVENT_BACKDATING_DAYS)",
            )
        return found


def _store_chunk(
    session: Session, parsed: list[ParsedRow], as_of: datetime, result: IngestResult
) -> None:
    """Store one checked chunk: skip duplicates, upsert its leads, insert its events."""
    if not parsed:
        return
    dialect = repository.dialect_name(session)
    # The same key twice in the batch: the first row is the event, later ones repeat it.
    first_seen: dict[tuple[int, str], ParsedRow] = {}
    fresh: list[ParsedRow] = []
    outcomes = result.outcomes
    before = len(outcomes)
    for p in parsed:
        account_key = (p.account_id, p.idempotency_key)
        seen = first_seen.setdefault(account_key, p)
        if seen is not p:
            outcomes.append(_repeat(p, _content(seen), f"repeats line {seen.line}"))
        else:
            fresh.append(p)
    stamp = repository.stored_instant(as_of, dialect)
    # Most chunks carry only keys never seen: they are stored at once, inside a
    # savepoint. Only when the unique constraint skipped some is that undone, and
    # the keys already stored are looked up first (then reported as duplicates).
    conn = session.connection()
    conn.exec_driver_sql("SAVEPOINT ingest_chunk")
    leads, lead_ids, events = _write_leads(session, fresh, stamp)
    if repository.insert_new_events(session, events, stamp):
        conn.exec_driver_sql("RELEASE SAVEPOINT ingest_chunk")
        lost: set[tuple[int, str]] | None = None
    else:
        conn.exec_driver_sql("ROLLBACK TO SAVEPOINT ingest_chunk")
        conn.exec_driver_sql("RELEASE SAVEPOINT ingest_chunk")
        fresh = _not_stored(session, fresh, list(first_seen), result)
        leads, lead_ids, events = _write_leads(session, fresh, stamp)
        lost = repository.insert_events(session, events, stamp)
    affected: set[int] = set()
    if lost:
        # A concurrent sender stored some of these keys first: they are duplicates (or
        # conflicts), and the instants of their leads are taken again from the stored
        # events.
        stored = repository.existing_events(session, sorted(lost))
        for p in fresh:
            key = (p.account_id, p.idempotency_key)
            if key in lost:
                outcomes.append(_repeat(p, stored[key], "already received"))
                affected.add(lead_ids[(p.account_id, p.lead_id)])
        repository.recompute_instants(session, affected, RECEIVED, CALL_TYPES, FOUND_TYPES)
    record_activity(session, fresh, lead_ids, lost)  # the call report's index (leads.activity)
    # Only a lead whose decisive facts this chunk may have changed can change verdict
    # (a call event alone changes none): the others keep the verdict they have.
    decisive = [lead_ids[key] for key, lead in leads.items() if _may_change_verdict(lead)]
    evaluate_leads(session, [*decisive, *affected])
    result.accepted += len(fresh) - (len(lost) if lost else 0)
    conflicts = sum(1 for o in outcomes[before:] if o.status is RowStatus.CONFLICT)
    result.conflict += conflicts
    result.duplicate += len(parsed) - len(fresh) + (len(lost) if lost else 0) - conflicts
    record_threshold_crossings(session, {p.account_id for p in fresh}, as_of)  # usage thresholds


def _not_stored(
    session: Session,
    fresh: list[ParsedRow],
    keys: list[tuple[int, str]],
    result: IngestResult,
) -> list[ParsedRow]:
    """The rows whose key is not stored yet; the others are duplicates or conflicts.

    The same lookup that finds the keys already stored reads what their events
    record, so telling a retry from a conflict costs no further query.
    """
    stored = repository.existing_events(session, keys)
    if not stored:
        return fresh
    candidates = []
    for p in fresh:
        kept = stored.get((p.account_id, p.idempotency_key))
        if kept is not None:
            result.outcomes.append(_repeat(p, kept, "already received"))
        else:
            candidates.append(p)
    return candidates


def _write_leads(
    session: Session, fresh: list[ParsedRow], stamp: str
) -> tuple[dict[LeadKey, LeadRow], dict[LeadKey, int], list[EventRow]]:
    """Create or merge the leads of these rows; their aggregates, ids and event rows."""
    leads = _lead_aggregates(fresh)
    _normalise_contacts(session, leads)
    lead_ids = repository.upsert_leads(session, list(leads.values()), stamp)
    events = [
        EventRow(
            p.account_id,
            lead_ids[(p.account_id, p.lead_id)],
            p.idempotency_key,
            p.event_type,
            p.occurred_at,
            p.call_result,
            p.duration_seconds,
            p.detail,
        )
        for p in fresh
    ]
    return leads, lead_ids, events


def _lead_aggregates(fresh: list[ParsedRow]) -> dict[LeadKey, LeadRow]:
    """One row per lead: first non-empty seat and attributes, earliest instants.

    phone_e164 and email_key are filled by `_normalise_contacts`.
    """
    leads: dict[LeadKey, LeadRow] = {}
    for p in fresh:
        key = (p.account_id, p.lead_id)
        lead = leads.get(key)
        event_type, at = p.event_type, p.occurred_at
        if lead is None:
            leads[key] = LeadRow(
                p.account_id,
                p.lead_id,
                seat_id=p.seat_id,
                name=p.name,
                phone=p.phone,
                email=p.email,
                postal_code=p.postal_code,
                source=p.source,
                received_at=at if event_type == RECEIVED else None,
                first_called_at=at if event_type in CALL_TYPES else None,
                category=p.category,
                campaign=p.campaign,
                company=p.company,
                company_domain=p.company_domain,
                first_found_at=at if event_type in FOUND_TYPES else None,
            )
            continue
        if lead.seat_id is None:
            lead.seat_id = p.seat_id
        if lead.name is None:
            lead.name = p.name
        if lead.phone is None:
            lead.phone = p.phone
        if lead.email is None:
            lead.email = p.email
        if lead.postal_code is None:
            lead.postal_code = p.postal_code
        if lead.source is None:
            lead.source = p.source
        if lead.category is None:
            lead.category = p.category
        if lead.campaign is None:
            lead.campaign = p.campaign
        if lead.company is None:
            lead.company = p.company
        if lead.company_domain is None:
            lead.company_domain = p.company_domain
        if event_type == RECEIVED:
            if lead.received_at is None or at < lead.received_at:
                lead.received_at = at
        elif event_type in CALL_TYPES:
            if lead.first_called_at is None or at < lead.first_called_at:
                lead.first_called_at = at
        elif event_type in FOUND_TYPES and (
            lead.first_found_at is None or at < lead.first_found_at
        ):
            lead.first_found_at = at
    return leads


def _may_change_verdict(lead: LeadRow) -> bool:
    """Whether this chunk gives the lead a fact its automatic reason depends on.

    What core.billability.automatic_exclusion reads: phone, e-mail, postal code,
    source, received instant, campaign, company and company domain.
    """
    return (
        lead.phone is not None
        or lead.email is not None
        or lead.postal_code is not None
        or lead.source is not None
        or lead.received_at is not None
        or lead.campaign is not None
        or lead.company is not None
        or lead.company_domain is not None
    )


def _normalise_contacts(session: Session, leads: dict[LeadKey, LeadRow]) -> None:
    """Fill each lead's phone_e164 and email_key (core.contacts), in its account's region.

    Both normalisations keep a bounded cache across chunks (core.contacts), so a
    number or address seen before costs a dictionary lookup.
    """
    regions = {
        account_id: region
        for account_id, (region, _days) in settings_of(session, {k[0] for k in leads}).items()
    }
    for (account_id, _external_id), lead in leads.items():
        if lead.phone is not None:
            lead.phone_e164 = normalise_phone(lead.phone, regions[account_id])
        if lead.email is not None:
            lead.email_key = normalise_email(lead.email)
