"""The engine's PostgreSQL sessions: every statement planned with its own values."""

from __future__ import annotations

from sqlalchemy import text

from leadbill.db import make_engine


def test_postgres_statements_are_planned_with_their_values(postgres_url: str) -> None:
    # A generic plan (what PostgreSQL may keep for a statement psycopg prepared after
    # its fifth run) ignores the values: a call report page's events then went through
    # the account's whole index. The engine asks for a plan per execution.
    engine = make_engine(postgres_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SHOW plan_cache_mode")).scalar() == "force_custom_plan"
    finally:
        engine.dispose()


def test_postgres_connect_args_of_the_caller_are_kept(postgres_url: str) -> None:
    engine = make_engine(postgres_url, connect_args={"application_name": "leadbill-test"})
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SHOW application_name")).scalar() == "leadbill-test"
            assert conn.execute(text("SHOW plan_cache_mode")).scalar() == "force_custom_plan"
    finally:
        engine.dispose()
