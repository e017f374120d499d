"""`leadbill dunning list|run`, `entities update --dunning-steps` and `subscriptions resume`."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from leadbill import console
from leadbill.cli import app
from tests.integration.dunning_world import world

runner = CliRunner()


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The CLI pointed at the test database."""
    monkeypatch.setenv("LEADBILL_DATABASE_URL", database_url)
    monkeypatch.setattr(console.out, "width", 250)
    console.sessions.cache_clear()
    yield
    console.sessions().kw["bind"].dispose()
    console.sessions.cache_clear()


def _run(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_dunning_run_then_list_in_every_format(cli: None, sessions: sessionmaker[Session]) -> None:
    number = world(sessions)
    ran = _run("dunning", "run", "--as-of", "2026-03-19T10:00:00Z")
    assert "1 reminders queued, 1 newly overdue" in ran
    table = _run("dunning", "list", "--as-of", "2026-03-20T10:00:00Z")
    assert number in table and "1,234.50 USD" in table
    assert "day 3 on 2026-03-19" in table and "day 7 on 2026-03-23" in table
    (item,) = json.loads(
        _run("dunning", "list", "--as-of", "2026-03-20T10:00:00Z", "--format", "json")
    )
    assert item["invoice"] == number
    assert item["amount_due"] == {"amount": "1234.50", "currency": "USD"}
    assert (item["days_overdue"], item["last_step"], item["next_step"]) == (4, 3, 7)
    rows = list(
        csv.DictReader(
            io.StringIO(
                _run("dunning", "list", "--as-of", "2026-03-20T10:00:00Z", "--format", "csv")
            )
        )
    )
    assert [(r["invoice"], r["amount_due_amount"], r["next_on"]) for r in rows] == [
        (number, "1234.50", "2026-03-23")
    ]


def test_entity_dunning_settings_from_the_cli(cli: None, sessions: sessionmaker[Session]) -> None:
    world(sessions)
    _run(
        "entities", "update", "us", "--dunning-steps", "0, 5,2", "--dunning-action", "pause_service"
    )
    shown = _run("entities", "show", "us")
    assert "dunning steps: days 0, 2, 5 after the due date" in shown
    assert "dunning final action: pause_service" in shown
    bad = runner.invoke(app, ["entities", "update", "us", "--dunning-steps", "0,x"])
    assert bad.exit_code == 2 and "--dunning-steps" in bad.output
    wrong = runner.invoke(app, ["entities", "update", "us", "--dunning-action", "nag"])
    assert wrong.exit_code != 0 and "dunning_action" in wrong.output


def test_the_worker_runs_the_dunning_job_and_its_status_shows_it(
    cli: None, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    world(sessions)
    monkeypatch.delenv("LEADBILL_SMTP_HOST", raising=False)
    _run("worker", "--once", "--billing-every", "0")
    status = json.loads(_run("worker", "status", "--format", "json"))
    dunning = next(job for job in status["data"] if job["name"] == "dunning")
    assert (dunning["interval_seconds"], dunning["last_outcome"], dunning["runs"]) == (
        3600,
        "ok",
        1,
    )
    assert "reminders queued" in dunning["last_summary"]
    off = _run("worker", "--once", "--billing-every", "0", "--dunning-every", "0")
    assert "dunning" not in off
