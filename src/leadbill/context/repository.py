"""Paged reads of an account's context: campaigns with their pauses, service area,
customers and block list (keyset pagination, one or two queries per page)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadbill.context.models import (
    BlockListEntry,
    Campaign,
    CampaignPause,
    CustomerContact,
    ServiceAreaCode,
)


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
