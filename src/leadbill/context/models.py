"""Account context: what an account tells us that decides its leads (R12, R18)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from leadbill.db import Base, BigId, UTCDateTime


class LeadPolicySettings(Base):
    """Per-account settings of the lead policies; an absent row means the defaults."""

    __tablename__ = "lead_policy_settings"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    phone_region: Mapped[str] = mapped_column(String(2))
    duplicate_window_days: Mapped[int] = mapped_column(Integer)


class Campaign(Base):
    """A campaign of an account; leads name it by its code."""

    __tablename__ = "campaigns"
    __table_args__ = (UniqueConstraint("account_id", "code"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))


class CampaignPause(Base):
    """A campaign paused from `starts_at` until `ends_at` (NULL: still paused)."""

    __tablename__ = "campaign_pauses"
    __table_args__ = (Index("ix_campaign_pauses_account", "account_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ServiceAreaCode(Base):
    """One postal code of an account's service area (normalised)."""

    __tablename__ = "service_area_codes"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    postal_code: Mapped[str] = mapped_column(String(16), primary_key=True)


class CustomerContact(Base):
    """One previous customer of an account, by normalised phone and/or e-mail."""

    __tablename__ = "customer_contacts"
    __table_args__ = (
        Index("ix_customer_contacts_phone", "account_id", "phone_e164"),
        Index("ix_customer_contacts_email", "account_id", "email_key"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    phone_e164: Mapped[str | None] = mapped_column(String(16))
    email_key: Mapped[str | None] = mapped_column(String(254))


class BlockListEntry(Base):
    """One block-list entry (R18): a company domain, a company name or an e-mail."""

    __tablename__ = "block_list_entries"
    __table_args__ = (UniqueConstraint("account_id", "kind", "value"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(254))
