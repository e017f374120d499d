"""What the notification templates are given, read from each message's cause when it is sent.

`leadbill.mail.messages` renders every kind; for the notification kinds it asks
`context_of` here for the template's names and the issuer whose address sends
it. Dates are in the account's time zone, amounts as `format_money` writes them.
A receipt's balance is what was left right after that payment (the payments
recorded before it and itself), so a receipt sent late still tells its own moment.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadbill.accounts.models import Account
from leadbill.billing.models import Invoice, Payment
from leadbill.billing.taxation import account_billing
from leadbill.core.periods import Interval, period_at
from leadbill.credit_notes.models import CreditNote
from leadbill.documents.formats import last_day, local, money
from leadbill.leads.models import Lead
from leadbill.mail.models import MailMessage
from leadbill.mail.service import PAYMENT_RECEIVED, REVIEW_DECIDED, USAGE_THRESHOLD_REACHED
from leadbill.notifications.models import MailNotification
from leadbill.plans.models import Plan
from leadbill.reviews.models import Review, ReviewEvent
from leadbill.settings import Settings
from leadbill.subscriptions.models import Subscription, SubscriptionPeriod
from leadbill.usage.models import UsageThresholdCrossing

# How the message words each decision (the trail's entry kind).
DECISIONS = {
    "approved": "approved",
    "rejected": "rejected",
    "info_requested": "more information needed",
}


@dataclass(frozen=True, slots=True)
class Context:
    """A notification's template names, and the issuer (snapshot, entity) that sends it."""

    names: dict[str, Any]
    issuer: dict[str, Any] | None
    entity_id: int | None


def _cause(session: Session, message: MailMessage) -> MailNotification:
    return session.scalars(
        select(MailNotification).where(MailNotification.mail_message_id == message.id)
    ).one()


def _common(session: Session, account: Account, settings: Settings) -> dict[str, Any]:
    billing = account_billing(session, account.id)
    return {
        "account": account,
        "issuer": (billing.issuer or {}).get("legal_name") or settings.operator_name,
        "time_zone": account.time_zone,
        "_billing": billing,
    }


def _finish(names: dict[str, Any]) -> Context:
    billing = names.pop("_billing")
    return Context(names, billing.issuer, billing.entity_id)


def _review_decided(session: Session, cause: MailNotification, settings: Settings) -> Context:
    event = session.get_one(ReviewEvent, cause.review_event_id)
    review = session.get_one(Review, event.review_id)
    account = session.get_one(Account, review.account_id)
    lead = session.get_one(Lead, review.lead_id)
    note = review.decision_note if event.kind == "approved" else event.detail
    credit = None
    if event.kind == "approved":
        credit = session.scalar(select(CreditNote).where(CreditNote.review_id == review.id))
    names = _common(session, account, settings)
    names.update(
        decision=DECISIONS[event.kind],
        approved=event.kind == "approved",
        question=event.kind == "info_requested",
        review_id=review.id,
        lead_id=lead.external_id,
        reason=review.reason.replace("_", " "),
        note=note,
        decided_on=local(event.at, account.time_zone, "%Y-%m-%d %H:%M"),
        submitted_on=local(review.submitted_at, account.time_zone, "%Y-%m-%d"),
        credit_note=credit.number if credit is not None else None,
        credit_total=money(credit.total, credit.currency) if credit is not None else None,
        link=f"{settings.portal_url}/portal/reviews",
    )
    return _finish(names)


def _threshold_reached(session: Session, cause: MailNotification, settings: Settings) -> Context:
    crossing = session.get_one(UsageThresholdCrossing, cause.threshold_crossing_id)
    account = session.get_one(Account, crossing.account_id)
    lead = session.get_one(Lead, crossing.lead_id)
    opened = session.scalar(
        select(SubscriptionPeriod).where(
            SubscriptionPeriod.subscription_id == crossing.subscription_id,
            SubscriptionPeriod.period_index == crossing.period_index,
        )
    )
    if opened is not None:
        start, end = opened.start, opened.end
    else:  # a period the billing run has not opened yet: its calendar bounds
        subscription = session.get_one(Subscription, crossing.subscription_id)
        plan = session.get_one(Plan, subscription.plan_id)
        period = period_at(
            subscription.anchor_at,
            account.time_zone,
            Interval(plan.interval),
            crossing.period_index,
        )
        start, end = period.start, period.end
    tz = account.time_zone
    names = _common(session, account, settings)
    names.update(
        threshold=crossing.threshold,
        full=crossing.threshold >= 100,
        leads=crossing.leads,
        lead_id=lead.external_id,
        reached_at=local(crossing.crossed_at, tz, "%Y-%m-%d %H:%M"),
        period_start=local(start, tz, "%Y-%m-%d"),
        period_last_day=last_day(end, tz),
        link=f"{settings.portal_url}/portal/dashboard",
        settings_link=f"{settings.portal_url}/portal/billing-details#notifications",
    )
    return _finish(names)


def _payment_received(session: Session, cause: MailNotification, settings: Settings) -> Context:
    payment = session.get_one(Payment, cause.payment_id)
    invoice = session.get_one(Invoice, payment.invoice_id)
    account = session.get_one(Account, invoice.account_id)
    paid_so_far = session.scalars(
        select(Payment.amount).where(
            Payment.invoice_id == invoice.id,
            (Payment.received_at < payment.received_at)
            | ((Payment.received_at == payment.received_at) & (Payment.id <= payment.id)),
        )
    ).all()
    left = invoice.total - sum(paid_so_far, Decimal(0))
    number = invoice.number or str(invoice.id)
    tz = account.time_zone
    names = _common(session, account, settings)
    names.update(
        issuer=(invoice.issuer or {}).get("legal_name") or settings.operator_name,
        number=number,
        amount=money(payment.amount, payment.currency),
        total=money(invoice.total, invoice.currency),
        balance=money(left, invoice.currency),
        settled=left <= 0,
        reference=payment.reference,
        received_on=local(payment.received_at, tz, "%Y-%m-%d"),
        link=f"{settings.portal_url}/portal/invoices/{number}",
        settings_link=f"{settings.portal_url}/portal/billing-details#notifications",
    )
    context = _finish(names)
    # A receipt comes from whoever issued the invoice.
    return Context(context.names, invoice.issuer, invoice.billing_entity_id)


_BUILDERS = {
    REVIEW_DECIDED: _review_decided,
    USAGE_THRESHOLD_REACHED: _threshold_reached,
    PAYMENT_RECEIVED: _payment_received,
}
KINDS = tuple(_BUILDERS)


def context_of(session: Session, message: MailMessage, settings: Settings) -> Context:
    """The template names of a notification message, from its cause as it stands."""
    return _BUILDERS[message.kind](session, _cause(session, message), settings)
