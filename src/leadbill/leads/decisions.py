"""Staff decisions (R16, proactive review): mark leads non-billable before invoicing.

A decision names one reason of the fixed vocabulary (core.billability
NON_BILLABLE_REASONS), who decided and when; it is kept in lead_decisions and
the latest one is stored on the lead (leads.decision_reason), so that usage
stays a GROUP BY. A lead whose period is already invoiced is refused
(Conflict): correcting an invoice takes a review and a credit note.
Set-based: one query resolves all the lead ids, one inserts the decisions,
one updates the leads.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from leadbill.accounts.service import get_account
from leadbill.core.billability import NON_BILLABLE_REASONS, Reason
from leadbill.core.errors import RuleViolation
from leadbill.core.periods import require_utc
from leadbill.core.plans import CountingPolicy
from leadbill.errors import Conflict, InvalidInput, NotFound, from_rule
from leadbill.leads.models import Lead, LeadDecision
from leadbill.leads.policies import open_since
from leadbill.plans.models import Plan
from leadbill.subscriptions.models import Subscription

IN_CHUNK = 5_000
SHOWN = 5

# The stored instant at which a lead counts under each policy.
_COUNTED_AT = {
    CountingPolicy.CALLED: Lead.first_called_at,
    CountingPolicy.RECEIVED_UNLESS_EXCLUDED: Lead.received_at,
    CountingPolicy.CONTACT_FOUND: Lead.first_found_at,
}


def _reason(value: str) -> Reason:
    allowed = {reason.value: reason for reason in NON_BILLABLE_REASONS}
    if value not in allowed:
        raise InvalidInput("reason", f"{value!r} is not one of {', '.join(allowed)}")
    return allowed[value]


def _policy(session: Session, account_id: int) -> CountingPolicy:
    """The policy of the account's active (else latest) subscription; pay per lead if none."""
    policy = session.scalar(
        select(Plan.counting_policy)
        .join(Subscription, Subscription.plan_id == Plan.id)
        .where(Subscription.account_id == account_id)
        .order_by((Subscription.status == "active").desc(), Subscription.id.desc())
        .limit(1)
    )
    return CountingPolicy(policy) if policy else CountingPolicy.RECEIVED_UNLESS_EXCLUDED


def exclude_leads(
    session: Session,
    account_code: str,
    lead_ids: Sequence[str],
    *,
    reason: str,
    decided_by: str,
    as_of: datetime,
) -> int:
    """Mark these leads (operator lead ids) non-billable with `reason`; all or none.

    Refused when a lead id is unknown (NotFound) or a lead counts in a period
    already invoiced (Conflict). Returns the number of leads decided.
    """
    try:
        as_of = require_utc(as_of, "as_of")
    except RuleViolation as error:
        raise from_rule(error) from None
    chosen = _reason(reason.strip())
    decided_by = decided_by.strip()
    if not decided_by:
        raise InvalidInput("by", "must name who decided")
    account = get_account(session, account_code)
    wanted = sorted({lead_id.strip() for lead_id in lead_ids if lead_id.strip()})
    if not wanted:
        raise InvalidInput("lead_id", "no lead id given")
    counted_at = _COUNTED_AT.get(_policy(session, account.id), Lead.received_at)
    found: dict[str, tuple[int, datetime | None]] = {}
    for offset in range(0, len(wanted), IN_CHUNK):
        chunk = wanted[offset : offset + IN_CHUNK]
        for lead_id, external_id, instant in session.execute(
            select(Lead.id, Lead.external_id, counted_at).where(
                Lead.account_id == account.id, Lead.external_id.in_(chunk)
            )
        ):
            found[external_id] = (lead_id, instant)
    missing = [lead_id for lead_id in wanted if lead_id not in found]
    if missing:
        more = f" and {len(missing) - SHOWN} more" if len(missing) > SHOWN else ""
        raise NotFound(
            f"unknown lead{'s' if len(missing) > 1 else ''} on account {account_code!r}: "
            f"{', '.join(missing[:SHOWN])}{more}"
        )
    since = open_since(session, account.id)
    invoiced = [
        lead_id
        for lead_id, (_id, instant) in found.items()
        if since is not None and instant is not None and instant < since
    ]
    if invoiced:
        more = f" and {len(invoiced) - SHOWN} more" if len(invoiced) > SHOWN else ""
        raise Conflict(
            f"lead{'s' if len(invoiced) > 1 else ''} {', '.join(sorted(invoiced)[:SHOWN])}{more}"
            f" count{'' if len(invoiced) > 1 else 's'} in a period already invoiced; nothing was"
            " changed (a correction there"
            " needs a review and a credit note)"
        )
    ids = [lead_id for lead_id, _instant in found.values()]
    record_decisions(session, account.id, ids, chosen, decided_by, as_of)
    return len(ids)


def record_decisions(
    session: Session,
    account_id: int,
    lead_ids: Sequence[int],
    reason: Reason,
    decided_by: str,
    as_of: datetime,
) -> None:
    """Store one staff decision per lead (database ids) and make it the lead's verdict.

    No check here: `exclude_leads` refuses invoiced periods first, and an approved
    review (reviews.flows) records its decision whatever the period, then credits
    an invoiced one.
    """
    session.execute(
        insert(LeadDecision),
        [
            {
                "account_id": account_id,
                "lead_id": lead_id,
                "reason": reason.value,
                "decided_by": decided_by,
                "decided_at": as_of,
            }
            for lead_id in lead_ids
        ],
    )
    ids = list(lead_ids)
    for offset in range(0, len(ids), IN_CHUNK):
        session.execute(
            update(Lead)
            .where(Lead.account_id == account_id, Lead.id.in_(ids[offset : offset + IN_CHUNK]))
            .values(decision_reason=reason.value)
        )


def decisions_of(session: Session, account_code: str, lead_id: str) -> list[LeadDecision]:
    """Every staff decision on one lead, oldest first."""
    account = get_account(session, account_code)
    lead = session.scalar(
        select(Lead.id).where(Lead.account_id == account.id, Lead.external_id == lead_id)
    )
    if lead is None:
        raise NotFound(f"lead {lead_id!r} does not exist on account {account_code!r}")
    return list(
        session.scalars(
            select(LeadDecision)
            .where(LeadDecision.lead_id == lead)
            .order_by(LeadDecision.decided_at, LeadDecision.id)
        )
    )
