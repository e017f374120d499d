"""E-mail addresses as the outbox accepts them (core.email_address, with the API's errors)."""

from __future__ import annotations

from leadbill.core.email_address import MAX_LENGTH, check_email, is_email
from leadbill.core.errors import RuleViolation
from leadbill.errors import from_rule

__all__ = ["MAX_LENGTH", "check_address", "is_address"]

is_address = is_email


def check_address(value: str | None, field: str) -> str:
    """The address, trimmed; an invalid one is InvalidInput naming `field`."""
    try:
        return check_email(value, field)
    except RuleViolation as error:
        raise from_rule(error) from None
