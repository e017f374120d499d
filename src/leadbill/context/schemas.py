"""API shapes of an account's context: lead-policy settings, campaigns and pauses,
service area, previous customers, block list."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from leadbill.context.models import BlockListEntry, Campaign, CampaignPause, CustomerContact
from leadbill.pagination import PageInfo
from leadbill.schemas import Instant, RequestModel

MAX_CUSTOMERS = 10_000
MAX_POSTAL_CODES = 100_000


class LeadPolicySettingsIn(RequestModel):
    """Change the phone region and/or the duplicate window; an omitted field is kept."""

    phone_region: str | None = Field(
        default=None, min_length=2, max_length=2, examples=["US"], description="ISO 3166 alpha-2"
    )
    duplicate_window_days: int | None = Field(default=None, ge=0, le=3650, examples=[30])


class LeadPolicySettingsOut(BaseModel):
    """How the account's leads are compared: phone region and duplicate window (R12)."""

    account: str
    phone_region: str
    duplicate_window_days: int


class CampaignCreate(RequestModel):
    """A campaign; leads name it by its code."""

    code: str = Field(min_length=1, max_length=64, examples=["spring-ads"])
    name: str = Field(default="", max_length=200)


class PauseOut(BaseModel):
    """A pause window `[start, end)`; `end` null: paused until resumed."""

    start: datetime
    end: datetime | None

    @classmethod
    def of(cls, pause: CampaignPause) -> PauseOut:
        """The API shape of a stored pause."""
        return cls(start=pause.starts_at, end=pause.ends_at)


class CampaignOut(BaseModel):
    """A campaign with its pause windows, oldest first (leads received in one are
    `campaign_paused`)."""

    code: str
    name: str
    paused: bool
    pauses: list[PauseOut]

    @classmethod
    def of(cls, campaign: Campaign, pauses: list[CampaignPause]) -> CampaignOut:
        """The API shape of a stored campaign and its pauses."""
        return cls(
            code=campaign.code,
            name=campaign.name,
            paused=any(p.ends_at is None for p in pauses),
            pauses=[PauseOut.of(p) for p in pauses],
        )


class CampaignPage(BaseModel):
    """One page of campaigns, by code."""

    data: list[CampaignOut]
    page: PageInfo


class PauseCreate(RequestModel):
    """Pause a campaign from `start` until `end` (exclusive; null: until resumed)."""

    start: Instant = Field(examples=["2026-03-01T00:00:00Z"])
    end: Instant | None = None


class ResumeIn(RequestModel):
    """End the campaign's open pause at `at` (default: now)."""

    at: Instant | None = None


class ServiceAreaIn(RequestModel):
    """The whole service area (postal codes); an empty list removes it."""

    postal_codes: list[Annotated[str, Field(max_length=16)]] = Field(
        max_length=MAX_POSTAL_CODES,
        examples=[["80202", "80203"]],
        description="each at most 16 characters",
    )


class ServiceAreaPage(BaseModel):
    """One page of the service area's postal codes (normalised), in order; none at all
    means every postal code is served."""

    data: list[str]
    page: PageInfo


class ServiceAreaSet(BaseModel):
    """How many postal codes the service area now holds."""

    account: str
    postal_codes: int


class CustomerIn(RequestModel):
    """A previous customer, by phone and/or e-mail."""

    phone: str | None = Field(default=None, max_length=64, examples=["+13035550100"])
    email: str | None = Field(default=None, max_length=254, examples=["pat@example.com"])


class CustomersIn(RequestModel):
    """Previous customers to add (R12: their leads are `previous_customer`)."""

    customers: list[CustomerIn] = Field(min_length=1, max_length=MAX_CUSTOMERS)


class CustomersAdded(BaseModel):
    """How many were added, and how many had neither a valid phone nor a valid e-mail."""

    added: int
    unusable: int


class CustomerOut(BaseModel):
    """A previous customer as compared: E.164 phone and case-folded e-mail."""

    id: int
    phone: str | None
    email: str | None

    @classmethod
    def of(cls, contact: CustomerContact) -> CustomerOut:
        """The API shape of a stored customer contact."""
        return cls(id=contact.id, phone=contact.phone_e164, email=contact.email_key)


class CustomerPage(BaseModel):
    """One page of previous customers, oldest first."""

    data: list[CustomerOut]
    page: PageInfo


class BlockEntryIn(RequestModel):
    """A block-list entry (R18): a company `domain`, a `company` name or an `email`."""

    kind: str = Field(max_length=16, examples=["domain"], description="domain, company or email")
    value: str = Field(min_length=1, max_length=254, examples=["acme.example"])


class BlockEntryOut(BaseModel):
    """A block-list entry, normalised as leads are compared with it."""

    id: int
    kind: str
    value: str

    @classmethod
    def of(cls, entry: BlockListEntry) -> BlockEntryOut:
        """The API shape of a stored entry."""
        return cls(id=entry.id, kind=entry.kind, value=entry.value)


class BlockListPage(BaseModel):
    """One page of the block list, oldest first."""

    data: list[BlockEntryOut]
    page: PageInfo
