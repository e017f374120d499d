"""API shapes of accounts."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from leadbill.accounts.models import Account
from leadbill.pagination import PageInfo
from leadbill.schemas import RequestModel


class AccountCreate(RequestModel):
    """A new customer account."""

    code: str = Field(min_length=1, max_length=64, examples=["brokerage"])
    name: str = Field(default="", max_length=200)
    currency: str = Field(default="USD", min_length=3, max_length=3)
    time_zone: str = Field(default="UTC", max_length=64, examples=["America/New_York"])
    billing_email: str = Field(max_length=254, examples=["billing@brokerage.test"])


class AccountOut(BaseModel):
    """A customer account."""

    code: str
    name: str
    currency: str
    time_zone: str
    billing_email: str
    created_at: datetime

    @classmethod
    def of(cls, account: Account) -> AccountOut:
        """The API shape of a stored account."""
        return cls(
            code=account.code,
            name=account.name,
            currency=account.currency,
            time_zone=account.time_zone,
            billing_email=account.billing_email,
            created_at=account.created_at,
        )


class AccountPage(BaseModel):
    """One page of accounts, by code."""

    data: list[AccountOut]
    page: PageInfo
