"""API shapes of lead-event batches.

Each event has the columns of the import format (docs/csv-format.md). Every
field is optional here on purpose: a missing or bad value, a wrong JSON type or
an unknown field rejects that one event with its field and reason, and the
other events of the batch are kept.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    model_validator,
)

from leadbill.leads.csv_format import MAX_LENGTH
from leadbill.limits import MAX_DURATION_SECONDS
from leadbill.schemas import RequestModel, text_problem

MAX_EVENTS = 10_000


# Where one event breaks the schema, its result says so; the whole batch is refused only
# for what makes the request itself unusable (not JSON, no `events`, over 10,000, a NUL).
_PLAIN = {
    "extra_forbidden": "is not a field of a lead event (docs/csv-format.md lists them)",
    "string_type": "must be a JSON string",
    "int_type": "must be a whole number given as a JSON number (not a string or a boolean)",
    "model_type": "must be a JSON object",
    "model_attributes_type": "must be a JSON object",
}


def _text(name: str, example: str | None = None, description: str = "") -> Any:
    return Field(
        default=None,
        max_length=MAX_LENGTH[name],
        examples=[example] if example else None,
        description=f"{description}{'; ' if description else ''}"
        f"at most {MAX_LENGTH[name]} characters",
    )


class LeadEventIn(BaseModel):
    """One lead event; `idempotency_key` makes re-sending it change nothing.

    Types are strict: a boolean or a string is not a number, a number is not a
    string. An unknown field, a wrong type or an out-of-range value rejects that
    event with the field named; the other events of the batch are kept.
    """

    model_config = ConfigDict(extra="forbid", strict=True)

    idempotency_key: str | None = _text("idempotency_key", "dialler-000123")
    account: str | None = _text("account", "brokerage")
    lead_id: str | None = _text("lead_id", "L-1001")
    event_type: str | None = _text("event_type", "received")
    occurred_at: str | None = _text(
        "occurred_at",
        "2026-01-05T14:03:00Z",
        "RFC 3339 with offset; from the account's creation less the back-dating allowance"
        " to a day after the batch arrives",
    )
    seat: str | None = _text("seat")
    name: str | None = _text("name")
    phone: str | None = _text("phone")
    email: str | None = _text("email")
    postal_code: str | None = _text("postal_code")
    source: str | None = _text("source")
    call_result: str | None = _text("call_result")
    duration_seconds: int | None = Field(
        default=None, ge=0, le=MAX_DURATION_SECONDS, description="whole seconds, at most a day"
    )
    detail: str | None = _text("detail")
    category: str | None = _text("category", "plumbing", "the lead's category (pay per lead)")
    campaign: str | None = _text("campaign", "spring-promo", "the campaign it came from")
    company: str | None = _text("company", None, "found contacts: the contact's company")
    company_domain: str | None = _text("company_domain", None, "and its web domain")
    _problem: tuple[str, str] | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _no_nul(self) -> LeadEventIn:
        # As RequestModel does per field, in one call per event: a batch has 10,000.
        for name, value in self.__dict__.items():
            if type(value) is str and (reason := text_problem(value)):
                raise ValueError(f"{name} {reason}")
        return self

    @property
    def problem(self) -> tuple[str, str] | None:
        """The field and reason that reject this event before ingestion (None: none)."""
        return self._problem

    def row(self) -> dict[str, str | None]:
        """The event as the text row the ingestion service reads."""
        row: dict[str, str | None] = dict(self.__dict__)
        duration = self.duration_seconds
        row["duration_seconds"] = None if duration is None else str(duration)
        return row


def _reason(issue: Any) -> str:
    kind = issue["type"]
    if kind == "string_too_long":
        return f"longer than {issue['ctx']['max_length']} characters"
    if kind == "greater_than_equal":
        return f"must be at least {issue['ctx']['ge']}"
    if kind == "less_than_equal":
        return f"must be at most {issue['ctx']['le']:,}"
    return _PLAIN.get(kind, str(issue["msg"]))


def _event_or_rejection(value: Any, handler: ValidatorFunctionWrapHandler) -> LeadEventIn:
    try:
        event: LeadEventIn = handler(value)
        return event
    except ValidationError as error:
        issues = error.errors()
        if any(issue["type"] in ("value_error", "string_unicode") for issue in issues):
            raise  # a NUL or a lone surrogate: the request is refused whole
        issue = issues[0]
        field = ".".join(str(part) for part in issue["loc"]) or "event"
        key = value.get("idempotency_key") if isinstance(value, dict) else None
        rejected = LeadEventIn.model_construct(
            idempotency_key=key if isinstance(key, str) and not text_problem(key) else None
        )
        rejected._problem = (field, _reason(issue))
        return rejected


LeadEvent = Annotated[LeadEventIn, WrapValidator(_event_or_rejection)]


class LeadEventBatch(RequestModel):
    """Up to 10,000 lead events."""

    events: list[LeadEvent] = Field(description=f"at most {MAX_EVENTS:,} events")


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

    lead_ids: list[Annotated[str, Field(max_length=MAX_LENGTH["lead_id"])]] = Field(
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
