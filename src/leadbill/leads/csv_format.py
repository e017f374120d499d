"""The lead-event row format, shared by CSV files and (later) the REST API.

docs/csv-format.md describes it for operators; this module holds the column
names and limits the service checks, so the two cannot drift apart.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple, Protocol

from leadbill.core.billability import EventType
from leadbill.errors import InvalidInput
from leadbill.limits import MAX_DURATION_SECONDS

REQUIRED_COLUMNS = ("idempotency_key", "account", "lead_id", "event_type", "occurred_at")
OPTIONAL_COLUMNS = (
    "seat",
    "name",
    "phone",
    "email",
    "postal_code",
    "source",
    "call_result",
    "duration_seconds",
    "detail",
    "category",
    "campaign",
    "company",
    "company_domain",
)
COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS

# Longest value accepted per column, equal to the stored column's length.
MAX_LENGTH = {
    "idempotency_key": 128,
    "event_type": 32,
    "occurred_at": 64,
    "account": 64,
    "lead_id": 128,
    "seat": 64,
    "name": 200,
    "phone": 32,
    "email": 254,
    "postal_code": 16,
    "source": 32,
    "call_result": 64,
    "detail": 500,
    "category": 64,
    "campaign": 64,
    "company": 200,
    "company_domain": 200,
}


def check_header(header: Sequence[str] | None) -> list[str]:
    """Refuse a header that lacks a required column or repeats one; return the unknown
    columns (ignored)."""
    if not header:
        raise InvalidInput("header", "the file is empty (expected a header line)")
    names = [name.strip() for name in header]
    # With a column twice, one of its values would silently win: which account, which
    # lead would be a guess.
    for name in dict.fromkeys(names):
        positions = [str(i) for i, other in enumerate(names, start=1) if other == name]
        if len(positions) > 1:
            raise InvalidInput(
                "header",
                f"column {name!r} appears {len(positions)} times (columns "
                f"{', '.join(positions[:-1])} and {positions[-1]}); "
                "each column may appear only once",
            )
    missing = [name for name in REQUIRED_COLUMNS if name not in names]
    if missing:
        raise InvalidInput(
            "header",
            f"missing required column{'s' if len(missing) > 1 else ''} {', '.join(missing)}",
        )
    return [name for name in names if name not in COLUMNS]


class CsvReader(Protocol):
    """What `csv.reader` returns: lists of values, and the count of lines read."""

    @property
    def line_num(self) -> int: ...

    def __iter__(self) -> Iterator[list[str]]: ...

    def __next__(self) -> list[str]: ...


def read_records(
    reader: CsvReader, names: Sequence[str]
) -> Iterator[tuple[int, dict[str, str | None] | Rejection]]:
    """The records after the header, each with the line it starts on: a row by column
    name, or why the record is not a row of this file.

    A record must hold one value per column, on one line. A quoted value that runs
    over several lines is what a quote left open looks like: every following line up
    to the next quote is read into it, so those rows would vanish unreported; no
    column of the format holds a line break, so the record is refused with the lines
    it covers. A record with more or fewer values than the header would put values
    under the wrong columns (an unquoted comma), so it is refused too.
    """
    width = len(names)
    end = reader.line_num
    for values in reader:
        start, end = end + 1, reader.line_num
        if not values:
            continue  # a blank line
        # A quote left open to the end of the file covers its last line only: the line
        # break is then inside the record's last value.
        if end > start or "\n" in values[-1] or "\r" in values[-1]:
            column = next(
                (n for n, v in zip(names, values, strict=False) if "\n" in v or "\r" in v),
                "row",
            )
            where = f"runs across lines {start} to {end}" if end > start else "holds a line break"
            reason = (
                f"a quoted value {where}: a value cannot hold a line break "
                "(is a closing quote missing?)"
            )
            yield start, Rejection(start, _key_of(names, values), column, reason)
        elif len(values) != width:
            reason = (
                f"has {len(values)} values but the header names {width} columns "
                "(an unquoted comma, or a missing one?)"
            )
            yield start, Rejection(start, _key_of(names, values), "row", reason)
        else:
            row: dict[str, str | None] = dict(zip(names, values, strict=True))
            yield start, row


def _key_of(names: Sequence[str], values: Sequence[str]) -> str | None:
    """The idempotency key of a refused record, if it is where the header says."""
    for name, value in zip(names, values, strict=False):
        if name == "idempotency_key":
            return value.strip(_BLANK)[: MAX_LENGTH["idempotency_key"]] or None
    return None


EVENT_TYPES: frozenset[str] = frozenset(str(value) for value in EventType)
_TYPE_LIST = ", ".join(str(value) for value in EventType)
_OPTIONAL_TEXT = ("seat", "name", "phone", "email", "postal_code", "source", "call_result")
_LEAD_TEXT = ("category", "campaign", "company", "company_domain")


@dataclass(slots=True)
class ParsedRow:
    """One checked row, its values trimmed; `account_id` and `seat_id` are filled
    once the account and seat codes are resolved (leads.service)."""

    line: int
    idempotency_key: str
    account: str  # the account's code
    lead_id: str  # the operator's own lead id
    event_type: str
    occurred_at: str  # stored text, see repository.stored_instant
    seat: str | None  # the seat's code
    name: str | None
    phone: str | None
    email: str | None
    postal_code: str | None
    source: str | None
    call_result: str | None
    duration_seconds: int | None
    detail: str | None
    category: str | None
    campaign: str | None
    company: str | None
    company_domain: str | None
    account_id: int = 0
    seat_id: int | None = None


class Rejection(NamedTuple):
    """Why one row was refused."""

    line: int
    idempotency_key: str | None
    field: str
    reason: str


# Only ASCII blanks are trimmed, so that a value whose first and last characters
# are above ' ' is already trimmed (the fast path's test).
_BLANK = " \t\r\n\x0b\x0c"
# A call longer than a day is a typo (limits.MAX_DURATION_SECONDS).
MAX_DURATION = MAX_DURATION_SECONDS


# Characters no stored text may hold: PostgreSQL text cannot hold NUL, and U+001F
# separates the values the repository sends to PostgreSQL in one parameter. Refused on
# both databases, so that a file is judged the same on either.
_UNSTORABLE = {"\x00": "must not contain NUL characters", "\x1f": "must not contain U+001F"}


class _Rejected(Exception):
    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason


def _optional(row: Mapping[str, str | None], name: str) -> str | None:
    value = row.get(name)
    if not value:
        return None
    value = value.strip(_BLANK)
    if not value:
        return None
    if len(value) > MAX_LENGTH[name]:
        raise _Rejected(name, f"longer than {MAX_LENGTH[name]} characters")
    for character, reason in _UNSTORABLE.items():
        if character in value:
            raise _Rejected(name, reason)
    return value


def _required(row: Mapping[str, str | None], name: str) -> str:
    value = _optional(row, name)
    if value is None:
        raise _Rejected(name, "is required")
    return value


def _instant(value: str, sqlite: bool) -> str:
    # RFC 3339: a full date, 'T' (or a space) and a time with an offset. The
    # shape check keeps out the other ISO 8601 forms fromisoformat accepts.
    if len(value) < 19 or value[4] != "-" or value[7] != "-" or value[10] not in "Tt ":
        raise _Rejected("occurred_at", f"{value!r} is not an RFC 3339 instant")
    try:
        instant = datetime.fromisoformat(value.upper())
    except ValueError:
        raise _Rejected("occurred_at", f"{value!r} is not an RFC 3339 instant") from None
    if instant.tzinfo is None:
        raise _Rejected("occurred_at", f"{value!r} has no UTC offset (add Z or +hh:mm)")
    try:
        instant = instant.astimezone(UTC).replace(tzinfo=None)
    except OverflowError:  # before year 1 or after 9999 once in UTC
        raise _Rejected("occurred_at", f"{value!r} is out of the calendar's range") from None
    stored = instant.isoformat(" ", "microseconds")
    return stored if sqlite else stored + "+00:00"


def parse_row(row: Mapping[str, str | None], line: int, sqlite: bool) -> ParsedRow:
    """Check one row field by field; raise on the first bad field (the precise path)."""
    key = _required(row, "idempotency_key")
    account = _required(row, "account")
    lead = _required(row, "lead_id")
    event_type = _required(row, "event_type")
    if event_type not in EVENT_TYPES:
        raise _Rejected("event_type", f"{event_type!r} is not one of {_TYPE_LIST}")
    occurred_at = _instant(_required(row, "occurred_at"), sqlite)
    seat, name, phone, email, postal_code, source, call_result = (
        _optional(row, column) for column in _OPTIONAL_TEXT
    )
    duration: int | None = None
    text = row.get("duration_seconds")
    if text and (text := text.strip(_BLANK)):
        if not (text.isascii() and text.isdigit()):
            if "\x00" in text:
                raise _Rejected("duration_seconds", _UNSTORABLE["\x00"])
            raise _Rejected("duration_seconds", f"{text!r} is not a whole number of seconds >= 0")
        duration = int(text)
        if duration > MAX_DURATION:
            raise _Rejected(
                "duration_seconds", f"{text!r} is more than {MAX_DURATION:,} seconds (a day)"
            )
    detail = _optional(row, "detail")
    category, campaign, company, company_domain = (_optional(row, c) for c in _LEAD_TEXT)
    return ParsedRow(
        line,
        key,
        account,
        lead,
        event_type,
        occurred_at,
        seat,
        name,
        phone,
        email,
        postal_code,
        source,
        call_result,
        duration,
        detail,
        category,
        campaign,
        company,
        company_domain,
    )


class _Slow(Exception):
    """The fast path met something unusual: take the precise path."""


def parse_rows(
    rows: Sequence[Mapping[str, str | None]],
    first_line: int,
    sqlite: bool,
    lines: Iterable[int] | None = None,
) -> tuple[list[ParsedRow], list[Rejection]]:
    """Parse rows; the row at index i is line `first_line + i`, or `lines[i]` if given.

    A fast path handles the usual row (clean values, UTC instants written with
    'Z') in one pass without function calls; anything else, valid or not, goes
    through `parse_row`, which decides. Both give the same row for a valid row.
    """
    parsed: list[ParsedRow] = []
    rejections: list[Rejection] = []
    append = parsed.append
    fromisoformat = datetime.fromisoformat
    event_types = EVENT_TYPES
    numbers = itertools.count(first_line) if lines is None else lines
    for row, line in zip(rows, numbers, strict=lines is not None):
        get = row.get
        try:
            key = get("idempotency_key")
            account = get("account")
            lead = get("lead_id")
            event_type = get("event_type")
            occurred = get("occurred_at")
            if (
                not key
                or not account
                or not lead
                or not occurred
                or event_type not in event_types
                or len(key) > 128
                or len(account) > 64
                or len(lead) > 128
                or key[0] <= " "
                or key[-1] <= " "
                or account[0] <= " "
                or account[-1] <= " "
                or lead[0] <= " "
                or lead[-1] <= " "
            ):
                raise _Slow
            size = len(occurred)
            # 'YYYY-MM-DDTHH:MM:SSZ' or 'YYYY-MM-DDTHH:MM:SS.ffffffZ', already UTC: the
            # stored text is a slice of it once fromisoformat has checked it is real.
            if (
                (size != 27 and size != 20)
                or occurred[-1] != "Z"
                or occurred[4] != "-"
                or occurred[7] != "-"
                or occurred[10] != "T"
                or occurred[13] != ":"
                or occurred[16] != ":"
                or (size == 27 and occurred[19] != ".")
            ):
                raise _Slow
            fromisoformat(occurred)
            if size == 27:
                stored = f"{occurred[:10]} {occurred[11:26]}"
            else:
                stored = f"{occurred[:10]} {occurred[11:19]}.000000"
            if not sqlite:
                stored += "+00:00"
            seat = get("seat") or None
            name = get("name") or None
            phone = get("phone") or None
            email = get("email") or None
            postal_code = get("postal_code") or None
            source = get("source") or None
            call_result = get("call_result") or None
            detail = get("detail") or None
            category = get("category") or None
            campaign = get("campaign") or None
            company = get("company") or None
            company_domain = get("company_domain") or None
            text = get("duration_seconds")
            duration = (
                int(text) if text and len(text) < 10 and text.isascii() and text.isdigit() else None
            )
            if (duration is None and text) or (duration is not None and duration > MAX_DURATION):
                raise _Slow
            # Present optional values must be clean and short enough; empty ones cost
            # one test each.
            if (
                (seat and (seat[0] <= " " or seat[-1] <= " " or len(seat) > 64))
                or (name and (name[0] <= " " or name[-1] <= " " or len(name) > 200))
                or (phone and (phone[0] <= " " or phone[-1] <= " " or len(phone) > 32))
                or (email and (email[0] <= " " or email[-1] <= " " or len(email) > 254))
                or (
                    postal_code
                    and (postal_code[0] <= " " or postal_code[-1] <= " " or len(postal_code) > 16)
                )
                or (source and (source[0] <= " " or source[-1] <= " " or len(source) > 32))
                or (
                    call_result
                    and (call_result[0] <= " " or call_result[-1] <= " " or len(call_result) > 64)
                )
                or (detail and (detail[0] <= " " or detail[-1] <= " " or len(detail) > 500))
                or (category and (category[0] <= " " or category[-1] <= " " or len(category) > 64))
                or (campaign and (campaign[0] <= " " or campaign[-1] <= " " or len(campaign) > 64))
                or (company and (company[0] <= " " or company[-1] <= " " or len(company) > 200))
                or (
                    company_domain
                    and (
                        company_domain[0] <= " "
                        or company_domain[-1] <= " "
                        or len(company_domain) > 200
                    )
                )
            ):
                raise _Slow
            # One test for every text (event_type and occurred_at are checked already).
            everything = "".join(
                [
                    key,
                    account,
                    lead,
                    seat or "",
                    name or "",
                    phone or "",
                    email or "",
                    postal_code or "",
                    source or "",
                    call_result or "",
                    detail or "",
                    category or "",
                    campaign or "",
                    company or "",
                    company_domain or "",
                ]
            )
            if "\x00" in everything or "\x1f" in everything:
                raise _Slow
            append(
                ParsedRow(
                    line,
                    key,
                    account,
                    lead,
                    event_type,
                    stored,
                    seat,
                    name,
                    phone,
                    email,
                    postal_code,
                    source,
                    call_result,
                    duration,
                    detail,
                    category,
                    campaign,
                    company,
                    company_domain,
                )
            )
        except (_Slow, ValueError, TypeError, AttributeError):
            try:
                append(parse_row(row, line, sqlite))
            except _Rejected as error:
                key = row.get("idempotency_key")
                rejections.append(Rejection(line, key or None, error.field, error.reason))
    return parsed, rejections
