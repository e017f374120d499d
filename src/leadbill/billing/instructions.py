"""How to pay an invoice by bank transfer: the issuer's bank account and the RF reference.

Read from the invoice alone: the bank details are those of its issuer snapshot
(what the entity had when the invoice was finalized, never what it has now) and
the reference is the creditor reference stored at finalization. The PDF, the
invoice page, the API and the e-invoice all print these same instructions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from leadbill.billing.models import Invoice
from leadbill.core.bank import format_creditor_reference, format_iban


@dataclass(frozen=True, slots=True)
class PaymentInstructions:
    """Where and how to transfer what is due on one invoice."""

    payee: str
    bank_name: str | None
    iban: str | None
    bic: str | None
    account_number: str | None
    routing_number: str | None
    reference: str
    amount: Decimal
    currency: str
    due_on: date | None

    def printed(self) -> list[tuple[str, str]]:
        """The instructions as label and value rows, as a document prints them."""
        rows = [("Pay to", self.payee)]
        if self.bank_name:
            rows.append(("Bank", self.bank_name))
        if self.iban:
            rows.append(("IBAN", format_iban(self.iban)))
        if self.bic:
            rows.append(("BIC", self.bic))
        if self.account_number:
            rows.append(("Account number", self.account_number))
        if self.routing_number:
            rows.append(("Routing number", self.routing_number))
        printed = (
            format_creditor_reference(self.reference)
            if self.reference.startswith("RF")
            else self.reference
        )
        rows.append(("Reference", printed))
        return rows


def payment_instructions(invoice: Invoice, balance: Decimal) -> PaymentInstructions | None:
    """The transfer instructions of a finalized invoice whose issuer had a bank account
    (None for a draft, or when the issuer snapshot has no bank details)."""
    issuer = invoice.issuer or {}
    if invoice.number is None or not (issuer.get("iban") or issuer.get("account_number")):
        return None
    return PaymentInstructions(
        payee=str(issuer.get("legal_name") or ""),
        bank_name=issuer.get("bank_name"),
        iban=issuer.get("iban"),
        bic=issuer.get("bic"),
        account_number=issuer.get("account_number"),
        routing_number=issuer.get("routing_number"),
        # An invoice whose number makes no creditor reference is paid quoting its number.
        reference=invoice.payment_reference or invoice.number,
        amount=balance,
        currency=invoice.currency,
        due_on=invoice.due_on,
    )
