"""Credit notes of immediate downgrades (R7).

An immediate downgrade makes the fee difference for the rest of the period
negative. Nobody owes a negative amount, so instead of an invoice it is a credit
note against the invoice(s) that charged the fee being reduced: the period's
invoice (its plan fee lines) and the period's earlier change invoices (an
upgrade's prorated difference), newest charge first, each credited at most what
it charged less what earlier downgrades already took back. Usually that is one
credit note, against the latest upgrade's change invoice or the period's invoice.
The billing run applies it to the account's next invoice like any credit note.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadbill.billing.models import Invoice, InvoiceLine
from leadbill.core.errors import RuleViolation
from leadbill.core.money import Money
from leadbill.core.periods import Period
from leadbill.core.proration import downgrade_credit_lines
from leadbill.core.rating import Line, LineKind
from leadbill.credit_notes.models import CreditNote
from leadbill.credit_notes.service import issue_credit_note
from leadbill.errors import from_rule
from leadbill.subscriptions.models import SubscriptionChange

REASON = "plan_downgrade"


def fee_charges(
    session: Session, subscription_id: int, period: Period, at: datetime, currency: str
) -> list[tuple[Invoice, Money]]:
    """The period's invoices that charged its fee before `at`, newest first, with what is left.

    What is left of an invoice is its fee lines (plan fee, positive proration)
    less the credit notes earlier plan changes issued against it.
    """
    changes = session.scalars(
        select(Invoice)
        .where(
            Invoice.subscription_id == subscription_id,
            Invoice.kind == "change",
            Invoice.issued_at >= period.start,
            Invoice.issued_at < at,
        )
        .order_by(Invoice.issued_at.desc(), Invoice.id.desc())
    ).all()
    opening = session.scalars(
        select(Invoice).where(
            Invoice.subscription_id == subscription_id,
            Invoice.boundary_index == period.index,
        )
    ).all()
    invoices = [
        invoice
        for invoice in [*changes, *opening]
        if invoice.number is not None and invoice.status != "void"
    ]
    if not invoices:
        return []
    ids = [invoice.id for invoice in invoices]
    charged: dict[int, Decimal] = {}
    # Summed in Python as Decimals: SQLite keeps money as text.
    for invoice_id, amount in session.execute(
        select(InvoiceLine.invoice_id, InvoiceLine.amount).where(
            InvoiceLine.invoice_id.in_(ids),
            InvoiceLine.kind.in_([LineKind.PLAN_FEE.value, LineKind.PRORATION.value]),
        )
    ):
        if Decimal(amount) > 0:
            charged[invoice_id] = charged.get(invoice_id, Decimal(0)) + Decimal(amount)
    for invoice_id, total in session.execute(
        select(CreditNote.invoice_id, CreditNote.total).where(
            CreditNote.invoice_id.in_(ids), CreditNote.subscription_change_id.is_not(None)
        )
    ):
        charged[invoice_id] = charged.get(invoice_id, Decimal(0)) - Decimal(total)
    return [
        (invoice, Money(max(charged.get(invoice.id, Decimal(0)), Decimal(0)), currency))
        for invoice in invoices
    ]


def credit_downgrade(
    session: Session,
    change: SubscriptionChange,
    fee_line: Line,
    period: Period,
    currency: str,
) -> list[CreditNote]:
    """Issue the credit note(s) of an immediate downgrade's negative fee difference (R7)."""
    charges = fee_charges(session, change.subscription_id, period, change.requested_at, currency)
    try:
        lines = downgrade_credit_lines(fee_line, [left for _invoice, left in charges])
    except RuleViolation as error:
        raise from_rule(error) from None
    return [
        issue_credit_note(
            session,
            account_id=change.account_id,
            invoice=invoice,
            reason=REASON,
            lines=[line],
            issued_at=change.requested_at,
            subscription_change_id=change.id,
        )
        for (invoice, _left), line in zip(charges, lines, strict=True)
        if line is not None
    ]
