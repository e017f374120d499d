"""The Alembic migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from leadbill.billing.service import run_billing
from leadbill.db import session_factory
from leadbill.migrate import upgrade
from leadbill.models import Base
from leadbill.reviews.flows import decide_review
from tests.conftest import utc


def test_migrations_match_models(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": False})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_migrations_downgrade_and_upgrade_again(engine: Engine) -> None:
    from alembic import command

    from leadbill.migrate import alembic_config

    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "base")
    assert "invoices" not in inspect(engine).get_table_names()
    upgrade(engine)
    assert "invoices" in inspect(engine).get_table_names()


def _migrate_to(engine: Engine, revision: str, direction: str) -> None:
    from alembic import command

    from leadbill.migrate import alembic_config

    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        getattr(command, direction)(config, revision)


def _credit_rows(engine: Engine) -> list[tuple[int, ...]]:
    with engine.connect() as conn:
        return [
            tuple(conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one() for table in (
                "credit_notes", "credit_note_lines", "credit_applications"
            ))
        ]  # fmt: skip


def test_0012_keeps_issued_credit_notes_and_their_applications(engine: Engine) -> None:
    from tests.integration.test_review_concurrency import _invoiced_review

    sessions = session_factory(engine)
    review_id = _invoiced_review(sessions)
    with sessions.begin() as session:
        decide_review(session, review_id, "approve", decided_by="qa", as_of=utc(2026, 4, 2))
    run_billing(sessions, utc(2026, 5, 1))
    before = _credit_rows(engine)
    assert before == [(1, 1, 1)]
    # SQLite copies credit_notes to alter it: the lines and applications pointing at it stay.
    _migrate_to(engine, "0007", "downgrade")
    assert _credit_rows(engine) == before
    _migrate_to(engine, "head", "upgrade")
    assert _credit_rows(engine) == before
