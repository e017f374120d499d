"""The event types leadbill sends, and the `data` each one carries.

Every message body is a JSON object (Standard Webhooks' recommended shape):

    {"type": "invoice.finalized", "timestamp": "2026-02-01T00:00:00Z",
     "data": {"account": "acme", ...}}

`timestamp` is when the change happened in leadbill's terms (the instant an
invoice was finalized, a payment received, a threshold crossed, a period
opened), never the delivery time; `data.account` is the account's code.
Money is `{"amount": "1000.00", "currency": "USD"}`; instants are RFC 3339 in
UTC. The builders below are the one place each shape is written: features
that emit an event pass their result to `leadbill.webhooks.service.emit`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from leadbill.schemas import money

INVOICE_FINALIZED = "invoice.finalized"
INVOICE_PAID = "invoice.paid"
INVOICE_OVERDUE = "invoice.overdue"
CREDIT_NOTE_ISSUED = "credit_note.issued"
REVIEW_SUBMITTED = "review.submitted"
REVIEW_DECIDED = "review.decided"
USAGE_THRESHOLD_REACHED = "usage.threshold_reached"
SUBSCRIPTION_RENEWED = "subscription.renewed"
SUBSCRIPTION_CANCELLED = "subscription.cancelled"
MAIL_FAILED = "mail.failed"

EVENT_TYPES = (
    INVOICE_FINALIZED,
    INVOICE_PAID,
    INVOICE_OVERDUE,
    CREDIT_NOTE_ISSUED,
    REVIEW_SUBMITTED,
    REVIEW_DECIDED,
    USAGE_THRESHOLD_REACHED,
    SUBSCRIPTION_RENEWED,
    SUBSCRIPTION_CANCELLED,
    MAIL_FAILED,
)


def instant(value: datetime | None) -> str | None:
    """An instant as RFC 3339 in UTC with a `Z` (None stays None)."""
    if value is None:
        return None
    text = value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return text


def _money(amount: Decimal, currency: str) -> dict[str, str]:
    return money(amount, currency).model_dump()


def invoice_data(
    *,
    id: int,
    number: str | None,
    kind: str,
    status: str,
    currency: str,
    total: Decimal,
    issued_at: datetime,
    finalized_at: datetime | None,
    paid_at: datetime | None,
    subscription_id: int | None,
) -> dict[str, Any]:
    """`data` of invoice.finalized and invoice.paid: the invoice as it stands after the change."""
    return {
        "id": id,
        "number": number,
        "kind": kind,
        "status": status,
        "total": _money(total, currency),
        "subscription_id": subscription_id,
        "issued_at": instant(issued_at),
        "finalized_at": instant(finalized_at),
        "paid_at": instant(paid_at),
    }


def invoice_overdue_data(
    invoice: dict[str, Any], *, due_on: date, days_overdue: int, amount_due: Decimal
) -> dict[str, Any]:
    """`data` of invoice.overdue: the invoice (as invoice.finalized has it), the date dunning
    counts from, the days past it on the account's local date, and what is still due."""
    return {
        **invoice,
        "due_on": due_on.isoformat(),
        "days_overdue": days_overdue,
        "amount_due": _money(amount_due, invoice["total"]["currency"]),
    }


def subscription_renewed_data(
    *,
    subscription_id: int,
    plan: str,
    period_index: int,
    period_start: datetime,
    period_end: datetime,
    licences: int,
) -> dict[str, Any]:
    """`data` of subscription.renewed: the period just opened and its plan (by code)."""
    return {
        "subscription_id": subscription_id,
        "plan": plan,
        "period_index": period_index,
        "period_start": instant(period_start),
        "period_end": instant(period_end),
        "licences": licences,
    }


def subscription_cancelled_data(
    *,
    subscription_id: int,
    plan: str,
    cancel_requested_at: datetime | None,
    ended_at: datetime,
    last_period_index: int,
) -> dict[str, Any]:
    """`data` of subscription.cancelled: sent when the cancellation takes effect (period end)."""
    return {
        "subscription_id": subscription_id,
        "plan": plan,
        "cancel_requested_at": instant(cancel_requested_at),
        "ended_at": instant(ended_at),
        "last_period_index": last_period_index,
    }


def threshold_data(
    *,
    subscription_id: int,
    period_index: int,
    threshold: int,
    leads: int,
    included_leads: int,
    lead_id: str,
    crossed_at: datetime,
) -> dict[str, Any]:
    """`data` of usage.threshold_reached: `threshold` % of the included leads reached.

    `lead_id` is the operator's id of the lead that reached it, `leads` the
    counted leads at that moment.
    """
    return {
        "subscription_id": subscription_id,
        "period_index": period_index,
        "threshold": threshold,
        "leads": leads,
        "included_leads": included_leads,
        "lead_id": lead_id,
        "crossed_at": instant(crossed_at),
    }


def review_data(
    *,
    review_id: int,
    lead_id: str,
    status: str,
    reason: str,
    explanation: str,
    submitted_at: datetime,
    due_at: datetime | None = None,
    decision: str | None = None,
    decided_at: datetime | None = None,
    note: str | None = None,
) -> dict[str, Any]:
    """`data` of review.submitted and review.decided.

    `lead_id` is the operator's id of the disputed lead; `reason` a non-billable
    reason (R10); `status` the review's status after the change; `decision`
    (approved, rejected, more_information), `decided_at` and `note` are null
    until a reviewer decides.
    """
    return {
        "review_id": review_id,
        "lead_id": lead_id,
        "status": status,
        "reason": reason,
        "explanation": explanation,
        "submitted_at": instant(submitted_at),
        "due_at": instant(due_at),
        "decision": decision,
        "decided_at": instant(decided_at),
        "note": note,
    }


def credit_note_data(
    *,
    credit_note_id: int,
    number: str | None,
    invoice_number: str,
    currency: str,
    total: Decimal,
    issued_at: datetime,
    reason: str,
    review_id: int | None = None,
    subscription_change_id: int | None = None,
) -> dict[str, Any]:
    """`data` of credit_note.issued: the credit note, the invoice it corrects, and why.

    `review_id` is set for a credit of an approved review (R15),
    `subscription_change_id` for the fee difference of an immediate downgrade (R7).
    """
    return {
        "credit_note_id": credit_note_id,
        "number": number,
        "invoice_number": invoice_number,
        "total": _money(total, currency),
        "issued_at": instant(issued_at),
        "reason": reason,
        "review_id": review_id,
        "subscription_change_id": subscription_change_id,
    }


def mail_failed_data(
    *,
    message_id: int,
    kind: str,
    recipient: str,
    code: int | None,
    error: str | None,
    attempts: int,
) -> dict[str, Any]:
    """`data` of mail.failed: a message refused for good (5xx) or out of attempts."""
    return {
        "message_id": message_id,
        "kind": kind,
        "recipient": recipient,
        "smtp_code": code,
        "error": error,
        "attempts": attempts,
    }
