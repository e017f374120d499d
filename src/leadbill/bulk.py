"""Set-based inserts and updates for batches of thousands of rows (billing run, outboxes).

PostgreSQL: the rows travel by COPY (psycopg's `cursor.copy`, whose row formatting
is in C), straight into the table for an insert (ids taken from the table's
sequence first when the caller needs them), into a temporary table for an
update, which one `UPDATE ... FROM` then applies.
SQLite: multi-row `INSERT ... VALUES` statements whose values went through each
column type's own bind processor (SQLAlchemy's conversion, as an ORM insert does),
without compiling the statement per row.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from itertools import chain
from operator import itemgetter
from typing import Any

from sqlalchemy import JSON, Table, text
from sqlalchemy.orm import Session

from leadbill.db import MoneyAmount, UTCDateTime


def is_postgresql(session: Session) -> bool:
    """True when the session's database is PostgreSQL."""
    return session.get_bind().dialect.name == "postgresql"


def _column_type(column: Any) -> Any:
    """A column's type; a foreign key column declared without one takes its referenced column's."""
    if column.foreign_keys and column.type._isnull:
        return next(iter(column.foreign_keys)).column.type
    return column.type


def quoted(session: Session, columns: Sequence[str]) -> str:
    quote = session.get_bind().dialect.identifier_preparer.quote
    return ", ".join(quote(name) for name in columns)


def bulk_insert(
    session: Session, table: Table, rows: Sequence[dict[str, Any]], returning: str = ""
) -> list[Any]:
    """Insert rows; with `returning` (column names), those columns of each inserted row.

    On PostgreSQL the ids come from the table's sequence before the COPY, so the
    returned rows follow the given order, ids ascending.
    """
    columns = list(rows[0])
    if not is_postgresql(session):
        return _sqlite_insert(session, table, columns, rows, returning)
    wanted = [name.strip() for name in returning.split(",")] if returning else []
    if "id" in wanted and "id" not in columns:
        ids = _next_ids(session, table, len(rows))
        rows = [{"id": id_, **row} for id_, row in zip(ids, rows, strict=True)]
        columns = ["id", *columns]
    copy_rows(session, table.name, columns, table, rows)
    return [tuple(row[name] for name in wanted) for row in rows] if wanted else []


def _next_ids(session: Session, table: Table, count: int) -> list[int]:
    """`count` new ids from the sequence of the table's `id` column, ascending."""
    taken = session.execute(
        text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"),
        {"table": table.name, "n": count},
    )
    return sorted(int(id_) for (id_,) in taken)


def copy_rows(
    session: Session,
    target: str,
    columns: Sequence[str],
    table: Table,
    rows: Sequence[dict[str, Any]],
) -> None:
    """PostgreSQL: COPY the rows' `columns` into `target` (typed as `table`'s columns)."""
    json_columns = [
        index for index, name in enumerate(columns) if isinstance(_column_type(table.c[name]), JSON)
    ]
    pick = itemgetter(*columns)
    values: Iterable[Any] = (
        (pick(row) for row in rows) if len(columns) > 1 else ((row[columns[0]],) for row in rows)
    )
    if json_columns:
        encode = _once_per_document(json.dumps)

        def with_json(row: tuple[Any, ...]) -> list[Any]:
            converted = list(row)
            for index in json_columns:
                if converted[index] is not None:
                    converted[index] = encode(converted[index])
            return converted

        values = (with_json(row) for row in values)
    session.flush()  # as session.execute would: pending objects first
    driver = session.connection().connection.driver_connection
    assert driver is not None
    names = quoted(session, columns)
    with driver.cursor() as cursor, cursor.copy(f"COPY {target} ({names}) FROM STDIN") as copy:
        for row in values:
            copy.write_row(row)


def bulk_update(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Update rows by their first column (the key) to the values of the others.

    PostgreSQL: the rows are copied into a temporary table of the same column
    types, and one `UPDATE ... FROM` applies them. SQLite: one prepared statement
    run for every row (executemany) with values converted once, by column.
    """
    if not rows:
        return
    key, *assigned = list(rows[0])
    if is_postgresql(session):
        names = quoted(session, [key, *assigned])
        # One temporary table per table and set of columns, kept by the connection.
        staging = f"staged_{table.name}_{zlib.crc32(names.encode()):08x}"
        session.execute(
            text(
                f"CREATE TEMPORARY TABLE IF NOT EXISTS {staging} ON COMMIT DELETE ROWS"
                f" AS SELECT {names} FROM {table.name} WITH NO DATA"
            )
        )
        session.execute(text(f"TRUNCATE {staging}"))
        copy_rows(session, staging, [key, *assigned], table, rows)
        assignments = ", ".join(f"{name} = u.{name}" for name in assigned)
        session.execute(
            text(
                f"UPDATE {table.name} SET {assignments} FROM {staging} AS u"
                f" WHERE {table.name}.{key} = u.{key}"
            )
        )
        return
    values = _sqlite_values(session, table, [*assigned, key], rows)
    assignments = ", ".join(f"{name} = ?" for name in assigned)
    session.flush()
    session.connection().exec_driver_sql(
        f"UPDATE {table.name} SET {assignments} WHERE {key} = ?", [tuple(v) for v in values]
    )


# Bound parameters per SQLite statement (SQLite allows 32,766 since 3.32).
SQLITE_VARIABLES = 30_000


def sqlite_instant(value: datetime | None) -> str | None:
    """An instant as SQLite keeps it: naive UTC text, as UTCDateTime and SQLAlchemy write it."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    # SQLAlchemy's SQLite DATETIME format: "%Y-%m-%d %H:%M:%S.%f", the same text.
    return value.replace(tzinfo=None).isoformat(" ", "microseconds")


def sqlite_money(value: Decimal | None) -> str | None:
    """An amount as SQLite keeps it: its exact text, as MoneyAmount writes it."""
    if value is None:
        return None
    if not isinstance(value, Decimal):
        raise TypeError("money columns take Decimal")
    return str(value)


def _once_per_value(process: Any) -> Any:
    """`process`, run once per distinct value: a batch's instants repeat (the run's
    instant, period boundaries shared by every subscription of an anchor)."""
    done: dict[Any, Any] = {}

    def run(value: Any) -> Any:
        try:
            return done[value]
        except KeyError:
            done[value] = converted = process(value)
            return converted

    return run


def _sqlite_processor(column_type: Any, dialect: Any) -> Any:
    # Instants are most of a billing batch's values: one call each instead of two,
    # and one per distinct instant.
    if isinstance(column_type, UTCDateTime):
        return _once_per_value(sqlite_instant)
    if isinstance(column_type, MoneyAmount):
        return sqlite_money
    process = column_type.dialect_impl(dialect).bind_processor(dialect)
    if isinstance(column_type, JSON) and process is not None:
        return _once_per_document(process)
    return process


def _once_per_document(process: Any) -> Any:
    """`process`, run once per document object: many rows share one (an issuer's snapshot).

    The rows being inserted hold every document, so no id is reused meanwhile.
    """
    done: dict[int, Any] = {}

    def run(document: Any) -> Any:
        key = id(document)
        if key not in done:
            done[key] = process(document)
        return done[key]

    return run


def _sqlite_values(
    session: Session, table: Table, columns: Sequence[str], rows: Sequence[dict[str, Any]]
) -> list[list[Any]]:
    """The rows' values in `columns` order, each through its column type's bind processor."""
    dialect = session.get_bind().dialect
    processors = [_sqlite_processor(_column_type(table.c[name]), dialect) for name in columns]
    pick = itemgetter(*columns)
    converted = (
        [list(pick(row)) for row in rows]
        if len(columns) > 1
        else [[row[columns[0]]] for row in rows]
    )
    for index, process in enumerate(processors):
        if process is not None:
            for values in converted:
                values[index] = process(values[index])
    return converted


def _sqlite_insert(
    session: Session,
    table: Table,
    columns: list[str],
    rows: Sequence[dict[str, Any]],
    returning: str,
) -> list[Any]:
    """SQLite: multi-row INSERT statements with the values converted once, by column.

    Each value goes through its column type's own bind processor (SQLAlchemy's,
    the same conversion as an ORM insert), but the statement is not compiled per
    row: a billing batch writes thousands of rows of a dozen columns.
    """
    omitted = [c.name for c in table.c if c.name not in columns and c.default is not None]
    if omitted:  # a Python-side default needs SQLAlchemy's own insert
        raise ValueError(f"{table.name}: give {', '.join(omitted)} explicitly")
    converted = _sqlite_values(session, table, columns, rows)
    placeholders = "(" + ", ".join("?" * len(columns)) + ")"
    head = f"INSERT INTO {table.name} ({quoted(session, columns)}) VALUES "
    tail = f" RETURNING {returning}" if returning else ""
    per_statement = max(1, SQLITE_VARIABLES // len(columns))
    session.flush()  # as session.execute would: pending objects first
    connection = session.connection()
    returned: list[Any] = []
    for start in range(0, len(converted), per_statement):
        chunk = converted[start : start + per_statement]
        sql = head + ", ".join([placeholders] * len(chunk)) + tail
        flat = tuple(chain.from_iterable(chunk))
        result = connection.exec_driver_sql(sql, flat)
        if returning:
            returned.extend(result.all())
    return returned
