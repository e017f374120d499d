"""The EN 16931 business rules an `EInvoice` must meet before it is written as XML.

The Factur-X XSD checks the shape of the XML, not its arithmetic or its VAT logic;
those are Schematron rules, which we do not run. The ones a billing engine can
break are checked here, each naming its rule (BR-...) and the field, so that a
document a receiver would reject never leaves leadbill.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from leadbill.core.errors import RuleViolation
from leadbill.core.money import check_currency
from leadbill.einvoice.document import EInvoice, Party, TaxCategory

CENT = Decimal("0.01")
CATEGORIES: tuple[TaxCategory, ...] = ("S", "AE", "E", "O", "Z")
# Categories whose VAT breakdown must say why no VAT is charged (BR-AE-10, BR-E-10, BR-O-10).
EXEMPT = frozenset({"AE", "E", "O"})
# Categories whose invoice must carry the seller's VAT id or tax registration (BR-x-02).
SELLER_ID_REQUIRED = frozenset({"S", "Z", "E", "AE"})

TaxScheme = Literal["VA", "FC"]


def tax_scheme(tax_id: str) -> TaxScheme:
    """ "VA" for a VAT id (it starts with a country prefix, BR-CO-09), "FC" for another tax id."""
    return "VA" if tax_id[:2].isalpha() and tax_id[:2].isupper() else "FC"


def vat_id(party: Party) -> str | None:
    """The party's VAT id, or None when it has none (or only a non-VAT tax id)."""
    if party.tax_id and tax_scheme(party.tax_id) == "VA":
        return party.tax_id
    return None


def not_subject_to_vat(document: EInvoice) -> bool:
    """True when the document is outside the scope of VAT (its lines are in category "O")."""
    return any(line.tax_category == "O" for line in document.lines)


def check(document: EInvoice) -> None:
    """Raise RuleViolation (a ValueError) naming the first EN 16931 rule the document breaks."""
    _check_header(document)
    _check_party("seller", document.seller)
    _check_party("buyer", document.buyer)
    _check_lines(document)
    _check_tax_ids(document)
    _check_breakdown(document)
    _check_totals(document)
    _check_payment(document)


def _check_header(document: EInvoice) -> None:
    if document.kind not in ("invoice", "credit_note"):
        raise RuleViolation("kind", f"{document.kind!r} is neither 'invoice' nor 'credit_note'")
    if not document.number.strip():
        raise RuleViolation("number", "BR-02: a document has a number")
    if check_currency(document.currency) != document.currency:
        raise RuleViolation("currency", f"{document.currency!r} is not an upper-case ISO 4217 code")
    if document.kind == "credit_note" and not document.preceding_invoice_number:
        raise RuleViolation(
            "preceding_invoice_number", "BT-25: a credit note names the invoice it corrects"
        )


def _check_party(role: str, party: Party) -> None:
    if not party.legal_name.strip():
        raise RuleViolation(f"{role}.legal_name", "BR-06/BR-07: the seller and buyer have names")
    country = party.country
    if len(country) != 2 or not (country.isascii() and country.isalpha() and country.isupper()):
        raise RuleViolation(
            f"{role}.country", f"{country!r} is not an upper-case ISO 3166-1 alpha-2 code"
        )


def _check_lines(document: EInvoice) -> None:
    if not document.lines:
        raise RuleViolation("lines", "BR-16: a document has at least one line")
    positions = [line.position for line in document.lines]
    if len(set(positions)) != len(positions):
        raise RuleViolation("lines", "BT-126: line positions are unique")
    for index, line in enumerate(document.lines):
        field = f"lines[{index}]"
        if not line.description.strip():
            raise RuleViolation(f"{field}.description", "BR-25: a line has an item name")
        if line.tax_category not in CATEGORIES:
            raise RuleViolation(
                f"{field}.tax_category", f"{line.tax_category!r} is not one of {CATEGORIES}"
            )
        if line.tax_category == "S" and line.tax_rate <= 0:
            raise RuleViolation(f"{field}.tax_rate", "BR-S-05: a standard-rated line has rate > 0")
        if line.tax_category != "S" and line.tax_rate != 0:
            raise RuleViolation(
                f"{field}.tax_rate",
                f"BR-{line.tax_category}-05: a line in category {line.tax_category} has rate 0",
            )
        if line.unit_price < 0:
            raise RuleViolation(
                f"{field}.unit_price",
                "BR-27: the net price is never negative; a negative line has a negative quantity",
            )
        _check_cents(f"{field}.net_amount", line.net_amount)
        if line.period_start and line.period_end and line.period_end < line.period_start:
            raise RuleViolation(f"{field}.period_end", "BR-30: a period ends on or after its start")
    categories = {line.tax_category for line in document.lines}
    if "O" in categories and categories != {"O"}:
        raise RuleViolation(
            "lines", "BR-O-12: a document outside the scope of VAT has only lines in category O"
        )


def _check_tax_ids(document: EInvoice) -> None:
    categories = {line.tax_category for line in document.lines}
    required = sorted(categories & SELLER_ID_REQUIRED)
    if required and not document.seller.tax_id:
        raise RuleViolation(
            "seller.tax_id",
            f"BR-{required[0]}-02: a line in category {required[0]} needs the seller's VAT id",
        )
    if "AE" in categories:
        if vat_id(document.seller) is None:
            raise RuleViolation(
                "seller.tax_id", "BR-AE-02: a reverse-charge line needs the seller's VAT id"
            )
        if vat_id(document.buyer) is None:
            raise RuleViolation(
                "buyer.tax_id", "BR-AE-02: a reverse-charge line needs the buyer's VAT id"
            )


def _check_breakdown(document: EInvoice) -> None:
    """BR-CO-18 and BR-x-01/08/09/10: one subtotal per category and rate, matching the lines."""
    bases: dict[tuple[str, Decimal], Decimal] = defaultdict(Decimal)
    for line in document.lines:
        bases[(line.tax_category, line.tax_rate)] += line.net_amount
    seen: set[tuple[str, Decimal]] = set()
    for index, subtotal in enumerate(document.tax_subtotals):
        field = f"tax_subtotals[{index}]"
        key = (subtotal.category, subtotal.rate)
        name = f"{subtotal.category} at {subtotal.rate} %"
        if key in seen:
            raise RuleViolation(field, f"BR-CO-18: one subtotal per category and rate ({name})")
        seen.add(key)
        if key not in bases:
            raise RuleViolation(field, f"BR-CO-18: no line is in {name}")
        _check_cents(f"{field}.basis", subtotal.basis)
        _check_cents(f"{field}.tax_amount", subtotal.tax_amount)
        if subtotal.basis != bases[key]:
            raise RuleViolation(
                f"{field}.basis",
                f"BR-{subtotal.category}-08: {name} is {subtotal.basis}, "
                f"its lines add up to {bases[key]}",
            )
        if subtotal.category == "S":
            expected = (subtotal.basis * subtotal.rate / 100).quantize(CENT, ROUND_HALF_UP)
            if abs(subtotal.tax_amount - expected) > CENT:
                raise RuleViolation(
                    f"{field}.tax_amount",
                    f"BR-CO-17: {subtotal.rate} % of {subtotal.basis} is {expected}, "
                    f"not {subtotal.tax_amount}",
                )
        elif subtotal.tax_amount != 0:
            raise RuleViolation(
                f"{field}.tax_amount", f"BR-{subtotal.category}-09: the tax of {name} is 0"
            )
        reason = (subtotal.exemption_reason or "").strip()
        if subtotal.category in EXEMPT and not reason:
            raise RuleViolation(
                f"{field}.exemption_reason",
                f"BR-{subtotal.category}-10: {name} needs an exemption reason",
            )
        if subtotal.category not in EXEMPT and reason:
            raise RuleViolation(
                f"{field}.exemption_reason",
                f"BR-{subtotal.category}-10: {name} has no exemption reason",
            )
    missing = sorted(f"{category} at {rate} %" for category, rate in bases.keys() - seen)
    if missing:
        raise RuleViolation(
            "tax_subtotals", f"BR-CO-18: no subtotal for the lines in {', '.join(missing)}"
        )


def _check_totals(document: EInvoice) -> None:
    for name in (
        "line_total",
        "tax_basis_total",
        "tax_total",
        "grand_total",
        "prepaid_amount",
        "due_payable",
    ):
        _check_cents(name, getattr(document, name))
    lines = _sum(line.net_amount for line in document.lines)
    _equal("line_total", "BR-CO-10", document.line_total, lines, "the sum of the line amounts")
    # leadbill has no document-level allowances or charges, so BT-109 is BT-106.
    _equal("tax_basis_total", "BR-CO-13", document.tax_basis_total, lines, "the line total")
    taxes = _sum(subtotal.tax_amount for subtotal in document.tax_subtotals)
    _equal("tax_total", "BR-CO-14", document.tax_total, taxes, "the sum of the tax subtotals")
    _equal(
        "grand_total",
        "BR-CO-15",
        document.grand_total,
        document.tax_basis_total + document.tax_total,
        "tax_basis_total + tax_total",
    )
    if document.prepaid_amount < 0:
        raise RuleViolation("prepaid_amount", "credit already applied is a positive amount")
    _equal(
        "due_payable",
        "BR-CO-16",
        document.due_payable,
        document.grand_total - document.prepaid_amount,
        "grand_total - prepaid_amount",
    )
    if document.due_payable > 0 and not (document.due_date or document.payment_terms):
        raise RuleViolation("due_date", "BR-CO-25: an amount due needs a due date or payment terms")


def _check_cents(field: str, amount: Decimal) -> None:
    if not amount.is_finite() or amount != amount.quantize(CENT):
        raise RuleViolation(field, f"BR-DEC: {amount} has more than two decimals")


def _equal(field: str, rule: str, actual: Decimal, expected: Decimal, what: str) -> None:
    if actual != expected:
        raise RuleViolation(field, f"{rule}: {actual} is not {what} ({expected})")


def _sum(amounts: Iterable[Decimal]) -> Decimal:
    return sum(amounts, Decimal(0))


def _check_payment(document: EInvoice) -> None:
    """BR-61: a credit transfer (means 30 or 58) names the account to pay to."""
    transfer = document.credit_transfer
    if transfer is None:
        return
    if not (transfer.iban or transfer.account_id):
        raise RuleViolation(
            "credit_transfer", "BR-61: a credit transfer names the payee's account (BT-84)"
        )
    if document.payment_reference is not None and not document.payment_reference.strip():
        raise RuleViolation("payment_reference", "BT-83: the remittance information is not empty")
