"""Bank transfer instructions: the entity's bank details and each invoice's RF reference."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker
from stdnum import iso11649

from leadbill.billing.invoices import finalize_invoice, issue_invoice
from leadbill.billing.service import run_billing
from leadbill.core.bank import creditor_reference
from leadbill.core.money import Money
from leadbill.core.rating import Line, LineKind
from leadbill.entities.service import EntityFields, create_entity, get_entity, update_entity
from leadbill.errors import Conflict, InvalidInput
from tests.conftest import utc
from tests.integration.payment_world import SE_IBAN, START, invoices_of, world


def test_entity_keeps_a_compact_iban_and_the_bic_of_its_bank(session: Session) -> None:
    world(session)
    nordic = get_entity(session, "nordic")
    assert (nordic.bank_name, nordic.bank_iban, nordic.bank_bic) == ("SEB", SE_IBAN, "ESSESESS")
    us = get_entity(session, "us")
    assert (us.bank_account_number, us.bank_routing_number, us.bank_iban) == (
        "000123456789",
        "111000025",
        None,
    )


@pytest.mark.parametrize(
    ("fields", "field", "reason"),
    [
        (EntityFields(iban="SE4550000000058398257467"), "iban", "not a valid IBAN"),
        (EntityFields(bic="ESSE"), "bic", "not a valid BIC"),
        (EntityFields(routing_number="111000026"), "routing_number", "ABA routing number"),
        (EntityFields(account_number="12AB"), "account_number", "4 to 17 digits"),
        (EntityFields(iban=SE_IBAN), "iban", "not both"),
        (EntityFields(routing_number=""), "routing_number", "both its account and routing"),
        (EntityFields(bank_name="x" * 101), "bank_name", "at most 100 characters"),
    ],
)
def test_bank_details_are_refused_naming_the_field(
    session: Session, fields: EntityFields, field: str, reason: str
) -> None:
    world(session)
    with pytest.raises(InvalidInput) as error:
        update_entity(session, "us", fields, START)
    assert error.value.field == field
    assert reason in error.value.reason
    assert get_entity(session, "us").bank_routing_number == "111000025"


def test_a_bic_alone_needs_an_iban_and_an_iban_change_takes_its_new_banks_bic(
    session: Session,
) -> None:
    world(session)
    with pytest.raises(InvalidInput) as error:
        update_entity(
            session, "us", EntityFields(account_number="", routing_number="", bic="ESSESESS"), START
        )
    assert error.value.field == "bic"
    update_entity(session, "nordic", EntityFields(iban="DE89370400440532013000"), START)
    assert get_entity(session, "nordic").bank_bic == "COBADEFFXXX"
    update_entity(session, "nordic", EntityFields(iban="", bank_name=""), START)
    nordic = get_entity(session, "nordic")
    assert (nordic.bank_name, nordic.bank_iban, nordic.bank_bic) == (None, None, None)


def test_a_prefix_with_another_entitys_letters_and_digits_is_refused(session: Session) -> None:
    world(session)
    with pytest.raises(Conflict, match="payment references"):
        create_entity(
            session,
            code="se2",
            fields=EntityFields(
                legal_name="Other AB",
                address_line1="Gatan 1",
                city="Malmö",
                country="SE",
                invoice_prefix="SE/",
                credit_note_prefix="SE2CN-",
            ),
            as_of=START,
        )


def test_every_finalized_invoice_gets_the_rf_reference_of_its_number(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        accounts = world(session)
    # The renewal on Nov 1 is written by the billing run's bulk insert.
    run_billing(sessions, utc(2026, 11, 2))
    with sessions() as session:
        first, renewal = invoices_of(session, accounts["se"])
        assert (first.number, first.payment_reference) == ("SE-000001", "RF24SE000001")
        assert renewal.number == "SE-000002"
        assert renewal.payment_reference == creditor_reference("SE-000002")
        assert iso11649.is_valid(renewal.payment_reference)
        us_first, _ = invoices_of(session, accounts["us"])
        assert us_first.payment_reference == creditor_reference(us_first.number or "")
        assert us_first.payment_reference != renewal.payment_reference
        # The issuer snapshot carries the bank details the PDF and e-invoice print.
        assert first.issuer is not None
        assert (first.issuer["iban"], first.issuer["bic"]) == (SE_IBAN, "ESSESESS")
        assert us_first.issuer is not None
        assert (us_first.issuer["account_number"], us_first.issuer["routing_number"]) == (
            "000123456789",
            "111000025",
        )


def test_a_draft_has_no_reference_until_it_is_finalized(session: Session) -> None:
    accounts = world(session)
    fee = Money.of("57.00", "EUR")
    draft = issue_invoice(
        session,
        account_id=accounts["se"].id,
        currency="EUR",
        lines=[Line(LineKind.SEAT_FEE, "Seat", 1, fee, fee)],
        issued_at=START,
        kind="seat_fee",
        finalize=False,
    )
    assert draft.payment_reference is None
    finalize_invoice(session, draft, START)
    assert draft.number == "SE-000002"
    assert draft.payment_reference == creditor_reference("SE-000002")


def test_finalized_invoices_keep_the_bank_details_they_were_issued_with(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        accounts = world(session)
    with sessions.begin() as session:
        update_entity(session, "nordic", EntityFields(iban="DE89370400440532013000"), START)
    run_billing(sessions, utc(2026, 11, 2))
    with sessions() as session:
        first, renewal = invoices_of(session, accounts["se"])
        assert first.issuer is not None and first.issuer["iban"] == SE_IBAN
        assert renewal.issuer is not None and renewal.issuer["iban"] == "DE89370400440532013000"
        assert renewal.issuer["bic"] == "COBADEFFXXX"
