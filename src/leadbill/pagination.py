"""Opaque cursors for keyset pagination.

A cursor is the last key of a page, JSON in URL-safe base64: clients pass it
back unchanged and never build one. A cursor that does not decode is invalid
input on the `cursor` field.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel

from leadbill.errors import InvalidInput

Row = TypeVar("Row")

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


def encode_cursor(value: Any) -> str:
    """The opaque cursor of a page's last key."""
    raw = json.dumps(value, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, kind: type) -> Any:
    """The key in a cursor (None for the first page); its type must be `kind`."""
    if cursor is None:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidInput("cursor", "is not a cursor this API returned") from None
    if not isinstance(value, kind) or isinstance(value, bool):
        raise InvalidInput("cursor", "is not a cursor this API returned")
    if isinstance(value, int) and not 0 <= value < 2**63:
        raise InvalidInput("cursor", "is not a cursor this API returned")
    return value


class PageInfo(BaseModel):
    """Where the next page starts: pass `next_cursor` as `cursor` (null: last page)."""

    limit: int
    next_cursor: str | None


def page_info(rows: Sequence[Row], limit: int, key: Callable[[Row], Any]) -> PageInfo:
    """A full page has a next one, which starts after the key of its last row."""
    next_cursor = encode_cursor(key(rows[-1])) if len(rows) == limit else None
    return PageInfo(limit=limit, next_cursor=next_cursor)
