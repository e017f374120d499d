"""E-mail addresses as the outbox accepts them: one mailbox, local@domain, no display name."""

from __future__ import annotations

import re

from leadbill.errors import InvalidInput

# Deliberately plain: what SMTP servers accept in RCPT TO, without quoting or comments.
_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")
MAX_LENGTH = 254


def is_address(value: str | None) -> bool:
    """True when `value` is one plain address (local@domain.tld) of at most 254 characters."""
    if value is None or len(value) > MAX_LENGTH or _ADDRESS.fullmatch(value) is None:
        return False
    local, _, domain = value.partition("@")
    return len(local) <= 64 and ".." not in local and not domain.startswith("-")


def check_address(value: str | None, field: str) -> str:
    """The address, trimmed; an invalid one is InvalidInput naming `field`."""
    address = (value or "").strip()
    if not is_address(address):
        raise InvalidInput(field, f"{value!r} is not an e-mail address (local@domain)")
    return address
