"""Staff additions to the portal's world: an admin and a billing user, a webhook endpoint
with a failed delivery, and reviews due at different instants.

Shared by the staff HTTP tests (tests/portal) and the staff browser test.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from leadbill.accounts.service import get_account
from leadbill.portal.users import create_user
from leadbill.reviews.service import submit_review
from leadbill.webhooks.models import WebhookDelivery
from leadbill.webhooks.service import create_endpoint, emit
from tests.portal.world import AS_OF, PASSWORD, START, PortalWorld, build_world

# One user per role; reviewer and viewer come from the portal's world.
STAFF_USERS = {
    "admin": "ada@operator.test",
    "billing": "bill@operator.test",
    "reviewer": "rosa@operator.test",
    "viewer": "vic@operator.test",
    "customer": "ana@acme.test",
}
HOOK_URL = "https://crm.test/hooks"
HOOK_ERROR = "connection refused"
HOOK_ATTEMPTS = 3
# Reviews of acme's leads, submitted in this order at these instants: the queue must put
# them in the order they are due, not the order they came in.
REVIEWS = (
    ("ACME-000", AS_OF - timedelta(days=3)),  # a Saturday: due Friday Jan 23
    ("ACME-006", AS_OF - timedelta(days=5, hours=5)),  # Thursday Jan 15: due Jan 21
    ("ACME-003", AS_OF - timedelta(days=4)),  # Friday Jan 16: due Jan 22
)


@dataclass(frozen=True)
class StaffWorld:
    """The portal's world, the staff users, and the ids the staff pages act on."""

    portal: PortalWorld
    users: dict[str, str]
    delivery_id: int
    endpoint_id: int


def add_reviews(sessions: sessionmaker[Session]) -> None:
    """Acme disputes three of its leads at different instants."""
    with sessions() as session, session.begin():
        for lead_id, at in REVIEWS:
            submit_review(
                session,
                "acme",
                lead_id,
                reason="solicitor",
                explanation=f"{lead_id} was a sales call.",
                submitted_by="ana@acme.test",
                as_of=at,
            )


def build_staff_world(sessions: sessionmaker[Session], *, reviews: bool = False) -> StaffWorld:
    """The portal's world plus an admin, a billing user and a failed webhook delivery."""
    portal = build_world(sessions)
    with sessions() as session, session.begin():
        for role in ("admin", "billing"):
            create_user(session, email=STAFF_USERS[role], password=PASSWORD, role=role, as_of=START)
        endpoint = create_endpoint(session, url=HOOK_URL, event_types=["invoice.paid"], as_of=START)
        emit(session, get_account(session, "acme").id, "invoice.paid", {}, occurred_at=START)
        delivery = session.scalars(select(WebhookDelivery)).one()
        # The receiver was down: the outbox gave up after three attempts.
        delivery.status = "failed"
        delivery.attempts = HOOK_ATTEMPTS
        delivery.last_error = HOOK_ERROR
        delivery.last_attempt_at = START + timedelta(hours=1)
        delivery_id, endpoint_id = delivery.id, endpoint.id
    if reviews:
        add_reviews(sessions)
    return StaffWorld(portal, dict(STAFF_USERS), delivery_id, endpoint_id)
