"""API shapes of lead-event batches.

Each event has the columns of the import format (docs/csv-format.md). Every
field is optional here on purpose: a missing or bad value rejects that one
event with its field and reason, and the other events of the batch are kept.
"""

from __future__ import annotations

import enum
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

from leadbill.schemas import RequestModel, text_problem

MAX_EVENTS = 10_000


class LeadEventIn(BaseModel):
    """One lead event; `idempotency_key` makes re-sending it change nothing."""

    model_config = ConfigDict(extra="ignore")

    idempotency_key: str | None = Field(default=None, examples=["dialler-000123"])
    account: str | None = Field(default=None, examples=["brokerage"])
    lead_id: str | None = Field(default=None, examples=["L-1001"])
    event_type: str | None = Field(default=None, examples=["received"])
    occurred_at: str | None = Field(
        default=None, examples=["2026-01-05T14:03:00Z"], description="RFC 3339 with offset"
    )
    seat: str | None = None
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    postal_code: str | None = None
    source: str | None = None
    call_result: str | None = None
    duration_seconds: int | None = Field(default=None, ge=0)
    detail: str | None = None

    @model_validator(mode="after")
    def _no_nul(self) -> LeadEventIn:
        # As RequestModel does per field, in one call per event: a batch has 10,000.
        for name, value in self.__dict__.items():
            if type(value) is str and (reason := text_problem(value)):
                raise ValueError(f"{name} {reason}")
        return self

    def row(self) -> dict[str, str | None]:
        """The event as the text row the ingestion service reads."""
        row: dict[str, str | None] = dict(self.__dict__)
        duration = self.duration_seconds
        row["duration_seconds"] = None if duration is None else str(duration)
        return row


class LeadEventBatch(RequestModel):
    """Up to 10,000 lead events."""

    events: list[LeadEventIn] = Field(description=f"at most {MAX_EVENTS:,} events")


class EventStatus(enum.StrEnum):
    """What happened to one event."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    CONFLICT = "conflict"
    REJECTED = "rejected"


class EventResult(BaseModel):
    """The result of one event, at its index in the batch.

    `conflict`: the key was already used (stored, or earlier in the batch) for an
    event with other content; `fields` names what differs, and the event kept is
    unchanged.
    """

    index: int
    idempotency_key: str | None
    status: EventStatus
    field: str | None = None
    reason: str | None = None
    fields: list[str] | None = Field(
        default=None,
        description="conflict: the fields that differ from the event kept",
        examples=[["occurred_at"]],
    )


class BatchTotals(BaseModel):
    """How many events were accepted, duplicates, conflicts or rejected."""

    received: int
    accepted: int
    duplicate: int
    conflict: int
    rejected: int


class LeadEventBatchResult(BaseModel):
    """Per-event results, in batch order, and totals."""

    totals: BatchTotals
    results: list[EventResult]


class LeadDecisionIn(RequestModel):
    """Mark leads non-billable before their period is invoiced (R16); all or none."""

    lead_ids: list[str] = Field(
        min_length=1, max_length=MAX_EVENTS, examples=[["L-1001"]], description="operator lead ids"
    )
    reason: str = Field(min_length=1, max_length=64, examples=["wrong_number"])


class LeadDecisionResult(BaseModel):
    """How many leads were marked non-billable."""

    decided: int
    reason: str
    decided_by: str
    decided_at: datetime


class LeadDecisionOut(BaseModel):
    """One staff decision on a lead."""

    reason: str
    decided_by: str
    decided_at: datetime


class LeadDecisionList(BaseModel):
    """Every staff decision on one lead, oldest first; the latest is in force."""

    lead_id: str
    data: list[LeadDecisionOut]
