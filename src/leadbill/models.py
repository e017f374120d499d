"""Every table, imported in one place for Alembic and tests."""

from leadbill.accounts.models import Account
from leadbill.billing.models import Invoice, InvoiceLine, NumberSequence, Payment
from leadbill.db import Base
from leadbill.leads.models import Lead, LeadEvent
from leadbill.plans.models import Plan
from leadbill.seats.models import Seat
from leadbill.subscriptions.models import Subscription, SubscriptionPeriod, SubscriptionSegment
from leadbill.usage.models import UsageThresholdCrossing

__all__ = [
    "Account",
    "Base",
    "Invoice",
    "InvoiceLine",
    "Lead",
    "LeadEvent",
    "NumberSequence",
    "Payment",
    "Plan",
    "Seat",
    "Subscription",
    "SubscriptionPeriod",
    "SubscriptionSegment",
    "UsageThresholdCrossing",
]
