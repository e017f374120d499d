"""`leadbill entities ...`, `leadbill taxes ...` and an account's billing details from the
command line: what is stored, and the exit codes of the README (2 invalid input naming
the field, 4 not found, 5 conflict)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from leadbill import console
from leadbill.accounts.billing_details import details_of
from leadbill.accounts.service import get_account
from leadbill.billing.taxation import account_billing
from leadbill.cli import app
from leadbill.entities.service import get_entity
from leadbill.taxes.service import list_rates

runner = CliRunner()
US = [
    "--legal-name",
    "Leadbill Demo Inc.",
    "--address-line1",
    "1 Main St",
    "--city",
    "Denver",
    "--region",
    "US-CO",
    "--country",
    "US",
    "--tax-id",
    "123456789",
]
NORDIC = [
    "--legal-name",
    "Lead Data Nordic AB",
    "--address-line1",
    "Sveavägen 44",
    "--city",
    "Stockholm",
    "--country",
    "SE",
    "--tax-id",
    "SE556036079301",
    "--invoice-prefix",
    "se-",
    "--credit-note-prefix",
    "SECN-",
    "--payment-terms-days",
    "30",
    "--default-currency",
    "EUR",
]


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The CLI pointed at the test database."""
    monkeypatch.setenv("LEADBILL_DATABASE_URL", database_url)
    monkeypatch.setattr(console.out, "width", 250)
    monkeypatch.setattr(console.err, "width", 250)
    console.sessions.cache_clear()
    yield
    console.sessions().kw["bind"].dispose()
    console.sessions.cache_clear()


def _run(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result.output


def test_entities_are_created_changed_made_default_listed_and_shown(
    cli: None, sessions: sessionmaker[Session]
) -> None:
    assert "(the default)" in _run("entities", "create", "us", *US)
    created = _run("entities", "create", "nordic", *NORDIC)
    assert "next invoice SE-000001, next credit note SECN-000001" in created
    _run("entities", "update", "nordic", "--postal-code", "111 34", "--tax-id", "")
    assert "nordic is now the default" in _run("entities", "default", "Nordic")
    listing = _run("entities", "list")
    nordic_row = next(line for line in listing.splitlines() if "nordic" in line)
    assert "SECN-" in nordic_row and "30 days" in nordic_row and "default" in nordic_row
    shown = _run("entities", "show", "nordic")
    assert "postal code: 111 34" in shown and "tax id: -" in shown
    with sessions() as session:
        nordic, us = get_entity(session, "nordic"), get_entity(session, "us")
        assert (nordic.invoice_prefix, nordic.tax_id, nordic.is_default) == ("SE-", None, True)
        assert (us.tax_id, us.is_default) == ("12-3456789", False)


def test_an_entity_sends_through_its_own_smtp_server_set_from_the_cli(
    cli: None, sessions: sessionmaker[Session]
) -> None:
    _run("entities", "create", "us", *US)
    _run("entities", "create", "nordic", *NORDIC)
    set_up = _run(
        "entities", "mail", "nordic", "--from", "fakturor@leaddata.se",
        "--smtp-host", "smtp.leaddata.se", "--smtp-security", "tls", "--smtp-user", "fakturor",
    )  # fmt: skip
    assert "SMTP server smtp.leaddata.se:465 tls" in set_up
    shown = _run("entities", "show", "nordic")
    assert "mail from: fakturor@leaddata.se" in shown
    assert "password from LEADBILL_SMTP_PASSWORD_NORDIC" in shown
    assert "smtp_host:" in _run("entities", "mail", "nordic", "--smtp-host", "a b", code=2)
    _run("entities", "mail", "nordic", "--smtp-host", "")
    assert "SMTP server: - (the LEADBILL_SMTP_HOST server)" in _run("entities", "show", "nordic")
    with sessions() as session:
        nordic = get_entity(session, "nordic")
        assert (nordic.smtp_host, nordic.smtp_user) == (None, "fakturor")


def test_entity_refusals_exit_with_the_readmes_codes(cli: None) -> None:
    _run("entities", "create", "us", *US)
    # The last of a repeated option counts: NORDIC's, then these.
    bad_vat = [*NORDIC, "--country", "DE", "--tax-id", "DE136695977"]
    refused = _run("entities", "create", "de", *bad_vat, code=2)
    assert "tax_id:" in refused and "check digit" in refused
    assert "region:" in _run("entities", "update", "us", "--country", "SE", code=2)
    assert "does not exist" in _run("entities", "show", "ghost", code=4)
    taken = [*NORDIC, "--invoice-prefix", "INV-"]
    assert "already used by billing entity 'us'" in _run("entities", "create", "x", *taken, code=5)
    assert "already exists" in _run("entities", "create", "us", *US, code=5)
    # Codes told apart only by '-' and '_' would share one SMTP password variable.
    _run("entities", "create", "se-x", *NORDIC)
    other = [*NORDIC, "--invoice-prefix", "SX-", "--credit-note-prefix", "SXCN-"]
    shared = _run("entities", "create", "se_x", *other, code=5)
    assert "LEADBILL_SMTP_PASSWORD_SE_X, as billing entity 'se-x' does" in shared
    assert "se_x" not in _run("entities", "list")


def test_tax_rates_are_added_ended_and_listed(cli: None, sessions: sessionmaker[Session]) -> None:
    first = _run(
        "taxes",
        "add",
        "--name",
        "Moms 25%",
        "--rate",
        "25",
        "--country",
        "se",
        "--valid-from",
        "2020-01-01",
    )
    assert first.strip() == "tax rate 1 added: Moms 25%: 25 % in SE from 2020-01-01 to open"
    overlap = ["taxes", "add", "--name", "Moms", "--rate", "12", "--country", "SE"]
    assert "end it first" in _run(*overlap, "--valid-from", "2026-01-01", code=5)
    assert "ends: Moms 25%" in _run("taxes", "end", "1", "--valid-to", "2025-12-31")
    _run(*overlap, "--valid-from", "2026-01-01")
    _run(
        "taxes",
        "add",
        "--name",
        "NY sales tax",
        "--rate",
        "8.875",
        "--country",
        "US",
        "--region",
        "us-ny",
        "--valid-from",
        "2026-01-01",
        "--valid-to",
        "2026-12-31",
    )
    assert "valid_from:" in _run(*overlap, "--valid-from", "2026-13-01", code=2)
    assert "rate:" in _run(
        "taxes",
        "add",
        "--name",
        "x",
        "--rate",
        "101",
        "--country",
        "FR",
        "--valid-from",
        "2026-01-01",
        code=2,
    )
    assert "valid_to:" in _run("taxes", "end", "1", "--valid-to", "2019-01-01", code=2)
    assert "does not exist" in _run("taxes", "end", "99", "--valid-to", "2030-01-01", code=4)
    us_only = _run("taxes", "list", "--country", "US")
    assert "8.875" in us_only and "US-NY" in us_only and "Moms" not in us_only
    with sessions() as session:
        rates = [(r.name, Decimal(r.rate), r.region, r.valid_to) for r in list_rates(session)]
    assert rates == [
        ("Moms 25%", Decimal(25), None, date(2025, 12, 31)),
        ("Moms", Decimal(12), None, None),
        ("NY sales tax", Decimal("8.875"), "US-NY", date(2026, 12, 31)),
    ]


def test_billing_details_are_set_shown_and_cleared(
    cli: None, sessions: sessionmaker[Session]
) -> None:
    _run("entities", "create", "us", *US)
    _run("entities", "create", "nordic", *NORDIC)
    base = ["--billing-email", "b@acme.test", "--currency", "EUR"]
    assert "does not exist" in _run(
        "accounts", "create", "x", "--name", "X", *base, "--entity", "ghost", code=4
    )
    _run("accounts", "create", "acme", "--name", "Acme", *base, "--entity", "nordic")
    assert "billing entity: nordic\n" in _run("accounts", "billing-details", "acme")
    details = [
        "--legal-name",
        "Acme GmbH",
        "--address-line1",
        "Hauptstr. 1",
        "--city",
        "Berlin",
        "--postal-code",
        "10115",
        "--country",
        "DE",
        "--purchase-order",
        "PO-7",
        "--payment-terms-days",
        "45",
    ]
    refused = _run(
        "accounts", "set-billing-details", "acme", *details, "--tax-id", "DE136695977", code=2
    )
    assert "tax_id:" in refused
    with sessions() as session:
        stored = details_of(session, get_account(session, "acme").id)
        # Only the entity, from `accounts create --entity`: the refused change kept nothing.
        assert stored is not None and (stored.legal_name, stored.country) == (None, None)
    _run("accounts", "set-billing-details", "acme", *details, "--tax-id", "DE 136 695 976")
    shown = _run("accounts", "billing-details", "acme")
    for line in ("legal name: Acme GmbH", "tax id: DE136695976", "payment terms: 45 days\n"):
        assert line in shown
    with sessions() as session:
        billing = account_billing(session, get_account(session, "acme").id)
    assert (billing.terms_days, billing.invoice_prefix, billing.parties.customer_country) == (
        45,
        "SE-",
        "DE",
    )
    _run(
        "accounts",
        "set-billing-details",
        "acme",
        "--payment-terms-days",
        "",
        "--entity",
        "",
        "--purchase-order",
        "",
    )
    shown = _run("accounts", "billing-details", "acme")
    assert "payment terms: 15 days (the entity's)" in shown
    assert "billing entity: us (the default)" in shown and "purchase order: -" in shown
    bad_terms = ["accounts", "set-billing-details", "acme", "--payment-terms-days"]
    assert "payment_terms_days:" in _run(*bad_terms, "x", code=2)
    assert "payment_terms_days:" in _run(*bad_terms, "400", code=2)
    assert "does not exist" in _run("accounts", "billing-details", "ghost", code=4)
