"""API shapes of accounts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from leadbill.accounts.billing_details import DetailsChange
from leadbill.accounts.models import Account, BillingDetails
from leadbill.billing.taxation import AccountBilling
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


class BillingDetailsChange(RequestModel):
    """A change of the account's billing details (JSON merge patch): an omitted field is
    kept, null (or "") clears it. The tax number is checked for format and check digits
    against the country. A customer key may not change `billing_entity`,
    `payment_terms_days` or `tax_exemption`: operator staff set those."""

    legal_name: str | None = Field(
        default=None, max_length=200, description="Printed on invoices (null: the account name)"
    )
    address_line1: str | None = Field(default=None, max_length=200)
    address_line2: str | None = Field(default=None, max_length=200)
    city: str | None = Field(default=None, max_length=100)
    postal_code: str | None = Field(default=None, max_length=20)
    region: str | None = Field(
        default=None, max_length=8, examples=["US-NY"], description="ISO 3166-2 subdivision code"
    )
    country: str | None = Field(
        default=None, max_length=2, examples=["DE"], description="ISO 3166-1 alpha-2 code"
    )
    tax_id: str | None = Field(
        default=None,
        max_length=32,
        examples=["DE136695976"],
        description="VAT id (EU), EIN (US) or the country's VAT number",
    )
    tax_exemption: str | None = Field(
        default=None,
        max_length=100,
        description="The exemption reference printed on invoices; no tax is charged (staff)",
    )
    purchase_order: str | None = Field(default=None, max_length=64, examples=["PO-2026-118"])
    payment_terms_days: int | None = Field(
        default=None, ge=0, le=365, description="Days to pay (null: the entity's terms; staff)"
    )
    billing_entity: str | None = Field(
        default=None,
        max_length=32,
        examples=["nordic"],
        description="Code of the entity that issues its invoices (null: the default; staff)",
    )

    def change(self) -> DetailsChange:
        """The service's change: what was sent, null clearing a field."""
        given: dict[str, Any] = {}
        for name in self.model_fields_set:
            value = getattr(self, name)
            if name == "payment_terms_days":
                given["payment_terms_days"] = value
                given["clear_payment_terms"] = value is None
            else:
                given[name] = "" if value is None else value
        return DetailsChange(**given)


class BillingDetailsOut(BaseModel):
    """What the account's invoices say of it, and who issues them on which terms.

    Each invoice takes these when it is finalized; editing them never changes an
    issued one.
    """

    account: str
    legal_name: str | None
    address_line1: str | None
    address_line2: str | None
    city: str | None
    postal_code: str | None
    region: str | None
    country: str | None
    tax_id: str | None
    tax_exemption: str | None
    purchase_order: str | None
    payment_terms_days: int | None = Field(description="The account's own (null: the entity's)")
    billing_entity: str | None = Field(description="The account's own entity (null: the default)")
    issuer: str | None = Field(
        description="The entity that issues its invoices now (null: none is set up)"
    )
    effective_payment_terms_days: int = Field(description="The terms its next invoice gets")
    updated_at: datetime | None = Field(description="null: never set")

    @classmethod
    def of(
        cls,
        account: Account,
        details: BillingDetails | None,
        entity_code: str | None,
        billing: AccountBilling,
    ) -> BillingDetailsOut:
        """The API shape of an account's stored details and how its invoices are issued."""

        def get(name: str) -> Any:
            return getattr(details, name) if details is not None else None

        return cls(
            account=account.code,
            legal_name=get("legal_name"),
            address_line1=get("address_line1"),
            address_line2=get("address_line2"),
            city=get("city"),
            postal_code=get("postal_code"),
            region=get("region"),
            country=get("country"),
            tax_id=get("tax_id"),
            tax_exemption=get("tax_exemption"),
            purchase_order=get("purchase_order"),
            payment_terms_days=get("payment_terms_days"),
            billing_entity=entity_code,
            issuer=billing.issuer["code"] if billing.issuer else None,
            effective_payment_terms_days=billing.terms_days,
            updated_at=get("updated_at"),
        )
