"""HTTP routes of leads: lead-event batches of up to 10,000 (admin, ingest), and staff
decisions that mark leads non-billable before invoicing (R16: admin, reviewer).

Valid events are stored once each (a re-sent idempotency key is a duplicate, or a
conflict when its content differs); each bad event (a bad value, a wrong JSON type,
an unknown field) is rejected with its field and reason. A batch over the limit
is refused whole (413) before anything is stored.
"""

from __future__ import annotations

import random
import time

from fastapi import APIRouter, Request, Response
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from leadbill.auth.dependencies import (
    Caller,
    DbSession,
    StandaloneCaller,
    allow,
    session_factory_of,
    visible_account,
)
from leadbill.auth.idempotency import LeadbillRoute
from leadbill.auth.models import ApiKey
from leadbill.auth.service import STAFF_READERS, Role
from leadbill.console import now
from leadbill.db import is_transient
from leadbill.leads.decisions import decisions_of, exclude_leads
from leadbill.leads.schemas import (
    MAX_EVENTS,
    BatchTotals,
    EventResult,
    EventStatus,
    LeadDecisionIn,
    LeadDecisionList,
    LeadDecisionOut,
    LeadDecisionResult,
    LeadEventBatch,
    LeadEventBatchResult,
)
from leadbill.leads.service import IngestResult, ingest_events
from leadbill.problems import ProblemError
from leadbill.schemas import PROBLEM_RESPONSES

router = APIRouter(
    prefix="/lead-events",
    tags=["lead events"],
    route_class=LeadbillRoute,
    responses=PROBLEM_RESPONSES,
)


# Concurrent batches touching the same leads deadlocked on PostgreSQL when they locked
# them in different orders, and every deadlock costs the server's deadlock_timeout (1 s)
# before one of them is cancelled. The repository now writes leads and events in key
# order, so two batches sharing leads queue on the first shared one. That is not enough
# to drop the lock below: deciding the automatic reasons (leads.policies) also updates
# *other* leads of the account, those sharing a phone or e-mail and received later, out
# of that order. Batch A holding lead L updates X (a later call from the same number);
# batch B holding X, sorted before L, waits for L: a cycle. So on PostgreSQL a batch
# first takes a transaction-level advisory lock per account it names, in one order:
# batches of different accounts run side by side, batches sharing an account queue. A
# race lost anyway changed nothing and is run again.
ATTEMPTS = 3
ACCOUNT_LOCK_CLASS = 7301  # the advisory-lock space of "ingesting an account's leads"
_LOCK_ACCOUNTS = text(
    "SELECT count(pg_advisory_xact_lock(:space, k)) FROM ("
    "SELECT DISTINCT hashtext(c) AS k FROM unnest(CAST(:codes AS text[])) AS c ORDER BY k"
    ") AS keys"
)


def _lock_accounts(session: Session, rows: list[dict[str, str | None]]) -> None:
    if session.get_bind().dialect.name != "postgresql":
        return  # SQLite: every write transaction holds the database's write lock already
    codes = sorted({code for row in rows if (code := row.get("account"))})
    session.execute(_LOCK_ACCOUNTS, {"space": ACCOUNT_LOCK_CLASS, "codes": codes})


def _ingest(request: Request, rows: list[dict[str, str | None]]) -> IngestResult:
    """Ingest in a transaction of its own, tried again after a lost race."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with session_factory_of(request)() as session, session.begin():
                _lock_accounts(session, rows)
                return ingest_events(session, rows, as_of=now(), first_line=0)
        except OperationalError as error:
            if attempt == ATTEMPTS or not is_transient(error):
                raise
            time.sleep(random.uniform(0.01, 0.05) * attempt)
    raise AssertionError("unreachable")


@router.post("", response_model=LeadEventBatchResult)
def send_lead_events(body: LeadEventBatch, request: Request, caller: StandaloneCaller) -> Response:
    """Ingest a batch of lead events; the response gives each event's result.

    A batch is one transaction: it is stored whole (rejected events aside) or not
    at all (a 503 after concurrent batches kept colliding: send it again).
    """
    allow(caller, Role.ADMIN, Role.INGEST)
    events = body.events
    if len(events) > MAX_EVENTS:
        raise ProblemError(
            413,
            f"a batch holds at most {MAX_EVENTS:,} events; this one has {len(events):,}. "
            "Split it: nothing of this batch was stored.",
            slug="batch-too-large",
        )
    results = [
        EventResult(index=i, idempotency_key=event.idempotency_key, status=EventStatus.ACCEPTED)
        for i, event in enumerate(events)
    ]
    # Events the schema rejected (unknown field, wrong type, out of range) never reach
    # the service; `sent[j]` is the batch index of the j-th event that does.
    sent: list[int] = []
    for i, event in enumerate(events):
        if (problem := event.problem) is None:
            sent.append(i)
        else:
            results[i].status = EventStatus.REJECTED
            results[i].field, results[i].reason = problem
    result = _ingest(request, [events[i].row() for i in sent])
    for outcome in result.outcomes:
        index = sent[outcome.line]
        results[index] = EventResult(
            index=index,
            idempotency_key=outcome.idempotency_key,
            status=EventStatus(outcome.status.value),
            field=outcome.field,
            reason=outcome.reason,
            fields=list(outcome.differing) if outcome.differing else None,
        )
    response = LeadEventBatchResult(
        totals=BatchTotals(
            received=len(events),
            accepted=result.accepted,
            duplicate=result.duplicate,
            conflict=result.conflict,
            rejected=result.rejected + len(events) - len(sent),
        ),
        results=results,
    )
    # Built from validated parts: encoded once here rather than validated again (a batch
    # has up to 10,000 results).
    return Response(response.model_dump_json(), media_type="application/json")


decisions = APIRouter(
    prefix="/accounts/{account}",
    tags=["lead decisions"],
    route_class=LeadbillRoute,
    responses=PROBLEM_RESPONSES,
)
DECIDERS = (Role.ADMIN, Role.REVIEWER)


@decisions.post("/lead-decisions", response_model=LeadDecisionResult)
def decide_leads(
    account: str, body: LeadDecisionIn, session: DbSession, caller: Caller
) -> LeadDecisionResult:
    """Mark leads non-billable with a reason before their period is invoiced (admin, reviewer).

    All or none: an unknown lead id is 404, a lead of an invoiced period 409.
    """
    owner = visible_account(session, caller, account, *DECIDERS)
    key = session.get_one(ApiKey, caller.key_id)
    decided_by = f"{key.name} (API key {key.id})"
    at = now()
    count = exclude_leads(
        session, owner.code, body.lead_ids, reason=body.reason, decided_by=decided_by, as_of=at
    )
    return LeadDecisionResult(
        decided=count, reason=body.reason.strip(), decided_by=decided_by, decided_at=at
    )


@decisions.get("/leads/{lead_id}/decisions", response_model=LeadDecisionList)
def lead_decisions(
    account: str, lead_id: str, session: DbSession, caller: Caller
) -> LeadDecisionList:
    """Every staff decision on one lead: reason, who and when (staff readers)."""
    owner = visible_account(session, caller, account, *STAFF_READERS)
    return LeadDecisionList(
        lead_id=lead_id,
        data=[
            LeadDecisionOut(reason=d.reason, decided_by=d.decided_by, decided_at=d.decided_at)
            for d in decisions_of(session, owner.code, lead_id)
        ],
    )
