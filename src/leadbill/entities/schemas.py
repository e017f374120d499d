"""API shapes of billing entities.

A change (PATCH) follows JSON merge patch (RFC 7396): an omitted field is kept,
`null` (or "") clears an optional one. A required field (legal name, first
address line, city, country, prefixes, terms, currency) cannot be cleared.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from leadbill.core.dunning import MAX_STEP_DAYS, MAX_STEPS, parse_steps
from leadbill.core.smtp_settings import password_variable
from leadbill.entities.models import BillingEntity
from leadbill.entities.service import EntityFields
from leadbill.errors import InvalidInput
from leadbill.pagination import PageInfo
from leadbill.schemas import RequestModel

# The settings a change may clear; the others are required.
OPTIONAL = (
    "address_line2",
    "postal_code",
    "region",
    "tax_id",
    "email",
    "bank_name",
    "iban",
    "bic",
    "account_number",
    "routing_number",
    "mail_from",
    "smtp_host",
    "smtp_port",
    "smtp_security",
    "smtp_user",
)
DunningAction = Literal["none", "uncollectible", "pause_service"]
SmtpSecurity = Literal["starttls", "tls", "none"]
StepDays = Annotated[int, Field(ge=0, le=MAX_STEP_DAYS)]
STEPS = (
    "Reminder days after the due date (0: on the due date), distinct, at most "
    f"{MAX_STEPS}; default [0, 3, 7, 14]"
)
ACTION = (
    "After the last reminder (the day after its date): none, uncollectible (mark the "
    "invoice uncollectible) or pause_service (pause the subscription's service)"
)
PREFIX = "1 to 12 letters, digits, '-', '_' or '/' before the digits of the numbers"


class _Settings(RequestModel):
    """The settings an entity may leave out (null) when created or changed."""

    address_line2: str | None = Field(default=None, max_length=200)
    postal_code: str | None = Field(default=None, max_length=20, examples=["111 34"])
    region: str | None = Field(
        default=None, max_length=8, examples=["US-CO"], description="ISO 3166-2 subdivision code"
    )
    tax_id: str | None = Field(
        default=None,
        max_length=32,
        examples=["SE556036079301"],
        description="VAT id (EU), EIN (US) or the country's VAT number, checked for the country",
    )
    email: str | None = Field(default=None, max_length=254)
    invoice_prefix: str | None = Field(
        default=None, max_length=12, examples=["SE-"], description=PREFIX
    )
    credit_note_prefix: str | None = Field(
        default=None, max_length=12, examples=["SECN-"], description=PREFIX
    )
    payment_terms_days: int | None = Field(
        default=None, ge=0, le=365, description="Days after the issue date an invoice is due"
    )
    default_currency: str | None = Field(
        default=None, min_length=3, max_length=3, examples=["EUR"], description="ISO 4217 code"
    )
    dunning_steps: list[StepDays] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_STEPS,
        examples=[[0, 3, 7, 14]],
        description=STEPS,
    )
    dunning_action: DunningAction | None = Field(default=None, description=ACTION)

    def _dunning(self, given: dict[str, Any]) -> dict[str, Any]:
        if given.get("dunning_steps") is not None:
            given["dunning_steps"] = tuple(given["dunning_steps"])
        return given

    bank_name: str | None = Field(
        default=None, max_length=100, examples=["SEB"], description="Printed with the account"
    )
    iban: str | None = Field(
        default=None,
        max_length=42,
        examples=["SE4550000000058398257466"],
        description="Where customers pay by transfer; checked (country format, check digits), "
        "stored compact. Not with account_number and routing_number",
    )
    bic: str | None = Field(
        default=None,
        max_length=11,
        examples=["ESSESESS"],
        description="8 or 11 characters; derived from a new IBAN when left out (where known)",
    )
    account_number: str | None = Field(
        default=None,
        max_length=20,
        examples=["000123456789"],
        description="US account: 4-17 digits",
    )
    routing_number: str | None = Field(
        default=None,
        max_length=9,
        examples=["111000025"],
        description="US ABA routing number (9 digits, check digit verified)",
    )

    mail_from: str | None = Field(
        default=None,
        max_length=254,
        examples=["invoices@leaddata.se"],
        description="The From address of the entity's e-mails (default: LEADBILL_MAIL_FROM, "
        "else the entity's e-mail)",
    )
    smtp_host: str | None = Field(
        default=None,
        max_length=253,
        examples=["smtp.leaddata.se"],
        description="The entity's own SMTP server (host name or IP address); unset: the "
        "LEADBILL_SMTP_HOST server. Its password is read from the worker's environment, "
        "LEADBILL_SMTP_PASSWORD_<CODE> (see smtp_password_variable)",
    )
    smtp_port: int | None = Field(
        default=None, ge=1, le=65535, description="Default: 587 (starttls), 465 (tls), 25 (none)"
    )
    smtp_security: SmtpSecurity | None = Field(
        default=None, description="starttls (default), tls (implicit TLS) or none"
    )
    smtp_user: str | None = Field(
        default=None, max_length=254, description="The login name; unset: no login"
    )


class BillingEntityCreate(_Settings):
    """A new billing entity. The first one becomes the default and continues the INV- and
    CN- numbers (terms 15 days, USD unless given); every other one needs prefixes of its
    own."""

    code: str = Field(min_length=1, max_length=32, examples=["nordic"])
    legal_name: str = Field(max_length=200, examples=["Lead Data Nordic AB"])
    address_line1: str = Field(max_length=200, examples=["Sveavägen 44"])
    city: str = Field(max_length=100, examples=["Stockholm"])
    country: str = Field(
        min_length=2, max_length=2, examples=["SE"], description="ISO 3166-1 alpha-2 code"
    )

    def fields(self) -> EntityFields:
        """The service's settings of the new entity (null: not given)."""
        return EntityFields(**self._dunning(self.model_dump(exclude={"code"})))


class BillingEntityChange(_Settings):
    """A change of a billing entity's settings (JSON merge patch): an omitted field is
    kept, null clears an optional one. A new prefix starts a new number sequence at
    000001; finalized documents keep the issuer they were issued with."""

    legal_name: str | None = Field(default=None, max_length=200, examples=["Lead Data Nordic AB"])
    address_line1: str | None = Field(default=None, max_length=200)
    city: str | None = Field(default=None, max_length=100)
    country: str | None = Field(
        default=None, max_length=2, examples=["SE"], description="ISO 3166-1 alpha-2 code"
    )

    def fields(self) -> EntityFields:
        """The service's change: what was sent, null clearing an optional setting."""
        given: dict[str, Any] = {}
        for name in self.model_fields_set:
            value = getattr(self, name)
            if value is None:
                if name not in OPTIONAL:
                    raise InvalidInput(name, "is required and cannot be cleared")
                value = 0 if name == "smtp_port" else ""
            given[name] = value
        return EntityFields(**self._dunning(given))


class BillingEntityOut(BaseModel):
    """A billing entity: the issuer printed on its invoices and credit notes."""

    code: str
    legal_name: str
    address_line1: str
    address_line2: str | None
    city: str
    postal_code: str | None
    region: str | None
    country: str
    tax_id: str | None
    email: str | None
    invoice_prefix: str
    credit_note_prefix: str
    payment_terms_days: int
    default_currency: str
    dunning_steps: list[int] = Field(description=STEPS)
    dunning_action: DunningAction = Field(description=ACTION)
    bank_name: str | None
    iban: str | None
    bic: str | None
    account_number: str | None
    routing_number: str | None
    mail_from: str | None
    smtp_host: str | None
    smtp_port: int | None
    smtp_security: SmtpSecurity | None
    smtp_user: str | None
    smtp_password_variable: str = Field(
        description="The environment variable the worker reads this entity's SMTP password from"
    )
    is_default: bool = Field(description="Bills every account that names no entity")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, entity: BillingEntity) -> BillingEntityOut:
        """The API shape of a stored entity."""
        return cls(
            code=entity.code,
            legal_name=entity.legal_name,
            address_line1=entity.address_line1,
            address_line2=entity.address_line2,
            city=entity.city,
            postal_code=entity.postal_code,
            region=entity.region,
            country=entity.country,
            tax_id=entity.tax_id,
            email=entity.email,
            invoice_prefix=entity.invoice_prefix,
            credit_note_prefix=entity.credit_note_prefix,
            payment_terms_days=entity.payment_terms_days,
            default_currency=entity.default_currency,
            dunning_steps=list(parse_steps(entity.dunning_steps)),
            dunning_action=entity.dunning_action,  # type: ignore[arg-type]
            bank_name=entity.bank_name,
            iban=entity.bank_iban,
            bic=entity.bank_bic,
            account_number=entity.bank_account_number,
            routing_number=entity.bank_routing_number,
            mail_from=entity.mail_from,
            smtp_host=entity.smtp_host,
            smtp_port=entity.smtp_port,
            smtp_security=entity.smtp_security,  # type: ignore[arg-type]
            smtp_user=entity.smtp_user,
            smtp_password_variable=password_variable(entity.code),
            is_default=entity.is_default,
            created_at=entity.created_at,
            updated_at=entity.updated_at,
        )


class BillingEntityPage(BaseModel):
    """One page of billing entities, by code."""

    data: list[BillingEntityOut]
    page: PageInfo
