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


def _row_counts(engine: Engine, tables: tuple[str, ...]) -> dict[str, int]:
    with engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one() for t in tables}


def test_a_database_with_leads_and_invoices_goes_down_to_0005_and_up_again(
    engine: Engine,
) -> None:
    """An installation with data upgrades through every later migration, keeping every row
    (SQLite copies a table to alter it, with foreign keys pointing at it)."""
    from tests.integration.usage_fixtures import ingest, lead_rows, plan, subscribed

    sessions = session_factory(engine)
    with sessions.begin() as session:
        customer = subscribed(session, "kept", plan(session, "pkg-kept", "100.00", 1, "5.00"))
        rows = lead_rows(customer, "L1", utc(2026, 1, 5), [utc(2026, 1, 5, 1)])
        rows += lead_rows(customer, "L2", utc(2026, 1, 6), [utc(2026, 1, 6, 1)])
        ingest(session, rows, utc(2026, 1, 7))
    run_billing(sessions, utc(2026, 2, 1))
    tables = ("accounts", "leads", "lead_events", "invoices", "invoice_lines")
    before = _row_counts(engine, tables)
    assert before["leads"] == 2 and before["lead_events"] == 4 and before["invoices"] == 2
    _migrate_to(engine, "0005", "downgrade")
    assert _row_counts(engine, tables) == before
    _migrate_to(engine, "head", "upgrade")
    assert _row_counts(engine, tables) == before


def test_0021_drops_only_the_notification_tables_and_keeps_the_outbox(engine: Engine) -> None:
    """Down to 0020 the outbox keeps every message (its table is not altered); up again the
    notification tables are back, empty, and new notifications are queued as before."""
    from tests.integration.usage_fixtures import ingest, lead_rows, plan, subscribed

    sessions = session_factory(engine)
    with sessions.begin() as session:
        customer = subscribed(session, "kept", plan(session, "pkg-kept", "100.00", 1, "5.00"))
        ingest(
            session,
            lead_rows(customer, "L1", utc(2026, 1, 5), [utc(2026, 1, 5, 1)]),
            utc(2026, 1, 7),
        )
    tables = ("mail_messages", "mail_notifications", "notification_settings")
    # The fee's invoice, and one alert per threshold (80 % and 100 % of one lead).
    assert _row_counts(engine, tables) == {
        "mail_messages": 3,
        "mail_notifications": 2,
        "notification_settings": 0,
    }
    _migrate_to(engine, "0020", "downgrade")
    names = inspect(engine).get_table_names()
    assert "mail_notifications" not in names and "notification_settings" not in names
    assert _row_counts(engine, ("mail_messages",)) == {"mail_messages": 3}
    _migrate_to(engine, "head", "upgrade")
    with sessions.begin() as session:
        ingest(
            session,
            lead_rows(customer, "L2", utc(2026, 2, 5), [utc(2026, 2, 5, 1)]),
            utc(2026, 2, 7),
        )
    assert _row_counts(engine, tables)["mail_notifications"] == 2


def test_0023_gives_finalized_invoices_their_creditor_reference_and_goes_back_down(
    engine: Engine,
) -> None:
    """Invoices finalized before 0023 get the RF reference of their number; payments
    recorded by hand read as bank transfers; the way down keeps every invoice."""
    from leadbill.billing.payments import record_payment
    from leadbill.core.bank import creditor_reference
    from tests.integration.payment_world import invoices_of, world

    sessions = session_factory(engine)
    with sessions.begin() as session:
        accounts = world(session, bank=False)
        (invoice,) = invoices_of(session, accounts["se"])
        record_payment(
            session,
            invoice=invoice,
            amount="100.00",
            currency="EUR",
            reference="wire-1",
            received_at=utc(2026, 10, 5),
        )
    _migrate_to(engine, "0022", "downgrade")
    assert "payment_methods" not in inspect(engine).get_table_names()
    assert _row_counts(engine, ("invoices", "payments")) == {"invoices": 2, "payments": 1}
    _migrate_to(engine, "head", "upgrade")
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT number, payment_reference FROM invoices")).all()
        method = conn.execute(text("SELECT method, fee FROM payments")).one()
    assert sorted(rows) == sorted((number, creditor_reference(number)) for number, _ in rows)
    assert {number for number, _ in rows} == {"INV-000001", "SE-000001"}
    assert tuple(method) == ("bank_transfer", None)
