"""API shapes every concept shares: money, request amounts, problems, cursors.

Money leaves the API as `{"amount": "285.00", "currency": "USD"}`: a decimal
string, never a JSON number, so no client parses it into a float. Requests
give amounts as decimal strings too; a JSON number is refused.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
)

from leadbill.core.money import minor_unit

_DECIMAL = re.compile(r"^-?\d{1,14}(\.\d{1,6})?$")


def _decimal_string(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError('give money as a decimal string such as "285.00", never a number')
    text = value.strip()
    if not _DECIMAL.match(text):
        raise ValueError(f"{value!r} is not a decimal amount such as 285.00")
    return text


DecimalString = Annotated[
    str,
    BeforeValidator(_decimal_string),
    Field(
        json_schema_extra={"pattern": _DECIMAL.pattern, "examples": ["285.00"]},
        description="A decimal amount as a string; JSON numbers are refused.",
    ),
]


# Instants a request may name: anything else is a typo, and dates near the ends of the
# calendar overflow the arithmetic of periods.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def _instant(value: datetime) -> datetime:
    out_of_range = ValueError(
        f"must be between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d} (UTC), RFC 3339 with an offset"
    )
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        raise out_of_range from None
    if not EARLIEST <= utc < LATEST:
        raise out_of_range
    return utc


Instant = Annotated[
    AwareDatetime,
    AfterValidator(_instant),
    Field(description="RFC 3339 with an offset, between 1970 and 2200"),
]


def text_problem(value: str) -> str | None:
    """Why a text cannot be stored (None: it can): a NUL, or a lone UTF-16 surrogate.

    PostgreSQL text cannot hold NUL, and no database driver encodes a lone surrogate
    (JSON may spell one, as in "\\ud800"), so both are refused at the edge.
    """
    if "\x00" in value:
        return "must not contain NUL characters"
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "must be valid Unicode text (a lone surrogate is not)"
    return None


class RequestModel(BaseModel):
    """Base of request bodies: unknown fields, NUL characters and lone surrogates are
    refused (see `text_problem`)."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if isinstance(value, str) and (reason := text_problem(value)):
            raise ValueError(reason)
        if isinstance(value, list):
            for item in value:
                if isinstance(item, str) and (reason := text_problem(item)):
                    raise ValueError(reason)
        return value


class MoneyOut(BaseModel):
    """An amount with its ISO 4217 currency."""

    amount: str = Field(examples=["285.00"])
    currency: str = Field(examples=["USD"])


def money(amount: Decimal, currency: str) -> MoneyOut:
    """An amount as a decimal string, with at least the currency's minor unit digits."""
    digits = minor_unit(currency)
    value = amount.normalize()
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and -exponent < digits:
        value = value.quantize(Decimal(1).scaleb(-digits))
    return MoneyOut(amount=f"{value:f}", currency=currency)


class FieldError(BaseModel):
    """One invalid field and why."""

    field: str
    reason: str


class Problem(BaseModel):
    """An RFC 9457 problem document (`application/problem+json`)."""

    type: str = Field(examples=["https://leadbill.dev/problems/invalid-input"])
    title: str
    status: int
    detail: str
    errors: list[FieldError] | None = None


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "content": {"application/problem+json": {}}, "description": text}
    for status, text in (
        (400, "Malformed request"),
        (401, "Missing, unknown or revoked API key"),
        (403, "The key's role may not do this"),
        (404, "Not found (or not visible to this key)"),
        (409, "Conflicts with what is stored"),
        (413, "Too large"),
        (415, "Not JSON"),
        (422, "Invalid input"),
        (503, "Busy with concurrent requests: nothing changed, send it again"),
    )
}
