"""Counts as people write them on invoices and reports: 1 lead, 2 leads, 0 leads."""

from __future__ import annotations


def count_of(count: int, noun: str, plural: str | None = None) -> str:
    """`count` followed by `noun`, in the plural unless the count is exactly one."""
    return f"{count} {noun if count == 1 else plural or noun + 's'}"
