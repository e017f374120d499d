"""`leadbill reviews ...` and `leadbill credit-notes ...` on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from leadbill import console
from leadbill.billing.service import run_billing
from leadbill.cli import app
from leadbill.credit_notes.models import CreditNote
from tests.conftest import utc
from tests.integration.review_fixtures import APRIL, MAY, account_on, add_lead, ppl_plan

runner = CliRunner()


@pytest.fixture
def cli(
    database_url: str, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> Iterator[sessionmaker[Session]]:
    """The CLI pointed at the test database."""
    monkeypatch.setenv("LEADBILL_DATABASE_URL", database_url)
    console.sessions.cache_clear()
    yield sessions
    console.sessions().kw["bind"].dispose()
    console.sessions.cache_clear()


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_reviews_and_credit_notes_from_the_command_line(cli: sessionmaker[Session]) -> None:
    with cli.begin() as session:
        account_on(session, ppl_plan(session))
        add_lead(session, "pipes", "L1", utc(2026, 3, 30))
        add_lead(session, "pipes", "L2", utc(2026, 3, 30), answered=False)
        add_lead(session, "pipes", "A1", utc(2026, 4, 6))
        add_lead(session, "pipes", "A2", utc(2026, 4, 7))
    run_billing(cli, APRIL)
    explanation = ("--explanation", "A van leasing company selling to us, not a customer.")
    code, output = run(
        "reviews",
        "submit",
        "pipes",
        "L2",
        "--reason",
        "solicitor",
        *explanation,
        "--by",
        "pat",
        "--as-of",
        "2026-04-01T12:00:00Z",
    )
    assert code == 5 and "(condition: answered)" in output
    code, output = run(
        "reviews",
        "submit",
        "pipes",
        "L1",
        "--reason",
        "solicitor",
        *explanation,
        "--by",
        "pat",
        "--as-of",
        "2026-04-01T12:00:00Z",
    )
    assert code == 0, output
    assert "review 1 submitted for lead L1: due 2026-04-06 12:00 UTC" in output
    code, output = run("reviews", "list", "--as-of", "2026-04-07T00:00:00Z")
    assert code == 0 and "OVERDUE" in output and "1 open, 1 overdue" in output
    code, output = run(
        "reviews",
        "decide",
        "1",
        "request-info",
        "--by",
        "qa",
        "--note",
        "Which company?",
        "--as-of",
        "2026-04-02T12:00:00Z",
    )
    assert code == 0, output
    code, output = run(
        "reviews",
        "reply",
        "1",
        "--message",
        "Van Lease Co.",
        "--by",
        "pat",
        "--as-of",
        "2026-04-02T13:00:00Z",
    )
    assert code == 0 and "back in the queue" in output
    code, output = run(
        "reviews", "decide", "1", "approve", "--by", "qa", "--as-of", "2026-04-03T12:00:00Z"
    )
    assert code == 0 and "credit note CN-000001 of 40.00 USD" in output
    code, output = run(
        "reviews", "decide", "1", "approve", "--by", "qa", "--as-of", "2026-04-03T13:00:00Z"
    )
    assert code == 5 and "final" in output
    code, output = run("reviews", "show", "1")
    assert code == 0 and "credited" in output and "info_requested" in output
    code, output = run("reviews", "history", "pipes", "--lead", "L1")
    assert code == 0 and "replied" in output
    code, output = run(
        "reviews",
        "stats",
        "pipes",
        "--from",
        "2026-04-01",
        "--to",
        "2026-05-01",
        "--as-of",
        "2026-04-30",
    )
    assert code == 0 and "approval rate           100.0 %" in output
    run_billing(cli, MAY)
    code, output = run("credit-notes", "list")
    assert code == 0 and "CN-000001" in output
    code, output = run("credit-notes", "show", "CN-000001")
    assert code == 0 and "applied 40.00 USD on INV-" in output and "left to apply: 0.00" in output
    with cli() as session:
        assert session.query(CreditNote).count() == 1


def test_text_in_brackets_is_printed_as_written(cli: sessionmaker[Session]) -> None:
    """An explanation, a note or an error detail in [brackets] is data, never dropped."""
    with cli.begin() as session:
        account_on(session, ppl_plan(session))
        add_lead(session, "pipes", "L1", utc(2026, 3, 30))
    run_billing(cli, APRIL)
    code, output = run(
        "reviews",
        "submit",
        "pipes",
        "L1",
        "--reason",
        "solicitor",
        "--explanation",
        "[caller] said they sell vans [sic]",
        "--by",
        "pat",
        "--as-of",
        "2026-04-01T12:00:00Z",
    )
    assert code == 0, output
    code, output = run("reviews", "show", "1")
    assert code == 0 and "[caller] said they sell vans [sic]" in output
    code, output = run("bill", "--as-of", "[soon]")
    assert code != 0 and "error: as_of: '[soon]' is not an RFC 3339 instant" in output
