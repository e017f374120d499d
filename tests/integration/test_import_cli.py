"""`leadbill import events FILE.csv`: summary, rejections, exit codes, all-or-nothing.

The command runs against the test database through LEADBILL_DATABASE_URL, on
SQLite and PostgreSQL.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from leadbill import console
from leadbill.accounts.service import create_account
from leadbill.cli import app
from leadbill.leads import commands
from leadbill.leads.csv_format import COLUMNS
from leadbill.leads.models import Lead, LeadEvent
from tests.conftest import utc

runner = CliRunner()


@pytest.fixture
def cli_database(
    database_url: str, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> Iterator[sessionmaker[Session]]:
    """The CLI pointed at the test database, which holds accounts acme and beta."""
    with sessions() as session, session.begin():
        for code in ("acme", "beta"):
            create_account(
                session,
                code=code,
                name=code.title(),
                currency="USD",
                time_zone="UTC",
                billing_email=f"billing@{code}.test",
                as_of=utc(2026, 1, 1),
            )
    monkeypatch.setenv("LEADBILL_DATABASE_URL", database_url)
    console.sessions.cache_clear()
    yield sessions
    console.sessions().kw["bind"].dispose()
    console.sessions.cache_clear()


def _write(path: Path, rows: list[dict[str, str]], columns: tuple[str, ...] = COLUMNS) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def _event(key: str, lead: str, event_type: str, at: str, account: str = "acme") -> dict[str, str]:
    return {
        "idempotency_key": key,
        "account": account,
        "lead_id": lead,
        "event_type": event_type,
        "occurred_at": at,
    }


GOOD = [
    _event("k1", "L1", "received", "2026-01-05T10:00:00Z"),
    _event("k2", "L1", "call_answered", "2026-01-05T10:05:00Z"),
    _event("k3", "L2", "received", "2026-01-06T09:00:00+01:00", account="beta"),
]


def _counts(sessions: sessionmaker[Session]) -> tuple[int, int]:
    with sessions() as session:
        events = session.scalar(select(func.count()).select_from(LeadEvent)) or 0
        leads = session.scalar(select(func.count()).select_from(Lead)) or 0
    return events, leads


def test_import_prints_summary_and_exits_0(
    cli_database: sessionmaker[Session], tmp_path: Path
) -> None:
    path = _write(tmp_path / "events.csv", GOOD)
    result = runner.invoke(app, ["import", "events", str(path)])
    assert result.exit_code == 0, result.output
    assert "accepted 3, duplicate 0, conflict 0, rejected 0" in result.output
    assert _counts(cli_database) == (3, 2)
    again = runner.invoke(app, ["import", "events", str(path)])
    assert again.exit_code == 0
    assert "accepted 0, duplicate 3, conflict 0, rejected 0" in again.output
    assert _counts(cli_database) == (3, 2)


def test_rejections_listed_with_line_and_exit_2(
    cli_database: sessionmaker[Session], tmp_path: Path
) -> None:
    rows = [*GOOD, _event("k4", "L3", "received", "2026-13-01"), _event("k5", "L3", "x", "")]
    path = _write(tmp_path / "events.csv", rows)
    result = runner.invoke(app, ["import", "events", str(path)])
    assert result.exit_code == 2
    assert "accepted 3, duplicate 0, conflict 0, rejected 2" in result.output
    assert "line 5: occurred_at: '2026-13-01' is not an RFC 3339 instant" in result.output
    assert "line 6: event_type: 'x' is not one of" in result.output
    assert _counts(cli_database) == (3, 2)


def test_all_or_nothing_stores_nothing_across_chunks(
    cli_database: sessionmaker[Session], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Chunks of 2 rows: the bad row is in the second chunk, after a valid one was sent.
    monkeypatch.setattr(commands, "CHUNK_ROWS", 2)
    rows = [*GOOD, _event("k4", "L3", "received", "2026-01-07T09:00:00Z", account="nobody")]
    path = _write(tmp_path / "events.csv", rows)
    result = runner.invoke(app, ["import", "events", str(path), "--all-or-nothing"])
    assert result.exit_code == 2
    assert "accepted 0, duplicate 0, conflict 0, rejected 1" in result.output
    assert "line 5: account: unknown account 'nobody'" in result.output
    assert "nothing stored" in result.output
    assert _counts(cli_database) == (0, 0)


def test_chunks_are_committed_one_by_one(
    cli_database: sessionmaker[Session], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(commands, "CHUNK_ROWS", 2)
    rows = [*GOOD, _event("k1", "L1", "received", "2026-01-05T10:00:00Z")]
    path = _write(tmp_path / "events.csv", rows)
    result = runner.invoke(app, ["import", "events", str(path)])
    assert result.exit_code == 0, result.output
    # The repeated key sits in a later chunk than its first occurrence.
    assert "accepted 3, duplicate 1, conflict 0, rejected 0" in result.output
    assert _counts(cli_database) == (3, 2)


def test_rejection_list_is_capped(
    cli_database: sessionmaker[Session], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(commands, "SHOWN_REJECTIONS", 3)
    rows = [_event(f"k{n}", "L1", "received", "soon") for n in range(7)]
    path = _write(tmp_path / "events.csv", rows)
    result = runner.invoke(app, ["import", "events", str(path)])
    assert result.exit_code == 2
    assert result.output.count("is not an RFC 3339 instant") == 3
    assert "… and 4 more" in result.output


def test_missing_required_column_is_named(
    cli_database: sessionmaker[Session], tmp_path: Path
) -> None:
    columns = tuple(name for name in COLUMNS if name != "occurred_at")
    path = _write(tmp_path / "events.csv", GOOD, columns)
    result = runner.invoke(app, ["import", "events", str(path)])
    assert result.exit_code == 2
    assert "header: missing required column occurred_at" in result.output
    assert _counts(cli_database) == (0, 0)


def _write_text(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8", newline="")
    return path


HEADER = "idempotency_key,account,lead_id,event_type,occurred_at,name\r\n"


def test_nul_byte_rejects_its_row_with_line_and_field_and_keeps_the_others(
    cli_database: sessionmaker[Session], tmp_path: Path
) -> None:
    # On PostgreSQL the NUL used to fail the whole chunk (psycopg.DataError, exit 1).
    rows = [
        *GOOD,
        {**_event("k4", "L3", "received", "2026-01-07T09:00:00Z"), "name": "Ann\x00Lee"},
        _event("k5", "L3\x00", "received", "2026-01-07T09:00:00Z"),
        _event("k6", "L4", "received", "2026-01-07T09:00:00Z"),
    ]
    path = _write(tmp_path / "events.csv", rows)
    result = runner.invoke(app, ["import", "events", str(path)])
    assert result.exit_code == 2, result.output
    assert "accepted 4, duplicate 0, conflict 0, rejected 2" in result.output
    assert "line 5: name: must not contain NUL characters" in result.output
    assert "line 6: lead_id: must not contain NUL characters" in result.output
    assert _counts(cli_database) == (4, 3)
    with cli_database() as session:
        assert "Ann\x00Lee" not in set(session.scalars(select(Lead.name)))


def test_unit_separator_rejects_its_row_on_both_databases(
    cli_database: sessionmaker[Session], tmp_path: Path
) -> None:
    # U+001F separates packed values on PostgreSQL: it used to refuse the whole chunk there
    # (no line) and be stored on SQLite.
    rows = [*GOOD, {**_event("k4", "L3", "outcome", "2026-01-07T09:00:00Z"), "detail": "a\x1fb"}]
    path = _write(tmp_path / "events.csv", rows)
    result = runner.invoke(app, ["import", "events", str(path)])
    assert result.exit_code == 2, result.output
    assert "accepted 3, duplicate 0, conflict 0, rejected 1" in result.output
    assert "line 5: detail: must not contain U+001F" in result.output
    assert _counts(cli_database) == (3, 2)


@pytest.mark.parametrize("column", ["account", "name"])
def test_a_repeated_header_column_refuses_the_file(
    cli_database: sessionmaker[Session], tmp_path: Path, column: str
) -> None:
    text = HEADER.replace("name", f"name,{column}") + (
        "k1,acme,L1,received,2026-01-05T10:00:00Z,Ann,beta\r\n"
    )
    path = _write_text(tmp_path / "events.csv", text)
    result = runner.invoke(app, ["import", "events", str(path)])
    assert result.exit_code == 2, result.output
    position = 2 if column == "account" else 6
    assert (
        f"header: column '{column}' appears 2 times (columns {position} and 7); "
        "each column may appear only once"
    ) in result.output
    assert _counts(cli_database) == (0, 0)


def test_an_unterminated_quote_rejects_the_record_with_the_lines_it_swallowed(
    cli_database: sessionmaker[Session], tmp_path: Path
) -> None:
    text = HEADER + (
        "k1,acme,L1,received,2026-01-05T10:00:00Z,Ann\r\n"
        'k2,acme,L2,received,2026-01-05T10:00:00Z,"Bob\r\n'
        "k3,beta,L3,received,2026-01-05T10:00:00Z,Cy\r\n"
        'k4,beta,L4,received,2026-01-05T10:00:00Z,Di"\r\n'
        "k5,acme,L5,received,2026-01-05T10:00:00Z,Ed\r\n"
        "k6,acme,L6,received,soon,Flo\r\n"
    )
    path = _write_text(tmp_path / "events.csv", text)
    result = runner.invoke(app, ["import", "events", str(path)])
    assert result.exit_code == 2, result.output
    assert "accepted 2, duplicate 0, conflict 0, rejected 2" in result.output
    assert (
        "line 3: name: a quoted value runs across lines 3 to 5: a value cannot hold a line "
        "break (is a closing quote missing?)"
    ) in result.output
    # Lines are the file's own lines, after the record that covered three.
    assert "line 7: occurred_at: 'soon' is not an RFC 3339 instant" in result.output
    with cli_database() as session:
        assert set(session.scalars(select(LeadEvent.idempotency_key))) == {"k1", "k5"}


def test_a_quote_left_open_to_the_end_of_the_file_is_rejected(
    cli_database: sessionmaker[Session], tmp_path: Path
) -> None:
    text = HEADER + (
        'k1,acme,L1,received,2026-01-05T10:00:00Z,"Ann\r\n'
        "k2,beta,L2,received,2026-01-05T10:00:00Z,Bob\r\n"
    )
    path = _write_text(tmp_path / "events.csv", text)
    result = runner.invoke(app, ["import", "events", str(path)])
    assert result.exit_code == 2, result.output
    assert "accepted 0, duplicate 0, conflict 0, rejected 1" in result.output
    assert "line 2: name: a quoted value runs across lines 2 to 3" in result.output
    assert _counts(cli_database) == (0, 0)


def test_a_record_with_more_or_fewer_values_than_the_header_is_rejected(
    cli_database: sessionmaker[Session], tmp_path: Path
) -> None:
    text = HEADER + (
        "k1,acme,L1,received,2026-01-05T10:00:00Z,Lee, Ann\r\n"
        "k2,acme,L2,received,2026-01-05T10:00:00Z\r\n"
        "k3,acme,L3,received,2026-01-05T10:00:00Z,Bob\r\n"
    )
    path = _write_text(tmp_path / "events.csv", text)
    result = runner.invoke(app, ["import", "events", str(path)])
    assert result.exit_code == 2, result.output
    assert "accepted 1, duplicate 0, conflict 0, rejected 2" in result.output
    assert (
        "line 2: row: has 7 values but the header names 6 columns "
        "(an unquoted comma, or a missing one?)"
    ) in result.output
    assert "line 3: row: has 5 values but the header names 6 columns" in result.output
    with cli_database() as session:
        assert set(session.scalars(select(LeadEvent.idempotency_key))) == {"k3"}


def test_all_or_nothing_stores_nothing_after_a_malformed_record(
    cli_database: sessionmaker[Session], tmp_path: Path
) -> None:
    text = HEADER + (
        "k1,acme,L1,received,2026-01-05T10:00:00Z,Ann\r\n"
        'k2,acme,L2,received,2026-01-05T10:00:00Z,"Bob\r\n'
    )
    path = _write_text(tmp_path / "events.csv", text)
    result = runner.invoke(app, ["import", "events", str(path), "--all-or-nothing"])
    assert result.exit_code == 2, result.output
    assert "accepted 0, duplicate 0, conflict 0, rejected 1" in result.output
    # The quote runs to the end of the file, from its last line.
    assert "line 3: name: a quoted value holds a line break" in result.output
    assert "nothing stored (--all-or-nothing): 1 valid rows discarded" in result.output
    assert _counts(cli_database) == (0, 0)


def test_a_changed_row_under_a_stored_key_is_a_conflict_and_exits_2(
    cli_database: sessionmaker[Session], tmp_path: Path
) -> None:
    path = _write(tmp_path / "events.csv", GOOD)
    assert runner.invoke(app, ["import", "events", str(path)]).exit_code == 0
    corrected = [
        GOOD[0],
        {**GOOD[1], "occurred_at": "2026-01-05T10:06:00Z"},
        # The same instant as stored (09:00+01:00), written in UTC: a retry.
        {**GOOD[2], "occurred_at": "2026-01-06T08:00:00Z"},
    ]
    path = _write(tmp_path / "corrected.csv", corrected)
    result = runner.invoke(app, ["import", "events", str(path)])
    assert result.exit_code == 2, result.output
    assert "accepted 0, duplicate 2, conflict 1, rejected 0" in result.output
    assert (
        "line 3: idempotency_key: already received with a different occurred_at: "
        "this row is not stored (conflict)"
    ) in result.output
    with cli_database() as session:
        stored = session.scalars(select(LeadEvent).where(LeadEvent.idempotency_key == "k2")).one()
        assert stored.occurred_at == utc(2026, 1, 5, 10, 5)
    assert _counts(cli_database) == (3, 2)


def test_all_or_nothing_stores_nothing_when_a_row_conflicts(
    cli_database: sessionmaker[Session], tmp_path: Path
) -> None:
    rows = [*GOOD, {**GOOD[0], "event_type": "call_missed"}]
    path = _write(tmp_path / "events.csv", rows)
    result = runner.invoke(app, ["import", "events", str(path), "--all-or-nothing"])
    assert result.exit_code == 2, result.output
    assert "accepted 0, duplicate 0, conflict 1, rejected 0" in result.output
    assert (
        "line 5: idempotency_key: repeats line 2 with a different event_type: "
        "this row is not stored (conflict)"
    ) in result.output
    assert "nothing stored (--all-or-nothing): 3 valid rows discarded" in result.output
    assert _counts(cli_database) == (0, 0)
