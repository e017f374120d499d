"""The few error types of leadbill, mapped once to CLI exit codes (and later HTTP).

Services raise these; adapters translate them. The pure core raises
`RuleViolation`, which is an `InvalidInput`.
"""

from __future__ import annotations

from leadbill.core.errors import RuleViolation


class LeadbillError(Exception):
    """Base of every error a user can cause."""

    exit_code = 1
    http_status = 400

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(LeadbillError):
    """The thing asked for does not exist (or is not visible to the caller)."""

    exit_code = 4
    http_status = 404


class Conflict(LeadbillError):
    """The request contradicts what is stored (duplicate, immutable, wrong state)."""

    exit_code = 5
    http_status = 409


class Forbidden(LeadbillError):
    """The caller may not do this."""

    exit_code = 6
    http_status = 403


class InvalidInput(LeadbillError):
    """A field has a bad value; names the field and the problem."""

    exit_code = 2
    http_status = 422

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def from_rule(error: RuleViolation) -> InvalidInput:
    """Translate a core rule violation into the shell's invalid-input error."""
    return InvalidInput(error.field, error.reason)
