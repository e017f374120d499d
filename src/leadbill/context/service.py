"""Account context use cases: campaigns and pauses, service area, customers, block list.

Every change re-applies the context to the account's leads of periods not yet
invoiced (`leads.policies.reevaluate_open_leads`): a pause, a service area or a
customer added today changes what this open period charges, as a billing user
expects; invoiced periods never change (a correction there is a credit note).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from leadbill.accounts.service import get_account
from leadbill.context.models import (
    BlockListEntry,
    Campaign,
    CampaignPause,
    CustomerContact,
    LeadPolicySettings,
    ServiceAreaCode,
)
from leadbill.core.billability import AccountContext, PauseWindow, normalise_postal_code
from leadbill.core.contacts import (
    DEFAULT_REGION,
    normalise_company,
    normalise_domain,
    normalise_email,
    normalise_phone,
)
from leadbill.errors import Conflict, InvalidInput, NotFound
from leadbill.limits import MAX_DUPLICATE_WINDOW_DAYS, check_count

DEFAULT_DUPLICATE_WINDOW_DAYS = 30
BLOCK_KINDS = ("domain", "company", "email")


def _rows(session: Session, sql: str, account_ids: list[int]) -> list[Any]:
    """Run `sql` (its `{accounts}` a filter on account_id) for these accounts, one statement.

    The ids travel as one parameter (a JSON array on SQLite, an array on
    PostgreSQL): an ingestion chunk names thousands of accounts, and as many
    bound parameters cost more than the query.
    """
    if session.get_bind().dialect.name == "postgresql":
        where = "account_id = ANY(%s::bigint[])"
        param: Any = "{" + ",".join(str(i) for i in account_ids) + "}"
    else:
        where = "account_id IN (SELECT value FROM json_each(?))"
        param = json.dumps(account_ids)
    return list(session.connection().exec_driver_sql(sql.format(accounts=where), (param,)))


def _instant(value: Any) -> Any:
    if value is None or isinstance(value, datetime):
        return value.astimezone(UTC) if value is not None else None
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)


def settings_of(session: Session, account_ids: Iterable[int]) -> dict[int, tuple[str, int]]:
    """(phone region, duplicate window days) per account; defaults when not set."""
    ids = sorted(set(account_ids))
    found = {i: (DEFAULT_REGION, DEFAULT_DUPLICATE_WINDOW_DAYS) for i in ids}
    if ids:
        sql = (
            "SELECT account_id, phone_region, duplicate_window_days FROM lead_policy_settings"
            " WHERE {accounts}"
        )
        for account_id, region, days in _rows(session, sql, ids):
            found[account_id] = (region, days)
    return found


def account_contexts(session: Session, account_ids: Iterable[int]) -> dict[int, AccountContext]:
    """The core's account context of each account: one query per kind of context.

    Most accounts of an ingestion chunk have no context at all: they share one
    context per duplicate window instead of building thousands of empty ones.
    """
    ids = sorted(set(account_ids))
    if not ids:
        return {}
    pauses: dict[int, list[PauseWindow]] = {}
    sql = (
        "SELECT p.account_id, c.code, p.starts_at, p.ends_at FROM campaign_pauses p"
        " JOIN campaigns c ON c.id = p.campaign_id WHERE p.{accounts} ORDER BY p.id"
    )
    for account_id, code, start, end in _rows(session, sql, ids):
        pauses.setdefault(account_id, []).append(PauseWindow(code, _instant(start), _instant(end)))
    area: dict[int, set[str]] = {}
    sql = "SELECT account_id, postal_code FROM service_area_codes WHERE {accounts}"
    for account_id, code in _rows(session, sql, ids):
        area.setdefault(account_id, set()).add(code)
    phones: dict[int, set[str]] = {}
    emails: dict[int, set[str]] = {}
    sql = "SELECT account_id, phone_e164, email_key FROM customer_contacts WHERE {accounts}"
    for account_id, phone, email in _rows(session, sql, ids):
        if phone:
            phones.setdefault(account_id, set()).add(phone)
        if email:
            emails.setdefault(account_id, set()).add(email)
    blocked: dict[tuple[int, str], set[str]] = {}
    sql = "SELECT account_id, kind, value FROM block_list_entries WHERE {accounts}"
    for account_id, kind, value in _rows(session, sql, ids):
        blocked.setdefault((account_id, kind), set()).add(value)
    windows = _windows(session, ids)
    with_context = {*pauses, *area, *phones, *emails, *(key[0] for key in blocked)}
    shared: dict[int, AccountContext] = {}
    found: dict[int, AccountContext] = {}
    for i in ids:
        days = windows.get(i, DEFAULT_DUPLICATE_WINDOW_DAYS)
        if i not in with_context:
            context = shared.get(days)
            if context is None:
                context = shared[days] = AccountContext(duplicate_window=timedelta(days=days))
            found[i] = context
            continue
        found[i] = AccountContext(
            pauses=tuple(pauses.get(i, ())),
            service_area=frozenset(area.get(i, ())),
            customer_phones=frozenset(phones.get(i, ())),
            customer_emails=frozenset(emails.get(i, ())),
            blocked_domains=frozenset(blocked.get((i, "domain"), ())),
            blocked_companies=frozenset(blocked.get((i, "company"), ())),
            blocked_emails=frozenset(blocked.get((i, "email"), ())),
            duplicate_window=timedelta(days=days),
        )
    return found


def _windows(session: Session, account_ids: list[int]) -> dict[int, int]:
    """The duplicate window (days) of the accounts that set one."""
    sql = "SELECT account_id, duplicate_window_days FROM lead_policy_settings WHERE {accounts}"
    return {account_id: days for account_id, days in _rows(session, sql, account_ids)}


def _reevaluate(session: Session, account_id: int) -> int:
    from leadbill.leads.policies import reevaluate_open_leads

    return reevaluate_open_leads(session, account_id)


def set_settings(
    session: Session,
    account_code: str,
    *,
    phone_region: str | None = None,
    duplicate_window_days: int | None = None,
) -> LeadPolicySettings:
    """Set the account's phone region (ISO 3166 alpha-2) and/or duplicate window."""
    account = get_account(session, account_code)
    row = session.get(LeadPolicySettings, account.id)
    if row is None:
        row = LeadPolicySettings(
            account_id=account.id,
            phone_region=DEFAULT_REGION,
            duplicate_window_days=DEFAULT_DUPLICATE_WINDOW_DAYS,
        )
        session.add(row)
    if phone_region is not None:
        region = phone_region.strip().upper()
        import phonenumbers

        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise InvalidInput("phone_region", f"{phone_region!r} is not a supported region")
        row.phone_region = region
    if duplicate_window_days is not None:
        check_count(
            "duplicate_window_days", duplicate_window_days, low=0, high=MAX_DUPLICATE_WINDOW_DAYS
        )
        row.duplicate_window_days = duplicate_window_days
    session.flush()
    _reevaluate(session, account.id)
    return row


def add_campaign(session: Session, account_code: str, code: str, name: str = "") -> Campaign:
    """Add a campaign; leads name it in their `campaign` column."""
    account = get_account(session, account_code)
    code = code.strip()
    if not code:
        raise InvalidInput("code", "must not be empty")
    exists = session.scalar(
        select(Campaign.id).where(Campaign.account_id == account.id, Campaign.code == code)
    )
    if exists is not None:
        raise Conflict(f"campaign {code!r} already exists on account {account_code!r}")
    campaign = Campaign(account_id=account.id, code=code, name=name.strip() or code)
    session.add(campaign)
    session.flush()
    return campaign


def _campaign(session: Session, account_id: int, code: str) -> Campaign:
    campaign = session.scalar(
        select(Campaign).where(Campaign.account_id == account_id, Campaign.code == code)
    )
    if campaign is None:
        raise NotFound(f"campaign {code!r} does not exist")
    return campaign


def pause_campaign(
    session: Session, account_code: str, code: str, start: datetime, end: datetime | None = None
) -> CampaignPause:
    """Record a pause window `[start, end)` (end None: until resumed)."""
    account = get_account(session, account_code)
    campaign = _campaign(session, account.id, code)
    if end is not None and end <= start:
        raise InvalidInput("end", "must be after the start")
    open_pause = session.scalar(
        select(CampaignPause.id).where(
            CampaignPause.campaign_id == campaign.id, CampaignPause.ends_at.is_(None)
        )
    )
    if open_pause is not None:
        raise Conflict(f"campaign {code!r} is already paused; resume it first")
    pause = CampaignPause(
        account_id=account.id, campaign_id=campaign.id, starts_at=start, ends_at=end
    )
    session.add(pause)
    session.flush()
    _reevaluate(session, account.id)
    return pause


def resume_campaign(session: Session, account_code: str, code: str, at: datetime) -> CampaignPause:
    """End the campaign's open pause at `at`."""
    account = get_account(session, account_code)
    campaign = _campaign(session, account.id, code)
    pause = session.scalar(
        select(CampaignPause).where(
            CampaignPause.campaign_id == campaign.id, CampaignPause.ends_at.is_(None)
        )
    )
    if pause is None:
        raise Conflict(f"campaign {code!r} is not paused")
    if at <= pause.starts_at:
        raise InvalidInput("at", "must be after the pause started")
    pause.ends_at = at
    session.flush()
    _reevaluate(session, account.id)
    return pause


def set_service_area(session: Session, account_code: str, postal_codes: Iterable[str]) -> int:
    """Replace the account's service area (an empty list removes it); returns its size."""
    account = get_account(session, account_code)
    codes = {c for c in (normalise_postal_code(code) for code in postal_codes) if c}
    too_long = [code for code in codes if len(code) > 16]
    if too_long:
        raise InvalidInput("postal_code", f"{too_long[0]!r} is longer than 16 characters")
    session.execute(delete(ServiceAreaCode).where(ServiceAreaCode.account_id == account.id))
    session.add_all(ServiceAreaCode(account_id=account.id, postal_code=c) for c in sorted(codes))
    session.flush()
    _reevaluate(session, account.id)
    return len(codes)


def add_customers(
    session: Session, account_code: str, contacts: Iterable[tuple[str | None, str | None]]
) -> tuple[int, int]:
    """Add previous customers as (phone, e-mail) pairs; returns (added, unusable).

    Phones are normalised to E.164 in the account's region, e-mails
    case-folded; a pair with neither valid is unusable and skipped.
    """
    account = get_account(session, account_code)
    region = settings_of(session, [account.id])[account.id][0]
    rows, unusable = [], 0
    for phone, email in contacts:
        key_phone, key_email = normalise_phone(phone, region), normalise_email(email)
        if key_phone is None and key_email is None:
            unusable += 1
            continue
        rows.append(
            CustomerContact(account_id=account.id, phone_e164=key_phone, email_key=key_email)
        )
    session.add_all(rows)
    session.flush()
    _reevaluate(session, account.id)
    return len(rows), unusable


def add_block_entry(session: Session, account_code: str, kind: str, value: str) -> BlockListEntry:
    """Add a block-list entry (R18): a company `domain`, a `company` name or an `email`."""
    account = get_account(session, account_code)
    if kind not in BLOCK_KINDS:
        raise InvalidInput("kind", f"{kind!r} is not one of {', '.join(BLOCK_KINDS)}")
    normalise = {"domain": normalise_domain, "company": normalise_company, "email": normalise_email}
    key = normalise[kind](value)
    if key is None:
        raise InvalidInput("value", f"{value!r} is not a valid {kind}")
    exists = session.scalar(
        select(BlockListEntry.id).where(
            BlockListEntry.account_id == account.id,
            BlockListEntry.kind == kind,
            BlockListEntry.value == key,
        )
    )
    if exists is not None:
        raise Conflict(f"{kind} {key!r} is already on the block list")
    entry = BlockListEntry(account_id=account.id, kind=kind, value=key)
    session.add(entry)
    session.flush()
    _reevaluate(session, account.id)
    return entry


def remove_block_entry(session: Session, account_code: str, entry_id: int) -> None:
    """Remove a block-list entry; leads of the open period are decided again without it."""
    account = get_account(session, account_code)
    entry = session.get(BlockListEntry, entry_id)
    if entry is None or entry.account_id != account.id:
        raise NotFound(f"block-list entry {entry_id} does not exist")
    session.delete(entry)
    session.flush()
    _reevaluate(session, account.id)
