"""One database fixture for every integration test, on SQLite and PostgreSQL.

`engine` is parametrized: each test that uses it runs once on a fresh SQLite file
and once on PostgreSQL when LEADBILL_TEST_POSTGRES_URL is set. Under CI=true a
PostgreSQL that is not configured or cannot be reached fails the run.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from leadbill.db import make_engine, session_factory
from leadbill.migrate import upgrade
from leadbill.models import Base

POSTGRES_URL = os.environ.get("LEADBILL_TEST_POSTGRES_URL")
IN_CI = os.environ.get("CI", "").lower() == "true"


def utc(*parts: int) -> datetime:
    """A UTC instant from year, month, day[, hour, minute, second]."""
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite file with every migration applied, copied for each test."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throw-away PostgreSQL database with every migration applied."""
    if not POSTGRES_URL:
        if IN_CI:
            pytest.fail("CI=true but LEADBILL_TEST_POSTGRES_URL is not set")
        pytest.skip("LEADBILL_TEST_POSTGRES_URL is not set")
    name = f"leadbill_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:
        admin.dispose()
        if IN_CI:
            pytest.fail(f"PostgreSQL at {POSTGRES_URL} cannot be reached: {error}")
        pytest.skip(f"PostgreSQL cannot be reached: {error}")
    url = POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate_postgres(engine: Engine) -> None:
    tables = ", ".join(
        f'"{table.name}"'
        for table in Base.metadata.sorted_tables
        if table.name != "number_sequences"
    )
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        conn.execute(text("UPDATE number_sequences SET next_value = 1"))


def _empty_database(
    request: pytest.FixtureRequest, directory: Path, sqlite_template: Path
) -> Iterator[str]:
    if request.param == "sqlite":
        path = directory / "leadbill.db"
        shutil.copy(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    url = request.getfixturevalue("postgres_url")
    yield url
    engine = make_engine(url)
    _truncate_postgres(engine)
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> Iterator[str]:
    """The URL of an empty, migrated database of each kind."""
    yield from _empty_database(request, tmp_path, sqlite_template)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on an empty, migrated database (SQLite, then PostgreSQL)."""
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    """A session factory on the test database."""
    return session_factory(engine)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def module_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[str]:
    """As `database_url`, but one database for a whole module whose tests only read it.

    Such a module builds its data once. It must not use `database_url` too: on
    PostgreSQL both are the same database, emptied after each test.
    """
    yield from _empty_database(request, tmp_path_factory.mktemp("module"), sqlite_template)


@pytest.fixture(scope="module")
def module_sessions(module_database_url: str) -> Iterator[sessionmaker[Session]]:
    """A session factory on the module's database."""
    engine = make_engine(module_database_url)
    yield session_factory(engine)
    engine.dispose()


@pytest.fixture
def session(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A session in an open transaction, committed when the test ends cleanly."""
    with sessions() as session, session.begin():
        yield session
