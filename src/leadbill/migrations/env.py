"""Alembic environment: runs the migrations against the configured database."""

from __future__ import annotations

from alembic import context

from leadbill import models
from leadbill.db import make_engine

config = context.config
target_metadata = models.Base.metadata


def run_migrations_online() -> None:
    """Apply migrations on a live connection (given by the caller or made here)."""
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(
            connection=connection, target_metadata=target_metadata, render_as_batch=True
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or None)
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
