"""Pages of the staff lists that grow without end (accounts, invoices, payments).

A page holds PAGE_SIZE rows; the link to the next one carries the last row's
key (keyset pagination), so a page costs the same however many came before it,
and a row recorded meanwhile never shifts a page or appears twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVarTuple

from sqlalchemy import ColumnElement, Row, Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute, Session

from leadbill.errors import InvalidInput
from leadbill.pagination import decode_cursor, encode_cursor

PAGE_SIZE = 50
Columns = TypeVarTuple("Columns")


def keyset_page(db: Session, query: Select[*Columns]) -> tuple[Sequence[Row[*Columns]], bool]:
    """The first PAGE_SIZE rows of `query` (already ordered and narrowed by its cursor),
    and whether more follow."""
    rows = db.execute(query.limit(PAGE_SIZE + 1)).all()
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE


def instant_cursor(at: datetime, row_id: int) -> str:
    """The link key of a row in a list ordered newest first by (instant, id)."""
    return encode_cursor([at.isoformat(), row_id])


def older_than(
    cursor: str, at: InstrumentedAttribute[Any], row_id: InstrumentedAttribute[Any]
) -> ColumnElement[bool]:
    """The rows after `cursor` in a list ordered by (`at` desc, `row_id` desc).

    A cursor this page did not give is invalid input on the `before` field.
    """
    try:
        instant, key = decode_cursor(cursor, list)
        after = (datetime.fromisoformat(instant), int(key))
    except (InvalidInput, TypeError, ValueError):
        raise InvalidInput("before", "is not a link this page gave") from None
    if after[0].tzinfo is None:
        raise InvalidInput("before", "is not a link this page gave")
    return or_(at < after[0], and_(at == after[0], row_id < after[1]))
