"""Who may do what on the staff pages: the API's own role tuples, so the two never drift.

A page or a button exists for a role exactly when the matching API endpoint
answers that role; anything else is refused with 403.
"""

from __future__ import annotations

from leadbill.accounts.endpoints import DETAILS_EDITORS
from leadbill.auth.service import STAFF_READERS, Role
from leadbill.billing.endpoints import BILLERS
from leadbill.dunning.endpoints import READERS as DUNNING_READERS
from leadbill.entities.endpoints import EDITORS as ENTITY_EDITORS
from leadbill.jobs.endpoints import READERS as JOB_READERS
from leadbill.leads.endpoints import DECIDERS as LEAD_DECIDERS
from leadbill.mail.endpoints import STAFF as MAIL_STAFF
from leadbill.portal.web import Visitor, templates
from leadbill.receivables.endpoints import WRITES_OFF
from leadbill.reviews.endpoints import DECIDERS as REVIEW_DECIDERS
from leadbill.taxes.endpoints import EDITORS as TAX_RATE_EDITORS
from leadbill.webhooks.endpoints import READERS as WEBHOOK_READERS

# GET /v1/accounts, /v1/plans, /v1/subscriptions, /v1/invoices, /v1/credit-notes,
# call report, lead decisions, /v1/reports/receivables: every staff role.
READERS: tuple[Role, ...] = tuple(sorted(STAFF_READERS))
# POST /v1/billing-runs and POST /v1/invoices/{number}/payments.
RUNS_BILLING: tuple[Role, ...] = BILLERS
RECORDS_PAYMENTS: tuple[Role, ...] = BILLERS
# POST /v1/invoices/{number}/uncollectible.
MARKS_UNCOLLECTIBLE: tuple[Role, ...] = WRITES_OFF
# POST /v1/accounts/{account}/lead-decisions (R16, proactive review).
DECIDES_LEADS: tuple[Role, ...] = LEAD_DECIDERS
# POST /v1/reviews/{id}/decision.
DECIDES_REVIEWS: tuple[Role, ...] = REVIEW_DECIDERS
# GET /v1/webhook-endpoints, /v1/webhook-deliveries and POST .../redeliver.
READS_WEBHOOKS: tuple[Role, ...] = WEBHOOK_READERS
REDELIVERS_WEBHOOKS: tuple[Role, ...] = WEBHOOK_READERS
# GET /v1/mail-messages, GET /v1/mail-messages/{id} and POST .../resend, staff.
READS_MAIL: tuple[Role, ...] = MAIL_STAFF
# Inviting an account's portal users from its page (no API endpoint; the CLI's `users`).
INVITES_USERS: tuple[Role, ...] = MAIL_STAFF
# GET /v1/worker-jobs.
READS_WORKER_JOBS: tuple[Role, ...] = JOB_READERS
# GET /v1/dunning (staff roles; a customer key reads its own account's over the API).
READS_DUNNING: tuple[Role, ...] = tuple(r for r in DUNNING_READERS if r is not Role.CUSTOMER)
# POST and PATCH /v1/billing-entities, POST .../default (GET: every staff role).
CHANGES_ENTITIES: tuple[Role, ...] = ENTITY_EDITORS
# POST /v1/tax-rates and POST /v1/tax-rates/{id}/end (GET: every staff role).
CHANGES_TAX_RATES: tuple[Role, ...] = TAX_RATE_EDITORS
# PUT /v1/accounts/{account}/billing-details, staff (a customer changes only its own).
EDITS_BILLING_DETAILS: tuple[Role, ...] = tuple(
    r for r in DETAILS_EDITORS if r is not Role.CUSTOMER
)


def staff_only(visitor: Visitor) -> None:
    """Refuse (403) anyone who is not operator staff."""
    visitor.require(*READERS)


def may(visitor: Visitor, roles: tuple[Role, ...]) -> bool:
    """Whether the visitor's role is among `roles` (to show a button or not)."""
    return visitor.role in roles


# What the templates ask (a nav entry, a button), by name.
ACTIONS: dict[str, tuple[Role, ...]] = {
    "run_billing": RUNS_BILLING,
    "record_payments": RECORDS_PAYMENTS,
    "mark_uncollectible": MARKS_UNCOLLECTIBLE,
    "decide_leads": DECIDES_LEADS,
    "decide_reviews": DECIDES_REVIEWS,
    "read_webhooks": READS_WEBHOOKS,
    "redeliver_webhooks": REDELIVERS_WEBHOOKS,
    "read_worker_jobs": READS_WORKER_JOBS,
    "read_mail": READS_MAIL,
    "invite_users": INVITES_USERS,
    "read_dunning": READS_DUNNING,
    "change_entities": CHANGES_ENTITIES,
    "change_tax_rates": CHANGES_TAX_RATES,
    "edit_billing_details": EDITS_BILLING_DETAILS,
}


def staff_may(visitor: Visitor | None, action: str) -> bool:
    """Whether the visitor may do `action` (one of ACTIONS), for the templates."""
    return visitor is not None and visitor.role in ACTIONS[action]


templates.env.globals["staff_may"] = staff_may
