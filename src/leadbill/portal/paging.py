"""Pages of the staff lists that grow without end (accounts, invoices, payments).

A page holds PAGE_SIZE rows; the link to the next one carries the last row's
key (keyset pagination), so a page costs the same however many came before it,
and a row recorded meanwhile never shifts a page or appears twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVarTuple

from sqlalchemy import Row, Select
from sqlalchemy.orm import Session

PAGE_SIZE = 50
Columns = TypeVarTuple("Columns")


def keyset_page(db: Session, query: Select[*Columns]) -> tuple[Sequence[Row[*Columns]], bool]:
    """The first PAGE_SIZE rows of `query` (already ordered and narrowed by its cursor),
    and whether more follow."""
    rows = db.execute(query.limit(PAGE_SIZE + 1)).all()
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE
