"""A finalized invoice or credit note as EN 16931 sees it: plain data, no ORM, no rules.

The billing services fill these from their rows; `einvoice.facturx` checks them
against the EN 16931 business rules and writes the Factur-X XML. Amounts are
Decimal in the document's currency, already rounded to the cent (EN 16931 allows
no more than two decimals): the e-invoice layer never rounds, it only compares.
Every field is keyword-only so that a document reads like its own field list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal

Kind = Literal["invoice", "credit_note"]
"""`invoice` is type code 380, `credit_note` 381."""

TaxCategory = Literal["S", "AE", "E", "O", "Z"]
"""EN 16931 VAT category codes (UNTDID 5305) that leadbill issues."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Party:
    """The seller or the buyer: legal name, postal address, tax id and e-mail."""

    legal_name: str
    address_line1: str
    address_line2: str | None = None
    city: str
    postal_code: str
    region: str | None = None
    """A country subdivision code such as "CA" or "SE-AB"."""
    country: str
    """ISO 3166-1 alpha-2, upper case."""
    tax_id: str | None = None
    """A VAT id with its country prefix ("SE556036079301") or another tax id (a US EIN)."""
    email: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DocumentLine:
    """One invoice line: quantity at a net unit price, its rounded net amount and its VAT."""

    position: int
    description: str
    quantity: int
    unit_price: Decimal
    """Net of VAT, never negative (a negative line has a negative quantity)."""
    net_amount: Decimal
    """Rounded to the cent; the figure the totals add up."""
    tax_category: TaxCategory
    tax_rate: Decimal
    """Percent, e.g. Decimal("25.00"); 0 for every category but "S"."""
    period_start: date | None = None
    period_end: date | None = None
    """The last day of the period, included (EN 16931 periods are inclusive)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TaxSubtotal:
    """The VAT of one category and rate: the lines' net amounts and the tax on them."""

    category: TaxCategory
    rate: Decimal
    basis: Decimal
    tax_amount: Decimal
    exemption_reason: str | None = None
    """Required for "AE", "E" and "O" (e.g. "Reverse charge"), refused for "S" and "Z"."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CreditTransfer:
    """How the buyer pays by transfer (BG-16, BG-17): to an IBAN (payment means 58, a
    SEPA credit transfer) or to another account (30, a credit transfer)."""

    iban: str | None = None
    """BT-84 as an IBAN, compact."""
    account_id: str | None = None
    """BT-84 as a proprietary account id (a US account number), when there is no IBAN."""
    account_name: str | None = None
    """BT-85, the payee's name on the account."""
    bic: str | None = None
    """BT-86, the payee's bank."""
    information: str | None = None
    """BT-82, the payment means in words (e.g. the ABA routing number of a US account)."""

    @property
    def means_code(self) -> str:
        """BT-81 (UNTDID 4461): 58 SEPA credit transfer to an IBAN, else 30 credit transfer."""
        return "58" if self.iban else "30"


@dataclass(frozen=True, slots=True, kw_only=True)
class EInvoice:
    """A finalized invoice or credit note with its parties, lines, VAT breakdown and totals."""

    kind: Kind
    number: str
    issue_date: date
    due_date: date | None = None
    currency: str
    """ISO 4217, upper case."""
    seller: Party
    buyer: Party
    buyer_reference: str | None = None
    """The buyer's reference for the invoice, such as a purchase order number."""
    preceding_invoice_number: str | None = None
    """The invoice a credit note corrects; required for a credit note."""
    lines: tuple[DocumentLine, ...]
    tax_subtotals: tuple[TaxSubtotal, ...]
    line_total: Decimal
    tax_basis_total: Decimal
    tax_total: Decimal
    grand_total: Decimal
    prepaid_amount: Decimal
    """Credit notes already applied, as a positive amount (0.00 when none)."""
    due_payable: Decimal
    """grand_total - prepaid_amount."""
    payment_terms: str | None = None
    payment_reference: str | None = None
    """BT-83, the remittance information the buyer quotes (the RF creditor reference)."""
    credit_transfer: CreditTransfer | None = None
    notes: tuple[str, ...] = ()
    """Legal mentions printed on the document, e.g. "Reverse charge, Article 196 ..."."""
