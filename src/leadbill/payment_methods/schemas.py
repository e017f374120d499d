"""API shapes of payment methods. A card is only ever its provider's ids."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from leadbill.payment_methods.models import PaymentMethod
from leadbill.payment_methods.service import MAX_MANDATE_TEXT, MethodChoice
from leadbill.schemas import RequestModel


class PaymentMethodIn(RequestModel):
    """The method an account pays with from now on; the one in use ends.

    `sepa_debit` needs the debtor's IBAN, account holder and the mandate text accepted
    (signed today; a reference is generated unless given). `card` needs the payment
    provider's customer and payment-method ids; card numbers are refused."""

    kind: Literal["bank_transfer", "sepa_debit", "card"]
    iban: str | None = Field(default=None, max_length=42, examples=["DE89370400440532013000"])
    bic: str | None = Field(
        default=None, max_length=11, description="derived from the IBAN when left out"
    )
    account_holder: str | None = Field(default=None, max_length=70)
    mandate_reference: str | None = Field(
        default=None,
        max_length=35,
        description="SEPA characters (letters, digits, / - ? : ( ) . , ' +), no spaces",
    )
    mandate_text: str | None = Field(default=None, max_length=MAX_MANDATE_TEXT)
    provider: str | None = Field(default=None, max_length=32, examples=["stripe"])
    provider_customer_id: str | None = Field(default=None, max_length=255, examples=["cus_123"])
    provider_payment_method_id: str | None = Field(
        default=None, max_length=255, examples=["pm_123"]
    )

    def choice(self) -> MethodChoice:
        """The service's choice."""
        return MethodChoice(**self.model_dump())


class PaymentMethodOut(BaseModel):
    """How an account pays: the method in use (bank_transfer when none was ever set)."""

    account: str
    kind: str
    created_at: datetime | None = Field(description="null: the default, never set")
    created_by: str | None
    mandate_reference: str | None
    iban: str | None
    bic: str | None
    account_holder: str | None
    signed_on: date | None = Field(description="the mandate's signature date")
    sequence: str | None = Field(description="first or recurring: the next collection's")
    provider: str | None
    provider_customer_id: str | None
    provider_payment_method_id: str | None

    @classmethod
    def of(cls, account_code: str, method: PaymentMethod | None) -> PaymentMethodOut:
        """The API shape of an account's method (None: the default bank transfer)."""
        if method is None:
            return cls(
                account=account_code,
                kind="bank_transfer",
                created_at=None,
                created_by=None,
                mandate_reference=None,
                iban=None,
                bic=None,
                account_holder=None,
                signed_on=None,
                sequence=None,
                provider=None,
                provider_customer_id=None,
                provider_payment_method_id=None,
            )
        return cls(
            account=account_code,
            kind=method.kind,
            created_at=method.created_at,
            created_by=method.created_by,
            mandate_reference=method.mandate_reference,
            iban=method.iban,
            bic=method.bic,
            account_holder=method.account_holder,
            signed_on=method.signed_on,
            sequence=method.sequence,
            provider=method.provider,
            provider_customer_id=method.provider_customer_id,
            provider_payment_method_id=method.provider_payment_method_id,
        )
