"""What every CLI command needs: a transaction, instant parsing, error mapping."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from functools import cache
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.text import Text
from sqlalchemy.orm import Session, sessionmaker

from leadbill.core.errors import RuleViolation
from leadbill.db import make_engine, session_factory
from leadbill.errors import InvalidInput, LeadbillError

# Markup is off: what the commands print (descriptions, explanations, error details) is
# data, and a text in [brackets] must come out as written. Styles are given as Text.
out = Console(highlight=False, soft_wrap=True, markup=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)


def bold(text: str) -> Text:
    """A text printed in bold."""
    return Text(text, style="bold")


def print_error(message: str, label: str = "error:") -> None:
    """An error on standard error: a red label, then the message exactly as written."""
    err.print(Text.assemble((label, "red"), " ", message))


@cache
def sessions() -> sessionmaker[Session]:
    """The session factory of the configured database (one engine per process)."""
    return session_factory(make_engine())


@contextmanager
def unit_of_work() -> Iterator[Session]:
    """One transaction for one command; leadbill errors become a message and exit code."""
    try:
        with sessions()() as session, session.begin():
            yield session
    except LeadbillError as error:
        print_error(error.detail)
        raise typer.Exit(error.exit_code) from None
    except RuleViolation as error:
        print_error(f"{error.field}: {error.reason}")
        raise typer.Exit(InvalidInput.exit_code) from None


def parse_instant(value: str, field: str = "as_of") -> datetime:
    """An RFC 3339 instant; a date alone means midnight UTC; no offset is refused."""
    text = value.strip()
    try:
        if len(text) == 10:
            return datetime.fromisoformat(text).replace(tzinfo=UTC)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InvalidInput(field, f"{value!r} is not an RFC 3339 instant") from None
    if parsed.tzinfo is None:
        raise InvalidInput(field, f"{value!r} has no UTC offset (add Z or +hh:mm)")
    return parsed.astimezone(UTC)


def parse_date(value: str, field: str) -> date:
    """A calendar date written YYYY-MM-DD (a tax rate's first or last day)."""
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(field, f"{value!r} is not a date (YYYY-MM-DD)") from None


def local_midnight(value: str, time_zone: str, field: str = "start") -> datetime:
    """Midnight at the start of a calendar date in a time zone, as a UTC instant."""
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(field, f"{value!r} is not a date (YYYY-MM-DD)") from None
    return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(time_zone)).astimezone(UTC)


def instant_option(value: str, field: str) -> datetime:
    """Parse an instant given on the command line, exiting with a clear error if bad."""
    try:
        return parse_instant(value, field)
    except InvalidInput as error:
        print_error(error.detail)
        raise typer.Exit(error.exit_code) from None


def now() -> datetime:
    """The wall clock, read only at the edge (never in the core)."""
    return datetime.now(UTC)
