"""Paused service: a subscription whose account may not send new lead events.

Dunning's final action `pause_service` pauses the subscription of an unpaid
invoice; staff resume it (`leadbill subscriptions resume`, `POST
/v1/subscriptions/{id}/resume`). While it is paused, ingestion (API and CSV)
refuses the account's new lead events with the reason; nothing else changes:
the subscription stays active, its periods renew and are invoiced as before,
and the leads already received keep their billability.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadbill.core.errors import RuleViolation
from leadbill.core.periods import require_utc
from leadbill.core.wording import one_line
from leadbill.errors import Conflict, InvalidInput, from_rule
from leadbill.subscriptions.models import Subscription

REASON_LIMIT = 300


def _at(value: datetime) -> datetime:
    try:
        return require_utc(value, "as_of")
    except RuleViolation as error:
        raise from_rule(error) from None


def pause_service(
    session: Session, subscription: Subscription, reason: str, as_of: datetime
) -> Subscription:
    """Pause an active subscription's service, with a reason; a paused one stays as it is."""
    at = _at(as_of)
    try:
        text = one_line(reason, "reason", REASON_LIMIT)
    except RuleViolation as error:
        raise from_rule(error) from None
    if not text:
        raise InvalidInput("reason", "is required: say why the service is paused")
    if subscription.status != "active":
        raise Conflict(f"subscription {subscription.id} is {subscription.status}; nothing to pause")
    if subscription.service_paused_at is None:
        subscription.service_paused_at = at
        subscription.service_paused_reason = text
        session.flush()
    return subscription


def resume_service(session: Session, subscription: Subscription) -> Subscription:
    """Resume a paused subscription's service: the account's lead events are taken again."""
    if subscription.service_paused_at is None:
        raise Conflict(f"subscription {subscription.id} is not paused")
    subscription.service_paused_at = None
    subscription.service_paused_reason = None
    session.flush()
    return subscription


def paused_accounts(session: Session, account_ids: Iterable[int]) -> dict[int, str]:
    """Of these accounts, those whose active subscription is paused: why, by account id."""
    ids = sorted(set(account_ids))
    found: dict[int, str] = {}
    for start in range(0, len(ids), 500):
        rows = session.execute(
            select(
                Subscription.account_id,
                Subscription.service_paused_at,
                Subscription.service_paused_reason,
            ).where(
                Subscription.account_id.in_(ids[start : start + 500]),
                Subscription.status == "active",
                Subscription.service_paused_at.is_not(None),
            )
        )
        for account_id, paused_at, reason in rows:
            found[int(account_id)] = (
                f"the account's service is paused since {paused_at:%Y-%m-%d}: {reason}; "
                "staff resume it with `leadbill subscriptions resume`"
            )
    return found
