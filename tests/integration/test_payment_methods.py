"""Payment methods: bank transfer by default, SEPA mandates checked, cards only as provider ids."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from leadbill import console
from leadbill.billing.models import Payment
from leadbill.billing.payments import record_payment
from leadbill.cli import app
from leadbill.errors import Conflict, InvalidInput
from leadbill.payment_methods.service import (
    MethodChoice,
    current_method,
    mandate_text,
    method_history,
    set_method,
)
from tests.conftest import utc
from tests.integration.payment_world import invoices_of, world

runner = CliRunner()
SEPA = MethodChoice(
    kind="sepa_debit",
    iban="DE89 3704 0044 0532 0130 00",
    account_holder="Fjord Analytics AB",
    mandate_text=mandate_text("Lead Data Nordic AB"),
)


def test_an_account_pays_by_bank_transfer_until_a_method_is_set(session: Session) -> None:
    accounts = world(session)
    assert current_method(session, accounts["se"].id) is None


def test_a_sepa_mandate_is_signed_on_the_acceptance_day_with_a_generated_reference(
    session: Session,
) -> None:
    accounts = world(session)
    # 23:30 UTC on Oct 4 is already Oct 5 in Stockholm, the account's time zone.
    method = set_method(session, accounts["se"], SEPA, utc(2026, 10, 4, 23, 30), "pat@fjord")
    assert (method.kind, method.iban, method.bic) == (
        "sepa_debit",
        "DE89370400440532013000",
        "COBADEFFXXX",
    )
    assert method.signed_on == date(2026, 10, 5)
    assert method.mandate_reference == f"LB-{accounts['se'].id}-1"
    assert (method.sequence, method.created_by) == ("first", "pat@fjord")
    assert method.mandate_text is not None and "Lead Data Nordic AB" in method.mandate_text


def test_a_new_method_ends_the_one_in_use_and_keeps_it(session: Session) -> None:
    accounts = world(session)
    first = set_method(session, accounts["se"], SEPA, utc(2026, 10, 5), None)
    set_method(session, accounts["se"], MethodChoice(kind="bank_transfer"), utc(2026, 10, 9), None)
    again = set_method(session, accounts["se"], SEPA, utc(2026, 10, 12), None)
    history = method_history(session, accounts["se"].id)
    assert [m.kind for m in history] == ["sepa_debit", "bank_transfer", "sepa_debit"]
    assert first.ended_at == utc(2026, 10, 9)
    assert current_method(session, accounts["se"].id) is again
    assert again.mandate_reference == f"LB-{accounts['se'].id}-2"


@pytest.mark.parametrize(
    ("choice", "field"),
    [
        (MethodChoice(kind="cheque"), "kind"),
        (MethodChoice(kind="sepa_debit", account_holder="A", mandate_text="x"), "iban"),
        (
            MethodChoice(kind="sepa_debit", iban="DE89370400440532013001", account_holder="A"),
            "iban",
        ),
        (
            MethodChoice(
                kind="sepa_debit",
                iban="DE89370400440532013000",
                account_holder="A",
                mandate_text="x",
                mandate_reference="HAS SPACE",
            ),
            "mandate_reference",
        ),
        (
            MethodChoice(kind="sepa_debit", iban="DE89370400440532013000", account_holder="A" * 71),
            "account_holder",
        ),
        (
            MethodChoice(
                kind="card",
                provider="stripe",
                provider_customer_id="cus_1",
                provider_payment_method_id="4242 4242 4242 4242",
            ),
            "provider_payment_method_id",
        ),
        (MethodChoice(kind="card", provider="stripe"), "provider_customer_id"),
    ],
)
def test_a_bad_method_is_refused_naming_the_field_and_nothing_changes(
    session: Session, choice: MethodChoice, field: str
) -> None:
    accounts = world(session)
    with pytest.raises(InvalidInput) as error:
        set_method(session, accounts["se"], choice, utc(2026, 10, 5), None)
    assert error.value.field == field
    assert method_history(session, accounts["se"].id) == []


def test_a_mandate_reference_is_used_once(session: Session) -> None:
    accounts = world(session)
    given = replace(SEPA, mandate_reference="mandate-2026/7")
    assert set_method(session, accounts["se"], given, utc(2026, 10, 5), None).mandate_reference == (
        "MANDATE-2026/7"
    )
    with pytest.raises(Conflict, match="already used"):
        set_method(session, accounts["us"], given, utc(2026, 10, 5), None)


def test_a_card_keeps_only_the_providers_ids(session: Session) -> None:
    accounts = world(session)
    card = MethodChoice(
        kind="card",
        provider="stripe",
        provider_customer_id="cus_9",
        provider_payment_method_id="pm_9",
    )
    method = set_method(session, accounts["us"], card, utc(2026, 10, 5), None)
    assert (method.provider, method.provider_customer_id, method.provider_payment_method_id) == (
        "stripe",
        "cus_9",
        "pm_9",
    )
    assert (method.iban, method.mandate_reference) == (None, None)


def test_a_payment_records_its_method_provider_reference_and_fee(session: Session) -> None:
    accounts = world(session)
    (invoice,) = invoices_of(session, accounts["us"])
    payment = record_payment(
        session,
        invoice=invoice,
        amount="400.00",
        currency="USD",
        reference="ch-1",
        received_at=utc(2026, 10, 6),
        method="card",
        provider_reference="ch_3Nq",
        fee="11.90",
    )
    assert (payment.method, payment.provider_reference, payment.fee) == (
        "card",
        "ch_3Nq",
        Decimal("11.90"),
    )
    (se_invoice,) = invoices_of(session, accounts["se"])
    for fee, reason in (("0.001", "decimal places"), ("600.00", "from 0 to")):
        with pytest.raises(InvalidInput) as error:
            record_payment(
                session,
                invoice=se_invoice,
                amount="500.00",
                currency="EUR",
                reference=f"x-{fee}",
                received_at=utc(2026, 10, 6),
                fee=fee,
            )
        assert error.value.field == "fee" and reason in error.value.reason
    with pytest.raises(InvalidInput) as error:
        record_payment(
            session,
            invoice=se_invoice,
            amount="1.00",
            currency="EUR",
            reference="y",
            received_at=utc(2026, 10, 6),
            method="cash",
        )
    assert error.value.field == "method"
    assert session.query(Payment).count() == 1


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


def test_cli_sets_and_shows_a_mandate_and_refuses_a_bad_iban(
    sessions: sessionmaker[Session], cli: None
) -> None:
    with sessions.begin() as session:
        accounts = world(session)
    result = runner.invoke(
        app,
        ["payment-methods", "set", "fjord", "sepa_debit", "--iban", "DE89370400440532013001",
         "--account-holder", "Fjord AB"],
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "iban" in result.output
    result = runner.invoke(
        app,
        ["payment-methods", "set", "fjord", "sepa_debit", "--iban", "DE89370400440532013000",
         "--account-holder", "Fjord AB", "--by", "ops"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"mandate LB-{accounts['se'].id}-1" in result.output
    shown = runner.invoke(app, ["payment-methods", "show", "fjord", "--format", "json"])
    assert shown.exit_code == 0, shown.output
    assert '"sequence": "first"' in shown.output and '"bic": "COBADEFFXXX"' in shown.output
    plain = runner.invoke(app, ["payment-methods", "show", "acme"])
    assert "kind: bank_transfer" in plain.output
