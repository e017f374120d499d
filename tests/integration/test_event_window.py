"""Lead events out of the instant window are rejected row by row (SQLite and PostgreSQL):
not before the account's creation less the back-dating allowance, not more than a day
after the events are received. A mistyped year cannot move a lead's counting instant."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from leadbill import console
from leadbill.accounts.service import create_account
from leadbill.cli import app
from leadbill.leads.csv_format import COLUMNS
from leadbill.leads.models import Lead, LeadEvent
from leadbill.leads.service import ingest_events
from tests.conftest import utc

CREATED = utc(2026, 3, 1)
AS_OF = utc(2026, 3, 10, 12)


@pytest.fixture
def account(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """Account acme, created on 2026-03-01."""
    with sessions() as session, session.begin():
        create_account(
            session,
            code="acme",
            name="Acme",
            currency="USD",
            time_zone="UTC",
            billing_email="billing@acme.test",
            as_of=CREATED,
        )
    return sessions


def _row(key: str, event_type: str, at: str) -> dict[str, str | None]:
    return {
        "idempotency_key": key,
        "account": "acme",
        "lead_id": "L1",
        "event_type": event_type,
        "occurred_at": at,
    }


def test_events_outside_the_window_are_rejected_and_the_others_kept(
    account: sessionmaker[Session],
) -> None:
    rows = [
        _row("k1", "received", "2026-03-02T09:00:00Z"),
        _row("k2", "call_answered", "2026-03-02T09:05:00Z"),
        _row("k3", "call_attempted", "0001-01-01T00:00:00Z"),
        _row("k4", "call_attempted", "1900-03-02T09:00:00Z"),
        _row("k5", "call_attempted", "9999-12-31T23:59:59Z"),
        _row("k6", "call_attempted", "2026-02-28T00:00:00Z"),  # a day of back-dating: kept
        _row("k7", "call_attempted", "2026-02-27T23:59:59Z"),
        _row("k8", "call_attempted", "2026-03-11T12:00:00Z"),  # a day ahead: kept
        _row("k9", "call_attempted", "2026-03-11T12:00:01Z"),
        _row("k10", "call_attempted", "0001-01-01T00:00:00+01:00"),  # before year 1 in UTC
    ]
    with account() as session, session.begin():
        result = ingest_events(session, rows, as_of=AS_OF, first_line=0, backdating_days=1)
    before = (
        "before 2026-02-28T00:00:00Z: the account was created on 2026-03-01 and events "
        "may be back-dated 1 days (LEADBILL_EVENT_BACKDATING_DAYS)"
    )
    ahead = "more than a day after the events were received (2026-03-10 12:00 UTC)"
    assert [(o.line, o.field, o.reason) for o in result.rejections] == [
        (2, "occurred_at", f"0001-01-01T00:00:00Z is {before}"),
        (3, "occurred_at", f"1900-03-02T09:00:00Z is {before}"),
        (4, "occurred_at", f"9999-12-31T23:59:59Z is {ahead}"),
        (6, "occurred_at", f"2026-02-27T23:59:59Z is {before}"),
        (8, "occurred_at", f"2026-03-11T12:00:01Z is {ahead}"),
        (9, "occurred_at", "'0001-01-01T00:00:00+01:00' is out of the calendar's range"),
    ]
    assert result.accepted == 4
    with account() as session:
        lead = session.scalars(select(Lead)).one()
        keys = set(session.scalars(select(LeadEvent.idempotency_key)))
    # The mistyped years did not move the lead's first call out of March.
    assert lead.first_called_at == utc(2026, 2, 28)
    assert keys == {"k1", "k2", "k6", "k8"}


@pytest.fixture
def cli(
    database_url: str, account: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> Iterator[sessionmaker[Session]]:
    """The CLI pointed at the test database."""
    monkeypatch.setenv("LEADBILL_DATABASE_URL", database_url)
    console.sessions.cache_clear()
    yield account
    console.sessions().kw["bind"].dispose()
    console.sessions.cache_clear()


def test_the_csv_import_takes_the_allowance_from_the_environment(
    cli: sessionmaker[Session], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "events.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(COLUMNS), extrasaction="ignore")
        writer.writeheader()
        writer.writerow(_row("k1", "received", "2026-01-15T09:00:00Z"))  # 45 days back
        writer.writerow(_row("k2", "received", "2999-01-01T00:00:00Z"))
    result = CliRunner().invoke(app, ["import", "events", str(path)])
    assert result.exit_code == 2, result.output
    assert "accepted 1, duplicate 0, conflict 0, rejected 1" in result.output
    assert "line 3: occurred_at: 2999-01-01T00:00:00Z is more than a day after" in result.output
    monkeypatch.setenv("LEADBILL_EVENT_BACKDATING_DAYS", "30")
    path.write_text(path.read_text().replace("k1", "k3"), encoding="utf-8")
    result = CliRunner().invoke(app, ["import", "events", str(path)])
    assert result.exit_code == 2, result.output
    assert "line 2: occurred_at: 2026-01-15T09:00:00Z is before 2026-01-30T00:00:00Z" in (
        result.output
    )
