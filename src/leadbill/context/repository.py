"""Reads of accounts' contexts: the core's `AccountContext` of many accounts at once
(for ingestion, re-evaluation and reports), their lead-policy settings, and paged
lists of campaigns with their pauses, service area, customers and block list
(keyset pagination, one or two queries per page).

The writes are in `context.service`; they re-evaluate open leads through
`leads.policies`, which reads contexts from here, so every import points down.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadbill.context.models import (
    BlockListEntry,
    Campaign,
    CampaignPause,
    CustomerContact,
    ServiceAreaCode,
)
from leadbill.core.billability import AccountContext, PauseWindow
from leadbill.core.contacts import DEFAULT_REGION

DEFAULT_DUPLICATE_WINDOW_DAYS = 30


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


def campaigns_page(
    session: Session, account_id: int, *, after: str | None, limit: int
) -> list[tuple[Campaign, list[CampaignPause]]]:
    """Up to `limit` campaigns by code after `after`, each with its pauses, oldest first."""
    query = (
        select(Campaign)
        .where(Campaign.account_id == account_id)
        .order_by(Campaign.code)
        .limit(limit)
    )
    if after is not None:
        query = query.where(Campaign.code > after)
    campaigns = list(session.scalars(query))
    pauses: dict[int, list[CampaignPause]] = {c.id: [] for c in campaigns}
    if campaigns:
        for pause in session.scalars(
            select(CampaignPause)
            .where(CampaignPause.campaign_id.in_(list(pauses)))
            .order_by(CampaignPause.starts_at, CampaignPause.id)
        ):
            pauses[pause.campaign_id].append(pause)
    return [(c, pauses[c.id]) for c in campaigns]


def service_area_page(
    session: Session, account_id: int, *, after: str | None, limit: int
) -> list[str]:
    """Up to `limit` postal codes of the service area, in order, after `after`."""
    query = (
        select(ServiceAreaCode.postal_code)
        .where(ServiceAreaCode.account_id == account_id)
        .order_by(ServiceAreaCode.postal_code)
        .limit(limit)
    )
    if after is not None:
        query = query.where(ServiceAreaCode.postal_code > after)
    return list(session.scalars(query))


def customers_page(
    session: Session, account_id: int, *, after: int | None, limit: int
) -> list[CustomerContact]:
    """Up to `limit` previous customers (normalised phone and e-mail), oldest first."""
    query = (
        select(CustomerContact)
        .where(CustomerContact.account_id == account_id)
        .order_by(CustomerContact.id)
        .limit(limit)
    )
    if after is not None:
        query = query.where(CustomerContact.id > after)
    return list(session.scalars(query))


def block_list_page(
    session: Session, account_id: int, *, after: int | None, limit: int
) -> list[BlockListEntry]:
    """Up to `limit` block-list entries, oldest first."""
    query = (
        select(BlockListEntry)
        .where(BlockListEntry.account_id == account_id)
        .order_by(BlockListEntry.id)
        .limit(limit)
    )
    if after is not None:
        query = query.where(BlockListEntry.id > after)
    return list(session.scalars(query))


def campaign_with_pauses(
    session: Session, account_id: int, code: str
) -> tuple[Campaign, list[CampaignPause]] | None:
    """One campaign by code with its pauses, oldest first (None if it does not exist)."""
    campaign = session.scalar(
        select(Campaign).where(Campaign.account_id == account_id, Campaign.code == code)
    )
    if campaign is None:
        return None
    pauses = session.scalars(
        select(CampaignPause)
        .where(CampaignPause.campaign_id == campaign.id)
        .order_by(CampaignPause.starts_at, CampaignPause.id)
    )
    return campaign, list(pauses)
