"""HTTP route of lead events: a batch of up to 10,000 (admin, ingest).

Valid events are stored once each (a re-sent idempotency key is a duplicate);
each bad event is rejected with its field and reason. A batch over the limit
is refused whole (413) before anything is stored.
"""

from __future__ import annotations

from fastapi import APIRouter

from leadbill.auth.dependencies import Caller, DbSession, allow
from leadbill.auth.idempotency import LeadbillRoute
from leadbill.auth.service import Role
from leadbill.console import now
from leadbill.leads.schemas import (
    MAX_EVENTS,
    BatchTotals,
    EventResult,
    EventStatus,
    LeadEventBatch,
    LeadEventBatchResult,
)
from leadbill.leads.service import ingest_events
from leadbill.problems import ProblemError
from leadbill.schemas import PROBLEM_RESPONSES

router = APIRouter(
    prefix="/lead-events",
    tags=["lead events"],
    route_class=LeadbillRoute,
    responses=PROBLEM_RESPONSES,
)


@router.post("", response_model=LeadEventBatchResult)
def send_lead_events(
    body: LeadEventBatch, session: DbSession, caller: Caller
) -> LeadEventBatchResult:
    """Ingest a batch of lead events; the response gives each event's result."""
    allow(caller, Role.ADMIN, Role.INGEST)
    events = body.events
    if len(events) > MAX_EVENTS:
        raise ProblemError(
            413,
            f"a batch holds at most {MAX_EVENTS:,} events; this one has {len(events):,}. "
            "Split it: nothing of this batch was stored.",
            slug="batch-too-large",
        )
    result = ingest_events(session, [event.row() for event in events], as_of=now(), first_line=0)
    results = [
        EventResult(index=i, idempotency_key=event.idempotency_key, status=EventStatus.ACCEPTED)
        for i, event in enumerate(events)
    ]
    for outcome in result.outcomes:
        results[outcome.line] = EventResult(
            index=outcome.line,
            idempotency_key=outcome.idempotency_key,
            status=EventStatus(outcome.status.value),
            field=outcome.field,
            reason=outcome.reason,
        )
    return LeadEventBatchResult(
        totals=BatchTotals(
            received=len(events),
            accepted=result.accepted,
            duplicate=result.duplicate,
            rejected=result.rejected,
        ),
        results=results,
    )
