"""Every table, imported in one place for Alembic and tests."""

from leadbill.accounts.models import Account, BillingDetails
from leadbill.auth.models import ApiKey, IdempotentResponse
from leadbill.billing.models import Invoice, InvoiceLine, NumberSequence, Payment
from leadbill.context.models import (
    BlockListEntry,
    Campaign,
    CampaignPause,
    CustomerContact,
    LeadPolicySettings,
    ServiceAreaCode,
)
from leadbill.credit_notes.models import CreditApplication, CreditNote, CreditNoteLine
from leadbill.db import Base
from leadbill.dunning.models import DunningInvoice, DunningReminder
from leadbill.entities.models import BillingEntity
from leadbill.jobs.models import WorkerJob
from leadbill.leads.models import Lead, LeadActivityMonth, LeadDecision, LeadEvent
from leadbill.mail.models import MailAttempt, MailInvoiceBatch, MailMessage
from leadbill.notifications.models import MailNotification, NotificationSetting
from leadbill.password_links.models import PasswordLink
from leadbill.payment_methods.models import PaymentMethod
from leadbill.plans.models import Plan, PlanCategoryPrice
from leadbill.portal.models import PortalSession, User
from leadbill.reviews.models import Review, ReviewEvent
from leadbill.seats.models import Seat
from leadbill.subscriptions.models import Subscription, SubscriptionPeriod, SubscriptionSegment
from leadbill.taxes.models import TaxRate
from leadbill.usage.models import UsageThresholdCrossing
from leadbill.webhooks.models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEndpointEvent,
    WebhookEvent,
)

__all__ = [
    "Account",
    "ApiKey",
    "Base",
    "BillingDetails",
    "BillingEntity",
    "BlockListEntry",
    "Campaign",
    "CampaignPause",
    "CreditApplication",
    "CreditNote",
    "CreditNoteLine",
    "CustomerContact",
    "DunningInvoice",
    "DunningReminder",
    "IdempotentResponse",
    "Invoice",
    "InvoiceLine",
    "Lead",
    "LeadActivityMonth",
    "LeadDecision",
    "LeadEvent",
    "LeadPolicySettings",
    "MailAttempt",
    "MailInvoiceBatch",
    "MailMessage",
    "MailNotification",
    "NotificationSetting",
    "NumberSequence",
    "PasswordLink",
    "Payment",
    "PaymentMethod",
    "Plan",
    "PlanCategoryPrice",
    "PortalSession",
    "Review",
    "ReviewEvent",
    "Seat",
    "ServiceAreaCode",
    "Subscription",
    "SubscriptionPeriod",
    "SubscriptionSegment",
    "TaxRate",
    "UsageThresholdCrossing",
    "User",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEndpointEvent",
    "WebhookEvent",
    "WorkerJob",
]
