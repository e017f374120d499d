"""Account context use cases: campaigns and pauses, service area, customers, block list.

Every change re-applies the context to the account's leads of periods not yet
invoiced (`leads.policies.reevaluate_open_leads`): a pause, a service area or a
customer added today changes what this open period charges, as a billing user
expects; invoiced periods never change (a correction there is a credit note).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

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
from leadbill.context.repository import DEFAULT_DUPLICATE_WINDOW_DAYS, settings_of
from leadbill.core.billability import normalise_postal_code
from leadbill.core.contacts import (
    DEFAULT_REGION,
    normalise_company,
    normalise_domain,
    normalise_email,
    normalise_phone,
)
from leadbill.errors import Conflict, InvalidInput, NotFound
from leadbill.leads.policies import reevaluate_open_leads
from leadbill.limits import MAX_DUPLICATE_WINDOW_DAYS, check_count

BLOCK_KINDS = ("domain", "company", "email")


def _reevaluate(session: Session, account_id: int) -> int:
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
    normalise: dict[str, Callable[[str], str | None]] = {
        "domain": normalise_domain,
        "company": normalise_company,
        "email": normalise_email,
    }
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
