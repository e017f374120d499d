"""The clock at the edges: `bill --as-of`, `subscriptions cancel --at`, `seats create --at`.

An instant staff give may be at most a day ahead of the clock (a run dated later
would close periods that have not ended); the cancellation and the seat record
who made them; the cancel message says when the subscription really ends and
what the runs still renew before then. The commands' clock is fixed at CLOCK.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from leadbill import console
from leadbill.billing import commands as billing_commands
from leadbill.billing.models import Invoice
from leadbill.billing.service import run_billing
from leadbill.cli import app
from leadbill.seats import commands as seat_commands
from leadbill.seats.models import Seat
from leadbill.subscriptions import commands as subscription_commands
from tests.conftest import utc
from tests.integration.test_billing_run import boundary_invoices, reload, subscribed

CLOCK = utc(2026, 4, 20, 12)
START = utc(2026, 1, 15, 4)  # periods end on the 15th at 04:00 UTC


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """A CLI runner on the test database whose commands read CLOCK as the time."""
    monkeypatch.setenv("LEADBILL_DATABASE_URL", database_url)
    monkeypatch.setattr(console.out, "width", 400)
    monkeypatch.setattr(console.err, "width", 400)
    for module in (billing_commands, subscription_commands, seat_commands):
        monkeypatch.setattr(module, "now", lambda: CLOCK)
    console.sessions.cache_clear()
    yield CliRunner()
    console.sessions().kw["bind"].dispose()
    console.sessions.cache_clear()


def _lagging(sessions: sessionmaker[Session]) -> int:
    """acme from Jan 15, billed up to its period [Feb 15, Mar 15): billing lags the clock."""
    with sessions.begin() as session:
        _account, subscription = subscribed(session, start=START)
    run_billing(sessions, utc(2026, 2, 15, 4))
    return subscription.id


def test_bill_refuses_an_as_of_more_than_a_day_ahead_of_the_clock(
    sessions: sessionmaker[Session], cli: CliRunner
) -> None:
    subscription_id = _lagging(sessions)
    refused = cli.invoke(app, ["bill", "--as-of", "2026-04-21T12:01:00Z"])
    assert refused.exit_code == 2
    assert (
        "error: as_of: 2026-04-21 12:01 UTC is more than a day ahead of the clock "
        "(2026-04-20 12:00 UTC); a run closes every period ended by then, so it would "
        "invoice periods that have not ended (--allow-future for a simulation)"
    ) in refused.output
    with sessions() as session:
        assert reload(session, subscription_id).current_period_index == 1  # nothing billed

    # A day ahead is accepted: the run closes the periods ended by then (Mar 15, Apr 15).
    accepted = cli.invoke(app, ["bill", "--as-of", "2026-04-21T12:00:00Z"])
    assert accepted.exit_code == 0, accepted.output
    assert "2 invoices issued" in accepted.output
    assert "warning" not in accepted.output


def test_bill_allow_future_bills_ahead_and_says_so(
    sessions: sessionmaker[Session], cli: CliRunner
) -> None:
    subscription_id = _lagging(sessions)
    result = cli.invoke(app, ["bill", "--as-of", "2026-06-15T04:00:00Z", "--allow-future"])
    assert result.exit_code == 0, result.output
    assert (
        "warning: --allow-future: billing as of 2026-06-15 04:00 UTC, ahead of the clock "
        "(2026-04-20 12:00 UTC): periods that have not ended are closed and their invoices "
        "issued, final, on the usage recorded so far"
    ) in result.output
    assert "4 invoices issued" in result.output
    with sessions() as session:
        assert reload(session, subscription_id).current_period_index == 5


def test_cancel_while_billing_lags_says_it_ends_at_the_period_the_clock_is_in(
    sessions: sessionmaker[Session], cli: CliRunner
) -> None:
    subscription_id = _lagging(sessions)
    result = cli.invoke(app, ["subscriptions", "cancel", "acme", "--by", "ops-kim"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == (
        f"subscription {subscription_id} cancelled as of 2026-04-20 12:00 UTC by ops-kim; "
        "it ends at 2026-05-15 04:00 UTC, the end of the period the cancellation falls in, "
        "with a final invoice for that period's overage and no renewal; billing has not "
        "closed the periods before it, so the next run still renews it at "
        "2026-03-15 04:00 UTC, 2026-04-15 04:00 UTC and invoices those fees"
    )
    with sessions() as session:
        stored = reload(session, subscription_id)
        assert (stored.cancel_requested_at, stored.cancel_requested_by) == (CLOCK, "ops-kim")

    # What the message said is what the runs do.
    run_billing(sessions, utc(2026, 6, 1))
    with sessions() as session:
        stored = reload(session, subscription_id)
        assert (stored.status, stored.ended_at) == ("ended", utc(2026, 5, 15, 4))
        invoices = boundary_invoices(session, subscription_id)
        assert [(i.boundary_index, i.issued_at, i.total) for i in invoices] == [
            (1, utc(2026, 2, 15, 4), 1000),
            (2, utc(2026, 3, 15, 4), 1000),
            (3, utc(2026, 4, 15, 4), 1000),
            (4, utc(2026, 5, 15, 4), 0),  # the final invoice: overage only, none here
        ]

    again = cli.invoke(
        app, ["subscriptions", "cancel", "acme", "--by", "ops-lee", "--at", "2026-04-21"]
    )
    assert again.exit_code == 5 and "has already ended" in again.output


def test_cancel_at_an_instant_in_the_current_period_ends_it(
    sessions: sessionmaker[Session], cli: CliRunner
) -> None:
    subscription_id = _lagging(sessions)
    at = ["--at", "2026-03-01T09:00:00Z"]
    result = cli.invoke(app, ["subscriptions", "cancel", "acme", "--by", "ops-kim", *at])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == (
        f"subscription {subscription_id} cancelled as of 2026-03-01 09:00 UTC by ops-kim; "
        "it ends at 2026-03-15 04:00 UTC, the end of the period the cancellation falls in, "
        "with a final invoice for that period's overage and no renewal"
    )
    # Cancelling again keeps the first cancellation, and says so.
    again = cli.invoke(app, ["subscriptions", "cancel", "acme", "--by", "ops-lee"])
    assert again.exit_code == 0, again.output
    assert again.output.startswith(
        f"already cancelled, nothing changed: subscription {subscription_id} cancelled as of "
        "2026-03-01 09:00 UTC by ops-kim; it ends at 2026-03-15 04:00 UTC"
    )
    run_billing(sessions, utc(2026, 4, 1))
    with sessions() as session:
        assert reload(session, subscription_id).ended_at == utc(2026, 3, 15, 4)


def test_cancel_dated_before_the_current_period_says_its_fee_is_not_credited(
    sessions: sessionmaker[Session], cli: CliRunner
) -> None:
    _lagging(sessions)
    at = ["--at", "2026-02-01T00:00:00Z"]  # in period 0, but period 1 is already invoiced
    result = cli.invoke(app, ["subscriptions", "cancel", "acme", "--by", "ops-kim", *at])
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith(
        "it ends at 2026-03-15 04:00 UTC, the end of the period the cancellation falls in, "
        "with a final invoice for that period's overage and no renewal; the cancellation "
        "is dated before the current period, whose fee was invoiced at 2026-02-15 04:00 UTC "
        "and is not credited"
    )


@pytest.mark.parametrize(
    ("at", "message"),
    [
        (
            "2026-04-21T12:01:00Z",
            "error: at: 2026-04-21 12:01 UTC is more than a day ahead of the clock "
            "(2026-04-20 12:00 UTC)",
        ),
        ("2026-01-15T03:59:00Z", "error: at: precedes the start of subscription 1"),
        ("2026-04-20T12:00:00", "error: at: '2026-04-20T12:00:00' has no UTC offset"),
    ],
)
def test_cancel_refuses_an_instant_out_of_bounds(
    sessions: sessionmaker[Session], cli: CliRunner, at: str, message: str
) -> None:
    subscription_id = _lagging(sessions)
    result = cli.invoke(app, ["subscriptions", "cancel", "acme", "--by", "ops", "--at", at])
    assert result.exit_code == 2 and message in result.output, result.output
    with sessions() as session:
        assert reload(session, subscription_id).cancel_at_period_end is False


def test_cancel_needs_who(sessions: sessionmaker[Session], cli: CliRunner) -> None:
    _lagging(sessions)
    blank = cli.invoke(app, ["subscriptions", "cancel", "acme", "--by", "  "])
    assert blank.exit_code == 2 and "error: by: " in blank.output, blank.output
    missing = cli.invoke(app, ["subscriptions", "cancel", "acme"])
    assert missing.exit_code == 2 and "--by" in missing.output


def _seat(cli: CliRunner, *extra: str) -> tuple[int, str]:
    result = cli.invoke(
        app,
        [
            "seats",
            "create",
            "acme",
            "--code",
            "main",
            "--primary-name",
            "Ana Lee",
            "--primary-email",
            "ana@acme.test",
            *extra,
        ],
    )
    return result.exit_code, result.output


def test_seat_created_at_an_instant_records_who_and_dates_its_fee_invoice(
    sessions: sessionmaker[Session], cli: CliRunner
) -> None:
    _lagging(sessions)
    code, output = _seat(cli, "--by", "ops-kim", "--at", "2026-03-02T10:00:00Z")
    assert code == 0, output
    assert output.strip() == (
        "seat main created at 2026-03-02 10:00 UTC by ops-kim; fee invoice INV-000003 "
        "issued then: 57.00 USD"
    )
    with sessions() as session:
        seat = session.scalars(select(Seat)).one()
        assert (seat.created_at, seat.created_by) == (utc(2026, 3, 2, 10), "ops-kim")
        invoice = session.scalars(select(Invoice).where(Invoice.seat_id == seat.id)).one()
        assert (invoice.number, invoice.issued_at) == ("INV-000003", utc(2026, 3, 2, 10))


@pytest.mark.parametrize(
    ("at", "code", "message"),
    [
        ("2026-04-22T00:00:00Z", 2, "error: at: 2026-04-22 00:00 UTC is more than a day ahead"),
        ("2026-01-01T00:00:00Z", 2, "error: at: precedes the start of subscription 1"),
        ("2026-03-15T04:00:00Z", 5, "is cancelled and ends at 2026-03-15 04:00 UTC"),
    ],
)
def test_seat_refuses_an_instant_outside_the_subscription_or_ahead_of_the_clock(
    sessions: sessionmaker[Session], cli: CliRunner, at: str, code: int, message: str
) -> None:
    _lagging(sessions)
    cancel = ["subscriptions", "cancel", "acme", "--by", "ops", "--at", "2026-03-01T00:00:00Z"]
    assert cli.invoke(app, cancel).exit_code == 0
    exit_code, output = _seat(cli, "--by", "ops-kim", "--at", at)
    assert exit_code == code and message in output, output
    with sessions() as session:
        assert session.scalars(select(Seat)).all() == []
