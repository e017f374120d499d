"""Engine, session and the column types every table shares.

SQLite is the embedded default, PostgreSQL the production database; both run
the same Alembic migrations. Instants are stored in UTC and read back
timezone-aware; money is an exact NUMERIC, never a float.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    Engine,
    Integer,
    Numeric,
    String,
    create_engine,
    event,
)
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from leadbill.errors import InvalidInput
from leadbill.settings import Settings

# SQLite's INTEGER PRIMARY KEY is its rowid only when the type is exactly INTEGER.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware instant stored as UTC; naive datetimes are refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        # SQLite keeps text: store naive UTC so that text order is time order.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class MoneyAmount(TypeDecorator[Decimal]):
    """An exact decimal amount; SQLite keeps it as text so no digit is lost."""

    impl = Numeric(20, 6)
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name == "sqlite":
            from sqlalchemy import String

            return dialect.type_descriptor(String(32))
        return dialect.type_descriptor(Numeric(20, 6, asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, Decimal):
            raise TypeError("money columns take Decimal")
        return str(value) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Any) -> Decimal | None:
        if value is None:
            return None
        return Decimal(str(value)) if not isinstance(value, Decimal) else value


class Base(DeclarativeBase):
    """Base of every table."""


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the driver, issue BEGIN (see _sqlite_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=60000")
    # 64 MiB of page cache (default 2 MiB): the indexes of a million events stay in memory.
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    # A write lock from the first statement: two billing runs at once queue up
    # instead of both reading the same due periods.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    """Create the engine for `url` (default: the configured database)."""
    url = url or Settings.from_env().database_url
    if url.startswith("sqlite"):
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_pre_ping=True, **kwargs)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory bound to `engine`; objects stay readable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


_BOUNDED: dict[type, list[tuple[str, int]]] = {}


def bounded_columns(model: type) -> list[tuple[str, int]]:
    """The (attribute, length) of each length-bounded text column of a mapped class."""
    found = _BOUNDED.get(model)
    if found is None:
        mapper: Any = sa_inspect(model)
        found = [
            (attr.key, column.type.length)
            for attr in mapper.column_attrs
            for column in attr.columns[:1]
            if isinstance(column.type, String) and column.type.length
        ]
        _BOUNDED[model] = found
    return found


@event.listens_for(Session, "before_flush")
def _refuse_overlong_text(session: Session, _context: Any, _instances: Any) -> None:
    # Every edge (API, CLI, portal) writes through the ORM: a text longer than its
    # column is refused here with the field named, on SQLite (which would store it)
    # as on PostgreSQL (which would fail the statement with a bare DataError).
    for obj in (*session.new, *session.dirty):
        values = obj.__dict__
        for key, length in bounded_columns(type(obj)):
            value = values.get(key)
            if isinstance(value, str) and len(value) > length:
                raise InvalidInput(key, f"longer than {length} characters")


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work at the edge: commit on success, roll back on error."""
    with factory() as session, session.begin():
        yield session


# PostgreSQL SQLSTATEs of a transaction that lost a race and may simply be tried again:
# deadlock detected, serialization failure, lock not available.
TRANSIENT_SQLSTATES = frozenset({"40P01", "40001", "55P03"})


def is_transient(error: BaseException) -> bool:
    """Whether a database error means "try the transaction again" (a lost race, a lock)."""
    original = getattr(error, "orig", None)
    if getattr(original, "sqlstate", None) in TRANSIENT_SQLSTATES:
        return True
    return "database is locked" in str(original or error)
