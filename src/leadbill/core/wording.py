"""Words as people write them: counts on invoices (1 lead, 2 leads), typed one-line texts."""

from __future__ import annotations

from leadbill.core.errors import RuleViolation


def count_of(count: int, noun: str, plural: str | None = None) -> str:
    """`count` followed by `noun`, in the plural unless the count is exactly one."""
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


def one_line(value: str, field: str, limit: int) -> str | None:
    """A text a person typed, on one line with spaces collapsed, at most `limit` long.

    None when nothing is left; control characters (a NUL, an escape) are refused.
    """
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value if ch not in "\t\n\r"):
        raise RuleViolation(field, "must not contain control characters")
    cleaned = " ".join(value.split())
    if len(cleaned) > limit:
        raise RuleViolation(field, f"must be at most {limit} characters")
    return cleaned or None
