"""A finalized invoice as an e-invoice: stored lines, taxes and snapshots as EN 16931 reads them.

The seller and buyer are the invoice's issuer and customer snapshots, never the
entity or account as they are now. Credit notes applied to the invoice (R15)
are not lines of an e-invoice: they were settled by their own credit notes, so
they go in the prepaid amount (BT-113), tax included, and the amount due
(BT-115) is the invoice's total. Line periods are dates in the account's time
zone, the end inclusive (the day before the period's exclusive end).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from leadbill.accounts.models import Account
from leadbill.billing.invoices import invoice_lines, stored_lines
from leadbill.billing.models import Invoice
from leadbill.core.rating import LineKind
from leadbill.core.tax import document_totals
from leadbill.einvoice.document import (
    CreditTransfer,
    DocumentLine,
    EInvoice,
    Party,
    TaxCategory,
    TaxSubtotal,
)
from leadbill.errors import Conflict

# EN 16931 wants a reason on every line of tax that is not charged.
DEFAULT_REASONS = {
    "AE": "Reverse charge",
    "E": "Exempt from tax",
    "O": "Not subject to VAT",
}


def _party(snapshot: dict[str, Any], fallback_country: str) -> Party:
    return Party(
        legal_name=str(snapshot.get("legal_name") or snapshot.get("code") or ""),
        address_line1=str(snapshot.get("address_line1") or ""),
        address_line2=snapshot.get("address_line2"),
        city=str(snapshot.get("city") or ""),
        postal_code=str(snapshot.get("postal_code") or ""),
        region=snapshot.get("region"),
        country=str(snapshot.get("country") or fallback_country),
        tax_id=snapshot.get("tax_id"),
        email=snapshot.get("email"),
    )


def _credit_transfer(issuer: dict[str, Any]) -> CreditTransfer | None:
    """The issuer snapshot's bank account as BG-16/BG-17 (None: it had none)."""
    iban, account = issuer.get("iban"), issuer.get("account_number")
    if not (iban or account):
        return None
    routing = issuer.get("routing_number")
    bank = issuer.get("bank_name")
    words = [f"Bank transfer to {bank}" if bank else "Bank transfer"]
    if routing and not iban:
        words.append(f"ABA routing number {routing}")
    return CreditTransfer(
        iban=iban,
        account_id=None if iban else account,
        account_name=issuer.get("legal_name"),
        bic=issuer.get("bic") if iban else None,
        information=", ".join(words),
    )


def _day(instant: datetime, zone: ZoneInfo) -> date:
    return instant.astimezone(zone).date()


def _last_day(end: datetime, zone: ZoneInfo) -> date:
    """The last day of a period that ends (exclusive) at `end`."""
    return (end - timedelta(microseconds=1)).astimezone(zone).date()


def einvoice_of(session: Session, invoice: Invoice) -> EInvoice:
    """The e-invoice of a finalized invoice with an issuer; a Conflict says why when it has none."""
    if invoice.number is None or invoice.status == "draft":
        raise Conflict(f"invoice {invoice.id} is a draft; only a finalized invoice is sent")
    if invoice.issuer is None or invoice.customer is None:
        raise Conflict(
            f"invoice {invoice.number} was finalized without an issuer (no billing entity was "
            "set up); it has no e-invoice"
        )
    account = session.get_one(Account, invoice.account_id)
    zone = ZoneInfo(account.time_zone)
    lines = stored_lines(invoice_lines(session, invoice.id), invoice.currency)
    totals = document_totals(lines, invoice.currency)
    seller = _party(invoice.issuer, "")
    issue_date = _day(invoice.issued_at, zone)
    items = tuple(
        DocumentLine(
            position=position,
            description=line.description,
            quantity=line.quantity,
            unit_price=line.unit_price.amount,
            net_amount=line.amount.amount,
            tax_category=cast(TaxCategory, line.tax_category),
            tax_rate=line.tax_rate,
            period_start=_day(line.period_start, zone) if line.period_start else None,
            period_end=_last_day(line.period_end, zone) if line.period_end else None,
        )
        for position, line in enumerate(
            (line for line in lines if line.kind is not LineKind.CREDIT), start=1
        )
    )
    if any(line.tax_category is None for line in items):
        raise Conflict(f"invoice {invoice.number} has lines without a tax category")
    subtotals = tuple(
        TaxSubtotal(
            category=cast(TaxCategory, part.category),
            rate=part.rate,
            basis=part.basis.amount,
            tax_amount=part.tax.amount,
            exemption_reason=(
                None
                if part.category == "S"
                else invoice.tax_mention or DEFAULT_REASONS.get(part.category)
            ),
        )
        for part in totals.subtotals
    )
    terms = (invoice.due_on - issue_date).days if invoice.due_on else None
    return EInvoice(
        kind="invoice",
        number=invoice.number,
        issue_date=issue_date,
        due_date=invoice.due_on,
        currency=invoice.currency,
        seller=seller,
        buyer=_party(invoice.customer, seller.country),
        buyer_reference=invoice.customer.get("purchase_order"),
        lines=items,
        tax_subtotals=subtotals,
        line_total=totals.net.amount,
        tax_basis_total=totals.net.amount,
        tax_total=totals.tax.amount,
        grand_total=totals.gross.amount,
        prepaid_amount=-totals.credits.amount,
        due_payable=totals.due.amount,
        payment_terms=(
            f"Net {terms} days, due {invoice.due_on.isoformat()}"
            if terms is not None and invoice.due_on is not None
            else None
        ),
        payment_reference=invoice.payment_reference or invoice.number,
        credit_transfer=_credit_transfer(invoice.issuer),
        notes=(invoice.tax_mention,) if invoice.tax_mention else (),
    )
