"""API shapes of billing runs, invoices and payments."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from leadbill.billing.explain import InvoiceExplanation
from leadbill.billing.instructions import PaymentInstructions, payment_instructions
from leadbill.billing.invoices import invoice_lines
from leadbill.billing.models import Invoice, InvoiceLine, Payment
from leadbill.billing.payments import amount_paid, balance_due, payments_of
from leadbill.pagination import PageInfo
from leadbill.schemas import DecimalString, Instant, MoneyOut, RequestModel, money


class BillingRunCreate(RequestModel):
    """Invoice every period that ended by `as_of`."""

    as_of: Instant = Field(examples=["2026-02-01T00:00:00Z"])


class BillingRunOut(BaseModel):
    """What one billing run did."""

    as_of: datetime
    invoices_issued: int
    subscriptions_renewed: int
    subscriptions_ended: int
    invoice_numbers: list[str]


class InvoiceLineOut(BaseModel):
    """One line of an invoice, rounded once when it was rated."""

    position: int
    kind: str
    description: str
    quantity: int
    unit_price: MoneyOut
    amount: MoneyOut
    period_start: datetime | None
    period_end: datetime | None
    tax_category: str | None = Field(
        description="EN 16931 VAT category: S, AE (reverse charge), E (exempt), O (not "
        "subject); null when no billing entity issued the invoice"
    )
    tax_rate: str = Field(description="the rate in percent, a decimal string (25 is 25 %)")
    tax: MoneyOut = Field(description="the line's tax, rounded once")

    @classmethod
    def of(cls, line: InvoiceLine, currency: str) -> InvoiceLineOut:
        """The API shape of a stored line."""
        return cls(
            position=line.position,
            kind=line.kind,
            description=line.description,
            quantity=line.quantity,
            unit_price=money(line.unit_price, currency),
            amount=money(line.amount, currency),
            period_start=line.period_start,
            period_end=line.period_end,
            tax_category=line.tax_category,
            tax_rate=format(line.tax_rate.normalize(), "f"),
            tax=money(line.tax_amount, currency),
        )


class PaymentIn(RequestModel):
    """Money received against an invoice; the reference is unique per account."""

    amount: DecimalString
    currency: str = Field(min_length=3, max_length=3, examples=["USD"])
    reference: str = Field(min_length=1, max_length=128, examples=["wire-2026-0042"])
    received_at: Instant | None = Field(
        default=None, description="when the money arrived (default: now)"
    )
    method: Literal["bank_transfer", "sepa_debit", "card", "other"] = Field(
        default="bank_transfer", description="how the money came"
    )
    provider_reference: str | None = Field(
        default=None,
        max_length=128,
        description="the bank's or provider's reference (e.g. a statement entry reference)",
    )
    fee: DecimalString | None = Field(
        default=None, description="what the bank or provider kept, where known (0 to amount)"
    )


class PaymentOut(BaseModel):
    """A payment recorded against an invoice."""

    invoice: str
    amount: MoneyOut
    reference: str
    received_at: datetime
    method: str = Field(description="bank_transfer, sepa_debit, card or other")
    provider_reference: str | None
    fee: MoneyOut | None = Field(description="what the provider kept (null: not known)")

    @classmethod
    def of(cls, payment: Payment, invoice_label: str) -> PaymentOut:
        """The API shape of a stored payment."""
        return cls(
            invoice=invoice_label,
            amount=money(payment.amount, payment.currency),
            reference=payment.reference,
            received_at=payment.received_at,
            method=payment.method,
            provider_reference=payment.provider_reference,
            fee=money(payment.fee, payment.currency) if payment.fee is not None else None,
        )


class InvoiceOut(BaseModel):
    """An invoice; `number` is null while it is a draft (then `id` names it)."""

    id: int
    number: str | None
    account: str
    kind: str
    status: str = Field(description="draft, open, paid, void or uncollectible")
    total: MoneyOut
    issued_at: datetime
    finalized_at: datetime | None
    paid_at: datetime | None
    voided_at: datetime | None
    due_on: date | None = Field(
        description="the issue date in the account's time zone plus its payment terms "
        "(null for a draft)"
    )
    days_overdue: int = Field(
        description="days past `due_on` at `as_of` in the account's time zone, while open "
        "with a balance due; 0 when not overdue"
    )
    uncollectible_at: datetime | None
    uncollectible_reason: str | None
    payment_reference: str | None = Field(
        description="the ISO 11649 creditor reference (RF...) to quote with a bank transfer, "
        "derived from the number at finalization (null for a draft)"
    )

    @classmethod
    def fields(cls, invoice: Invoice, account_code: str, days_overdue: int) -> dict[str, Any]:
        """The shared fields of a stored invoice, with its days overdue at the request's as_of."""
        return {
            "id": invoice.id,
            "number": invoice.number,
            "account": account_code,
            "kind": invoice.kind,
            "status": invoice.status,
            "total": money(invoice.total, invoice.currency),
            "issued_at": invoice.issued_at,
            "finalized_at": invoice.finalized_at,
            "paid_at": invoice.paid_at,
            "voided_at": invoice.voided_at,
            "due_on": invoice.due_on,
            "days_overdue": days_overdue,
            "uncollectible_at": invoice.uncollectible_at,
            "uncollectible_reason": invoice.uncollectible_reason,
            "payment_reference": invoice.payment_reference,
        }


class PaymentInstructionsOut(BaseModel):
    """How to pay the invoice's balance by bank transfer, from the issuer as finalized."""

    payee: str = Field(description="the account holder: the issuer's legal name")
    bank_name: str | None
    iban: str | None = Field(description="compact IBAN (null for a US account)")
    bic: str | None
    account_number: str | None = Field(description="US account number (null with an IBAN)")
    routing_number: str | None = Field(description="US ABA routing number")
    reference: str = Field(description="what to quote: the RF creditor reference")
    amount: MoneyOut = Field(description="the balance due")
    due_on: date | None

    @classmethod
    def of(cls, found: PaymentInstructions) -> PaymentInstructionsOut:
        """The API shape of an invoice's transfer instructions."""
        return cls(
            payee=found.payee,
            bank_name=found.bank_name,
            iban=found.iban,
            bic=found.bic,
            account_number=found.account_number,
            routing_number=found.routing_number,
            reference=found.reference,
            amount=money(found.amount, found.currency),
            due_on=found.due_on,
        )


class InvoiceDetail(InvoiceOut):
    """An invoice with its lines and payments, its issuer and customer as finalized."""

    net_total: MoneyOut = Field(description="the sum of the lines' net amounts (credits apart)")
    tax_total: MoneyOut = Field(description="the sum of the lines' taxes")
    issuer: dict[str, Any] | None = Field(
        description="the billing entity as it was at finalization (null before entities)"
    )
    customer: dict[str, Any] | None = Field(
        description="the account's billing details as they were at finalization"
    )
    tax_mention: str | None = Field(description="the legal mention of the tax, if any")
    lines: list[InvoiceLineOut]
    payments: list[PaymentOut]
    amount_paid: MoneyOut
    balance_due: MoneyOut
    payment_instructions: PaymentInstructionsOut | None = Field(
        description="bank transfer instructions (null for a draft, or when the issuer had no "
        "bank account)"
    )

    @classmethod
    def of(
        cls, session: Session, invoice: Invoice, account_code: str, days_overdue: int
    ) -> InvoiceDetail:
        """The API shape of a stored invoice with its lines, payments and balance."""
        currency = invoice.currency
        label = invoice.number or str(invoice.id)
        balance = balance_due(session, invoice)
        instructions = payment_instructions(invoice, balance)
        return cls(
            **InvoiceOut.fields(invoice, account_code, days_overdue),
            net_total=money(invoice.net_total, currency),
            tax_total=money(invoice.tax_total, currency),
            issuer=invoice.issuer,
            customer=invoice.customer,
            tax_mention=invoice.tax_mention,
            lines=[InvoiceLineOut.of(x, currency) for x in invoice_lines(session, invoice.id)],
            payments=[PaymentOut.of(p, label) for p in payments_of(session, invoice.id)],
            amount_paid=money(amount_paid(session, invoice), currency),
            balance_due=money(balance, currency),
            payment_instructions=(
                PaymentInstructionsOut.of(instructions) if instructions is not None else None
            ),
        )


class InvoicePage(BaseModel):
    """One page of invoices, oldest first."""

    data: list[InvoiceOut]
    page: PageInfo


class PaymentRecorded(BaseModel):
    """The payment and the invoice's status after it."""

    payment: PaymentOut
    invoice_status: str
    balance_due: MoneyOut


class ExplainedLineOut(BaseModel):
    """One invoice line and what is behind it; an overage line has leads behind it
    (`GET /invoices/{number}/lines/{position}/leads`)."""

    position: int
    kind: str
    description: str
    quantity: int
    amount: MoneyOut
    explanation: str
    has_leads: bool
    counted_leads: int | None = None
    within_allowance: int | None = Field(
        default=None, description="counted leads the allowance covered"
    )


class InvoiceExplanationOut(BaseModel):
    """Each line of an invoice explained: what it charges and why."""

    invoice: str
    account: str
    lines: list[ExplainedLineOut]

    @classmethod
    def of(cls, explained: InvoiceExplanation) -> InvoiceExplanationOut:
        """The API shape of an invoice's explanation (the leads are paged apart)."""
        return cls(
            invoice=explained.invoice_label,
            account=explained.account_code,
            lines=[
                ExplainedLineOut(
                    position=line.position,
                    kind=line.kind,
                    description=line.description,
                    quantity=line.quantity,
                    amount=money(line.amount.amount, line.amount.currency),
                    explanation=line.explanation,
                    has_leads=line.scope is not None,
                    counted_leads=line.counted_leads if line.scope is not None else None,
                    within_allowance=line.allowance if line.scope is not None else None,
                )
                for line in explained.lines
            ],
        )


class ExplainedLeadOut(BaseModel):
    """One lead of an overage line's period: counted or not, why, and whether it is overage."""

    lead_id: str
    seat: str | None
    counted: bool
    reason: str
    reason_text: str
    counted_at: datetime | None
    overage: bool


class ExplainedLeadPage(BaseModel):
    """One page of the leads behind an invoice line, by lead id."""

    invoice: str
    position: int
    data: list[ExplainedLeadOut]
    page: PageInfo
