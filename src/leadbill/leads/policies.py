"""Lead policies at rest: the core's automatic reasons stored on leads, set-based.

`evaluate_leads` applies core.billability.automatic_exclusion to a set of
leads (one ingestion chunk, or an account's open leads after its context
changed) and stores the verdict in leads.exclusion_reason / exclusion_lead_id,
so that the billing run's usage is a plain GROUP BY. A handful of statements
per call, whatever the number of leads:

1. the leads' own facts;
2. the account's other leads sharing a normalised phone or e-mail (joins on
   the (account_id, phone_e164) and (account_id, email_key) indexes), searched
   only for the values that one probe per value finds on another lead: later
   ones may become (or stop being) duplicates, so they are evaluated too; for
   each lead and key, the most recent earlier lead is what the core needs;
3. the accounts' context (context.repository.account_contexts);
4. one bulk update of the leads whose verdict changed.

`lead_contexts` gives the core's full LeadContext of any leads (with the staff
decision), so that reports and tests call the same `decide`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, select, text
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from leadbill.context.repository import account_contexts
from leadbill.core.billability import (
    AccountContext,
    LeadContext,
    LeadFacts,
    Reason,
    automatic_exclusion,
)
from leadbill.core.contacts import normalise_company, normalise_domain
from leadbill.core.plans import CountingPolicy
from leadbill.leads.models import Lead
from leadbill.leads.repository import arrays, dialect_name, packed, stored_instant
from leadbill.subscriptions.models import Subscription

_COLUMNS = (
    "l.id, l.account_id, l.received_at, l.source, l.postal_code, l.campaign, l.phone_e164,"
    " l.email_key, l.company, l.company_domain, l.exclusion_reason, l.exclusion_lead_id,"
    " l.decision_reason"
)


@dataclass(frozen=True, slots=True)
class _Stored:
    facts: LeadFacts
    account_id: int
    exclusion_reason: str | None
    exclusion_lead_id: int | None
    decision_reason: str | None
    # received_at as the text the statements compare with: SQLite's stored text as
    # the driver returned it, PostgreSQL's instant written back as text.
    received_stored: str | None = None


def _instant(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value.astimezone(UTC) if value is not None else None
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)


def _stored(row: Sequence[Any]) -> _Stored:
    # Called for every lead of an ingestion chunk: the usual None and text values
    # take no function call.
    received = row[2]
    if received is None:
        at = None
    elif isinstance(received, str):
        at = datetime.fromisoformat(received).replace(tzinfo=UTC)
    else:
        at = _instant(received)
    company, domain = row[8], row[9]
    facts = LeadFacts(
        int(row[0]),
        at,
        row[3],
        row[4],
        row[5],
        row[6],
        row[7],
        None if company is None else normalise_company(company),
        None if domain is None else normalise_domain(domain),
    )
    if received is not None and not isinstance(received, str):
        received = stored_instant(received, "postgresql")
    return _Stored(facts, int(row[1]), row[10], row[11], row[12], received)


def _by_ids(session: Session, ids: Sequence[int]) -> dict[int, _Stored]:
    if not ids:
        return {}
    conn = session.connection()
    if dialect_name(session) == "postgresql":
        sql = f"SELECT {_COLUMNS} FROM leads l WHERE l.id = ANY({arrays('bigint')})"
        rows = conn.exec_driver_sql(sql, (packed(ids),))
    else:
        sql = f"SELECT {_COLUMNS} FROM json_each(?) AS k JOIN leads l ON l.id = k.value"
        rows = conn.exec_driver_sql(sql, (json.dumps(list(ids)),))
    return {stored.facts.lead_id: stored for stored in map(_stored, rows.all())}


def _sharing(
    session: Session, keys: Sequence[tuple[int, int, str, str]], column: str
) -> dict[int, _Stored]:
    """Per (lead id, account, value, instant): the account's leads with that `column`
    value received after the lead (at the same instant: with a greater id)."""
    if not keys:
        return {}
    dialect = dialect_name(session)
    conn = session.connection()
    if dialect == "postgresql":
        sql = (
            f"SELECT DISTINCT {_COLUMNS} FROM unnest("
            f"{arrays('bigint', 'bigint', 'text', 'timestamptz')}) AS k(id, a, v, r)"
            f" JOIN leads l ON l.account_id = k.a AND l.{column} = k.v"
            " AND l.received_at >= k.r AND NOT (l.received_at = k.r AND l.id <= k.id)"
        )
        params: tuple[Any, ...] = tuple(
            packed(values)
            for values in (
                [k[0] for k in keys],
                [k[1] for k in keys],
                [k[2] for k in keys],
                [k[3] for k in keys],
            )
        )
    else:
        sql = (
            f"SELECT DISTINCT {_COLUMNS} FROM ("
            "SELECT json_extract(value, '$[0]') AS id, json_extract(value, '$[1]') AS a,"
            " json_extract(value, '$[2]') AS v, json_extract(value, '$[3]') AS r"
            " FROM json_each(?)) AS k"
            f" JOIN leads l ON l.account_id = k.a AND l.{column} = k.v"
            " AND l.received_at >= k.r AND NOT (l.received_at = k.r AND l.id <= k.id)"
        )
        params = (json.dumps(keys),)
    return {s.facts.lead_id: s for s in map(_stored, conn.exec_driver_sql(sql, params).all())}


_REPEATED = """
    SELECT k.a, k.v FROM {keys}
    WHERE (SELECT count(*) FROM (
        SELECT 1 FROM leads l WHERE l.account_id = k.a AND l.{column} = k.v LIMIT 2
    ) AS two) = 2
"""


def _repeated(
    session: Session, keys: list[tuple[int, int, str, str]], column: str
) -> list[tuple[int, int, str, str]]:
    """The keys (lead id, account, value, instant) that another lead of the account shares.

    A lead whose phone (or e-mail) no other lead of its account has can neither
    repeat an earlier lead nor be repeated by a later one on it: one probe of the
    (account_id, column) index per distinct value spares the two searches.
    """
    if not keys:
        return keys
    values = sorted({(k[1], k[2]) for k in keys})
    if dialect_name(session) == "postgresql":
        source = f"unnest({arrays('bigint', 'text')}) AS k(a, v)"
        params: tuple[Any, ...] = (packed(v[0] for v in values), packed(v[1] for v in values))
    else:
        source = (
            "(SELECT json_extract(value, '$[0]') AS a, json_extract(value, '$[1]') AS v"
            " FROM json_each(?)) AS k"
        )
        params = (json.dumps(values),)
    sql = _REPEATED.format(keys=source, column=column)
    shared = set(map(tuple, session.connection().exec_driver_sql(sql, params).all()))
    return [k for k in keys if (k[1], k[2]) in shared]


_LATEST_EARLIER = """
    SELECT {columns} FROM {keys}
    JOIN leads l ON l.id = (
        SELECT e.id FROM leads e
        WHERE e.account_id = k.a AND e.{column} = k.v
          AND e.received_at <= k.r AND NOT (e.received_at = k.r AND e.id >= k.id)
        ORDER BY e.received_at DESC, e.id DESC
        LIMIT 1
    )
"""


def _latest_earlier(
    session: Session, keys: Sequence[tuple[int, int, str, str]], column: str
) -> dict[int, _Stored]:
    """Per (lead, key): the most recent earlier lead of the account with that key.

    The core picks the most recent earlier lead inside the window, so the most
    recent one per key is all it needs (the test of equivalence gives it all).
    """
    if not keys:
        return {}
    dialect = dialect_name(session)
    if dialect == "postgresql":
        source = f"unnest({arrays('bigint', 'bigint', 'text', 'timestamptz')}) AS k(id, a, v, r)"
        params: tuple[Any, ...] = tuple(
            packed(values)
            for values in (
                [k[0] for k in keys],
                [k[1] for k in keys],
                [k[2] for k in keys],
                [k[3] for k in keys],
            )
        )
    else:
        source = (
            "(SELECT json_extract(value, '$[0]') AS id, json_extract(value, '$[1]') AS a,"
            " json_extract(value, '$[2]') AS v, json_extract(value, '$[3]') AS r"
            " FROM json_each(?)) AS k"
        )
        params = (json.dumps(keys),)
    sql = _LATEST_EARLIER.format(columns=_COLUMNS, keys=source, column=column)
    rows = session.connection().exec_driver_sql(sql, params).all()
    return {s.facts.lead_id: s for s in map(_stored, rows)}


Keys = list[tuple[int, int, str, str]]


def _keys(leads: Iterable[_Stored]) -> tuple[Keys, Keys]:
    """(lead id, account, value, received text) of each lead's phone, and of its e-mail."""
    phones: Keys = []
    emails: Keys = []
    for lead in leads:
        at = lead.received_stored
        if at is None:
            continue
        if lead.facts.phone:
            phones.append((lead.facts.lead_id, lead.account_id, lead.facts.phone, at))
        if lead.facts.email:
            emails.append((lead.facts.lead_id, lead.account_id, lead.facts.email, at))
    return phones, emails


def _earlier(
    session: Session, leads: Iterable[_Stored], keys: tuple[Keys, Keys] | None = None
) -> dict[int, _Stored]:
    """For each lead and each of its keys, the most recent earlier lead sharing it.

    `keys`: the leads' keys already gathered (`_keys`), or only those worth searching.
    """
    phones, emails = _keys(leads) if keys is None else keys
    found = _latest_earlier(session, phones, "phone_e164")
    found.update(_latest_earlier(session, emails, "email_key"))
    return found


def _later(session: Session, keys: tuple[Keys, Keys]) -> dict[int, _Stored]:
    """Leads sharing a phone or e-mail received at or after each lead (any distance).

    Any distance, not just the window: a lead whose received instant moved
    earlier may leave a later one that repeated it outside the window.
    """
    phones, emails = keys
    found = _sharing(session, phones, "phone_e164")
    found.update(_sharing(session, emails, "email_key"))
    return found


def _contexts_of(
    targets: Iterable[_Stored], pool: dict[int, _Stored], contexts: dict[int, AccountContext]
) -> dict[int, LeadContext]:
    # The pool's leads by (account, phone) and (account, e-mail): a lead's earlier
    # leads are those sharing one of its keys, found without scanning the account.
    by_phone: dict[tuple[int, str], list[LeadFacts]] = {}
    by_email: dict[tuple[int, str], list[LeadFacts]] = {}
    for other in pool.values():
        facts = other.facts
        if facts.phone is not None:
            by_phone.setdefault((other.account_id, facts.phone), []).append(facts)
        if facts.email is not None:
            by_email.setdefault((other.account_id, facts.email), []).append(facts)
    found = {}
    for lead in targets:
        facts = lead.facts
        sharing: dict[int, LeadFacts] = {}
        if facts.phone is not None:
            for same in by_phone.get((lead.account_id, facts.phone), ()):
                sharing[same.lead_id] = same
        if facts.email is not None:
            for same in by_email.get((lead.account_id, facts.email), ()):
                sharing[same.lead_id] = same
        sharing.pop(facts.lead_id, None)
        staff = Reason(lead.decision_reason) if lead.decision_reason else None
        found[facts.lead_id] = LeadContext(
            facts, contexts[lead.account_id], tuple(sharing.values()), staff
        )
    return found


def evaluate_leads(session: Session, lead_ids: Iterable[int]) -> int:
    """Store the core's automatic reason of these leads (and of leads repeating them).

    Returns the number of leads whose stored verdict changed.
    """
    chunk = _by_ids(session, sorted(set(lead_ids)))
    if not chunk:
        return 0
    contexts = account_contexts(session, {lead.account_id for lead in chunk.values()})
    # Only a phone or e-mail another lead of the account shares is searched further.
    phones, emails = _keys(chunk.values())
    shared = (_repeated(session, phones, "phone_e164"), _repeated(session, emails, "email_key"))
    # Later leads sharing a key may now repeat one of these: evaluate them as well.
    targets = dict(chunk)
    later = [lead for lead_id, lead in _later(session, shared).items() if lead_id not in chunk]
    for lead in later:
        targets[lead.facts.lead_id] = lead
    # Their own other keys are searched whole.
    more_phones, more_emails = _keys(later)
    pool = dict(targets)
    pool.update(_earlier(session, (), (shared[0] + more_phones, shared[1] + more_emails)))
    changed: list[tuple[str | None, int | None, int]] = []
    for lead_id, context in _contexts_of(targets.values(), pool, contexts).items():
        exclusion = automatic_exclusion(context)
        reason = exclusion.reason.value if exclusion else None
        earlier = exclusion.earlier_lead_id if exclusion else None
        stored = targets[lead_id]
        if (reason, earlier) != (stored.exclusion_reason, stored.exclusion_lead_id):
            changed.append((reason, earlier, lead_id))
    _store(session, changed)
    return len(changed)


def _store(session: Session, changed: list[tuple[str | None, int | None, int]]) -> None:
    if not changed:
        return
    conn = session.connection()
    if dialect_name(session) == "postgresql":
        conn.exec_driver_sql(
            "UPDATE leads SET exclusion_reason = u.r, exclusion_lead_id = u.e"
            f" FROM unnest({arrays('text', 'bigint', 'bigint')}) AS u(r, e, id)"
            " WHERE leads.id = u.id",
            tuple(packed(column) for column in zip(*changed, strict=True)),
        )
        return
    conn.exec_driver_sql(
        "UPDATE leads SET exclusion_reason = ?, exclusion_lead_id = ? WHERE id = ?", changed
    )


def open_since(session: Session, account_id: int) -> datetime | None:
    """Start of the account's earliest period not yet invoiced; None: no subscription.

    An active subscription's current period is not invoiced yet (its usage is
    billed in arrears at its end); an ended subscription's periods all are.
    """
    rows = session.execute(
        select(
            Subscription.status, Subscription.current_period_start, Subscription.current_period_end
        ).where(Subscription.account_id == account_id)
    ).all()
    active = [start for status, start, _end in rows if status == "active"]
    if active:
        return min(active)
    ended = [end for status, _start, end in rows if status != "active"]
    return max(ended) if ended else None


def reevaluate_open_leads(session: Session, account_id: int, since: datetime | None = None) -> int:
    """Re-apply the account's context to its leads received since `since`.

    By default `since` is the start of the account's current (not yet invoiced)
    period: invoiced periods never change. Returns the number of changed leads.
    """
    since = since if since is not None else open_since(session, account_id)
    dialect = dialect_name(session)
    marker = "%s" if dialect == "postgresql" else "?"
    sql = f"SELECT id FROM leads WHERE account_id = {marker}"
    params: tuple[Any, ...] = (account_id,)
    if since is not None:
        at = f"{marker}::timestamptz" if dialect == "postgresql" else marker
        sql += (
            f" AND (received_at >= {at} OR first_found_at >= {at}"
            " OR (received_at IS NULL AND first_found_at IS NULL))"
        )
        params += (stored_instant(since, dialect), stored_instant(since, dialect))
    ids = [row[0] for row in session.connection().exec_driver_sql(sql, params)]
    changed = 0
    for offset in range(0, len(ids), 10_000):
        changed += evaluate_leads(session, ids[offset : offset + 10_000])
    return changed


def lead_contexts(session: Session, lead_ids: Iterable[int]) -> dict[int, LeadContext]:
    """The core's LeadContext of each lead: facts, account context, earlier leads, decision."""
    leads = _by_ids(session, sorted(set(lead_ids)))
    contexts = account_contexts(session, {lead.account_id for lead in leads.values()})
    pool = dict(leads)
    pool.update(_earlier(session, leads.values()))
    return _contexts_of(leads.values(), pool, contexts)


# The stored form of core.billability.decide for each counting policy: the leads column
# holding the instant at which a lead counts, and the SQL condition on the stored
# exclusions that keeps a lead (core.billability.reason_applies: every reason under pay
# per lead, only the block list under found contacts, none when called; staff decisions
# under both per-lead policies). `counted_in` and the billing run's set-based queries
# (billing.repository) are both built from this one table.
STORED_COUNTING: dict[CountingPolicy, tuple[str, str]] = {
    CountingPolicy.CALLED: ("first_called_at", "leads.decision_reason IS NULL"),
    CountingPolicy.RECEIVED_UNLESS_EXCLUDED: (
        "received_at",
        "leads.exclusion_reason IS NULL AND leads.decision_reason IS NULL",
    ),
    CountingPolicy.CONTACT_FOUND: (
        "first_found_at",
        "(leads.exclusion_reason IS NULL"
        f" OR leads.exclusion_reason <> '{Reason.BLOCK_LIST.value}')"
        " AND leads.decision_reason IS NULL",
    ),
}


def counted_in(policy: CountingPolicy, start: datetime, end: datetime) -> ColumnElement[bool]:
    """The stored form of core.billability.decide: leads counted in `[start, end)`.

    The counted instant column of the policy, minus the stored exclusions that
    apply to it (STORED_COUNTING, which the billing run's queries use too).
    """
    entry = STORED_COUNTING.get(policy)
    if entry is None:
        return Lead.id.is_(None)  # no counting policy: nothing counts
    column, kept = entry
    instant = Lead.__table__.c[column]
    return and_(instant >= start, instant < end, text(kept))
