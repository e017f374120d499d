"""E-mail addresses, checked with email-validator (syntax only: no DNS lookup).

One mailbox, local@domain, no display name, at most 254 characters. Internationalised
addresses (Łukasz@example.pl) are accepted. Domains reserved for documentation and
tests by RFC 2606 (example.com, *.test) are accepted, so that demos and tests can
use them; other special-use names (localhost, *.local, *.invalid) are refused,
since no mail can reach them.
"""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email

from leadbill.core.errors import RuleViolation

MAX_LENGTH = 254


def check_email(value: str | None, field: str) -> str:
    """The address, trimmed; an invalid one is a RuleViolation naming `field` and why."""
    text = (value or "").strip()
    if not text:
        raise RuleViolation(field, "must be an e-mail address, such as billing@example.com")
    if len(text) > MAX_LENGTH:
        raise RuleViolation(field, f"is {len(text)} characters long; at most {MAX_LENGTH}")
    try:
        validate_email(text, check_deliverability=False, test_environment=True)
    except EmailNotValidError as error:
        raise RuleViolation(field, f"{text!r} is not an e-mail address: {error}") from None
    return text


def is_email(value: str | None) -> bool:
    """True when `value` is an address `check_email` accepts."""
    try:
        check_email(value, "email")
    except RuleViolation:
        return False
    return True
