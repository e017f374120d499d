"""Billability: whether a lead counts, why, and the instant at which it counts.

A pure function of the lead's events, the plan's counting policy and (for the
per-lead policies) the lead's context: its own details, the account's context
(campaign pauses, service area, customer list, block list, duplicate window),
the account's earlier leads with the same phone or e-mail, and a staff
decision. The instant at which a lead counts fixes the billing period it
belongs to.

Policies (DESIGN.md):
- `called` (R2): a lead counts at its earliest call event; nothing excludes it.
- `received_unless_excluded` (R10-R12, R16): a lead counts at its earliest
  `received` event unless a non-billable reason applies: a staff decision,
  or an automatic reason from the context.
- `contact_found` (R17, R18): a lead counts at its earliest contact_found,
  contact_enriched or contact_verified event, unless a staff decision or the
  account's block list excludes it; contact_not_found alone never counts.

An excluded lead keeps `counted_at`: the instant at which it would have
counted, so that it is reported in that period with its reason.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from leadbill.core.plans import CountingPolicy


class EventType(enum.StrEnum):
    """The kinds of lead event an operator's systems send."""

    RECEIVED = "received"
    CALL_ATTEMPTED = "call_attempted"
    CALL_ANSWERED = "call_answered"
    CALL_MISSED = "call_missed"
    RECORDING_AVAILABLE = "recording_available"
    CONTACT_FOUND = "contact_found"
    CONTACT_ENRICHED = "contact_enriched"
    CONTACT_VERIFIED = "contact_verified"
    CONTACT_NOT_FOUND = "contact_not_found"
    OUTCOME = "outcome"


CALL_EVENTS = frozenset({EventType.CALL_ATTEMPTED, EventType.CALL_ANSWERED, EventType.CALL_MISSED})
FOUND_EVENTS = frozenset(
    {EventType.CONTACT_FOUND, EventType.CONTACT_ENRICHED, EventType.CONTACT_VERIFIED}
)


class Reason(enum.StrEnum):
    """Why a lead counted or did not."""

    CALLED = "called"
    NEVER_CALLED = "never_called"
    NO_COUNTING_POLICY = "no_counting_policy"
    RECEIVED = "received"
    NEVER_RECEIVED = "never_received"
    CONTACT_FOUND = "contact_found"
    NO_CONTACT_FOUND = "no_contact_found"
    # The non-billable reasons of R10: the fixed vocabulary of staff decisions.
    WRONG_NUMBER = "wrong_number"
    JOB_SEEKER = "job_seeker"
    SOLICITOR = "solicitor"
    SERVICE_NOT_OFFERED = "service_not_offered"
    PREVIOUS_CUSTOMER = "previous_customer"
    OUTSIDE_SERVICE_AREA = "outside_service_area"
    REFERRAL = "referral"
    CAMPAIGN_PAUSED = "campaign_paused"
    NON_WORKING_CONTACT = "non_working_contact"
    # R18: the lead matches the account's block list.
    BLOCK_LIST = "block_list"


# R10: the reasons a staff member may give to mark a lead non-billable.
NON_BILLABLE_REASONS = (
    Reason.WRONG_NUMBER,
    Reason.JOB_SEEKER,
    Reason.SOLICITOR,
    Reason.SERVICE_NOT_OFFERED,
    Reason.PREVIOUS_CUSTOMER,
    Reason.OUTSIDE_SERVICE_AREA,
    Reason.REFERRAL,
    Reason.CAMPAIGN_PAUSED,
    Reason.NON_WORKING_CONTACT,
)

# R11: outcomes that are recorded (an outcome event's detail) and never exclude a lead.
BILLABLE_OUTCOMES = (
    "missed_call",
    "price_shopper",
    "hang_up",
    "booked_with_competitor",
    "price_disagreement",
    "cancelled_appointment",
)

REASON_TEXT = {
    Reason.CALLED: "counted: the lead was called",
    Reason.NEVER_CALLED: "not counted: the lead was never called",
    Reason.NO_COUNTING_POLICY: "not counted: the plan does not charge per lead",
    Reason.RECEIVED: "counted: the lead was received",
    Reason.NEVER_RECEIVED: "not counted: the lead was never received",
    Reason.CONTACT_FOUND: "counted: contact information was found, enriched or verified",
    Reason.NO_CONTACT_FOUND: "not counted: no contact information was found",
    Reason.WRONG_NUMBER: "not billable: wrong number",
    Reason.JOB_SEEKER: "not billable: the caller was seeking employment",
    Reason.SOLICITOR: "not billable: the caller was soliciting",
    Reason.SERVICE_NOT_OFFERED: "not billable: a service the account does not offer",
    Reason.PREVIOUS_CUSTOMER: "not billable: a previous customer",
    Reason.OUTSIDE_SERVICE_AREA: "not billable: outside the service area",
    Reason.REFERRAL: "not billable: referred directly by another person",
    Reason.CAMPAIGN_PAUSED: "not billable: received while the campaign was paused",
    Reason.NON_WORKING_CONTACT: "not billable: form lead with no working phone or e-mail",
    Reason.BLOCK_LIST: "not billable: matches the account's block list",
}


def reason_label(reason: str) -> str:
    """A reason code as people read it, without its counted / not billable prefix.

    `job_seeker` is "The caller was seeking employment"; an unknown code is shown as it is.
    """
    try:
        text = REASON_TEXT[Reason(reason)]
    except ValueError:
        return reason
    words = text.partition(": ")[2] or text
    return words[:1].upper() + words[1:]


_COUNTED = {
    CountingPolicy.CALLED: (CALL_EVENTS, Reason.CALLED, Reason.NEVER_CALLED),
    CountingPolicy.RECEIVED_UNLESS_EXCLUDED: (
        frozenset({EventType.RECEIVED}),
        Reason.RECEIVED,
        Reason.NEVER_RECEIVED,
    ),
    CountingPolicy.CONTACT_FOUND: (FOUND_EVENTS, Reason.CONTACT_FOUND, Reason.NO_CONTACT_FOUND),
}


def counting_events(policy: CountingPolicy) -> frozenset[EventType]:
    """The event types whose earliest occurrence makes a lead count under `policy`."""
    entry = _COUNTED.get(policy)
    return entry[0] if entry else frozenset()


def reason_applies(policy: CountingPolicy, reason: Reason) -> bool:
    """Whether a stored exclusion `reason` excludes a lead under `policy`.

    Every reason excludes under `received_unless_excluded`; under `contact_found`
    only the block list does (R18); under `called` nothing does (R2).
    """
    if policy is CountingPolicy.RECEIVED_UNLESS_EXCLUDED:
        return True
    return policy is CountingPolicy.CONTACT_FOUND and reason is Reason.BLOCK_LIST


@dataclass(frozen=True, slots=True)
class LeadEvent:
    """One event of a lead's history, as the core sees it."""

    type: EventType
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class PauseWindow:
    """A campaign paused from `start` until `end` (None: still paused)."""

    campaign: str
    start: datetime
    end: datetime | None = None

    def covers(self, campaign: str | None, at: datetime) -> bool:
        """Whether a lead of `campaign` received at `at` falls in this pause."""
        return (
            campaign == self.campaign and self.start <= at and (self.end is None or at < self.end)
        )


@dataclass(frozen=True, slots=True)
class AccountContext:
    """What the account told us: pauses, service area, customers, block list, window.

    Phones and e-mails are normalised (core.contacts); an empty service area
    means the account has none, so no lead is outside it.
    """

    pauses: tuple[PauseWindow, ...] = ()
    service_area: frozenset[str] = frozenset()
    customer_phones: frozenset[str] = frozenset()
    customer_emails: frozenset[str] = frozenset()
    blocked_domains: frozenset[str] = frozenset()
    blocked_companies: frozenset[str] = frozenset()
    blocked_emails: frozenset[str] = frozenset()
    duplicate_window: timedelta = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class LeadFacts:
    """A lead's own details, normalised (core.contacts); `lead_id` orders equal instants."""

    lead_id: int = 0
    received_at: datetime | None = None
    source: str | None = None
    postal_code: str | None = None
    campaign: str | None = None
    phone: str | None = None
    email: str | None = None
    company: str | None = None
    company_domain: str | None = None


@dataclass(frozen=True, slots=True)
class LeadContext:
    """Everything besides its events that decides a lead under a per-lead policy.

    `earlier` holds the account's other leads sharing the lead's phone or e-mail
    (any may be given; the core picks those inside the duplicate window).
    """

    lead: LeadFacts
    account: AccountContext = field(default_factory=AccountContext)
    earlier: tuple[LeadFacts, ...] = ()
    staff_reason: Reason | None = None


@dataclass(frozen=True, slots=True)
class Exclusion:
    """An automatic reason, and for a duplicate the earlier lead it repeats."""

    reason: Reason
    earlier_lead_id: int | None = None


@dataclass(frozen=True, slots=True)
class Billability:
    """The verdict on one lead: billable or not, the reason, and when it counts.

    `duplicate_of` names the earlier lead when the reason is a duplicate.
    """

    billable: bool
    reason: Reason
    counted_at: datetime | None
    duplicate_of: int | None = None


def _postal(code: str | None) -> str | None:
    return "".join(code.split()).upper() if code else None


def normalise_postal_code(code: str | None) -> str | None:
    """A postal code for comparison: blanks removed, upper case, ZIP+4 cut to 5 digits."""
    text = _postal(code)
    if not text:
        return None
    if len(text) == 10 and text[5] == "-" and text[:5].isdigit() and text[6:].isdigit():
        return text[:5]
    return text


def _duplicate_of(lead: LeadFacts, earlier: Iterable[LeadFacts], window: timedelta) -> int | None:
    """The most recent earlier lead with the same phone or e-mail inside the window."""
    at = lead.received_at
    if at is None or (lead.phone is None and lead.email is None):
        return None
    best: LeadFacts | None = None
    for other in earlier:
        if other.lead_id == lead.lead_id or other.received_at is None:
            continue
        same = (lead.phone is not None and other.phone == lead.phone) or (
            lead.email is not None and other.email == lead.email
        )
        if not same or (other.received_at, other.lead_id) >= (at, lead.lead_id):
            continue
        if at - other.received_at >= window:
            continue
        if best is None or (other.received_at, other.lead_id) > (best.received_at, best.lead_id):
            best = other
    return best.lead_id if best is not None else None


def automatic_exclusion(context: LeadContext) -> Exclusion | None:
    """The first automatic reason that applies to the lead (R12, R18), or None.

    In order: block list (company domain, company name or e-mail), campaign
    paused at the received instant, postal code outside a configured service
    area, a form lead with neither a valid phone nor a valid e-mail, a phone or
    e-mail on the customer list, the same phone or e-mail as an earlier lead
    received less than the duplicate window before.
    """
    lead, account = context.lead, context.account
    domain = lead.company_domain
    email_domain = lead.email.rpartition("@")[2] if lead.email else None
    if (
        (domain is not None and domain in account.blocked_domains)
        or (email_domain is not None and email_domain in account.blocked_domains)
        or (lead.company is not None and lead.company in account.blocked_companies)
        or (lead.email is not None and lead.email in account.blocked_emails)
    ):
        return Exclusion(Reason.BLOCK_LIST)
    at = lead.received_at
    if at is not None and any(p.covers(lead.campaign, at) for p in account.pauses):
        return Exclusion(Reason.CAMPAIGN_PAUSED)
    postal = normalise_postal_code(lead.postal_code)
    if account.service_area and postal is not None and postal not in account.service_area:
        return Exclusion(Reason.OUTSIDE_SERVICE_AREA)
    if lead.source == "form" and lead.phone is None and lead.email is None:
        return Exclusion(Reason.NON_WORKING_CONTACT)
    if (lead.phone is not None and lead.phone in account.customer_phones) or (
        lead.email is not None and lead.email in account.customer_emails
    ):
        return Exclusion(Reason.PREVIOUS_CUSTOMER)
    earlier = _duplicate_of(lead, context.earlier, account.duplicate_window)
    if earlier is not None:
        return Exclusion(Reason.PREVIOUS_CUSTOMER, earlier)
    return None


def decide(
    policy: CountingPolicy, events: Iterable[LeadEvent], context: LeadContext | None = None
) -> Billability:
    """Decide whether a lead counts under `policy`, from its events and context."""
    entry = _COUNTED.get(policy)
    if entry is None:
        return Billability(False, Reason.NO_COUNTING_POLICY, None)
    triggers, counted, not_counted = entry
    instants = [event.occurred_at for event in events if event.type in triggers]
    if not instants:
        return Billability(False, not_counted, None)
    counted_at = min(instants)
    # A staff decision (R16) or an approved review (R15) excludes under every policy;
    # the automatic reasons (R12, R18) only under the per-lead policies.
    if context is not None and context.staff_reason is not None:
        return Billability(False, context.staff_reason, counted_at)
    if policy is CountingPolicy.CALLED or context is None:
        return Billability(True, counted, counted_at)
    exclusion = automatic_exclusion(context)
    if exclusion is not None and reason_applies(policy, exclusion.reason):
        return Billability(False, exclusion.reason, counted_at, exclusion.earlier_lead_id)
    return Billability(True, counted, counted_at)
