"""Bank details and payment references (core.bank): what is accepted, what is refused."""

from __future__ import annotations

import pytest
from stdnum import iso11649

from leadbill.core import bank
from leadbill.core.errors import RuleViolation


def test_creditor_reference_is_the_numbers_letters_and_digits_with_iso_11649_check_digits() -> None:
    assert bank.creditor_reference("INV-000042") == "RF29INV000042"
    assert bank.creditor_reference("SE-2026-000001") == bank.creditor_reference("SE2026000001")
    assert iso11649.is_valid(bank.creditor_reference("US/000007"))
    assert bank.format_creditor_reference("RF29INV000042") == "RF29 INV0 0004 2"


def test_creditor_reference_is_the_same_for_the_same_number_and_differs_between_numbers() -> None:
    first = {bank.creditor_reference(f"INV-{n:06d}") for n in range(1, 200)}
    assert len(first) == 199
    assert bank.creditor_reference("INV-000001") == bank.creditor_reference("INV-000001")


def test_creditor_reference_refuses_a_number_with_more_than_21_letters_and_digits() -> None:
    with pytest.raises(RuleViolation, match="1 to 21 letters and digits"):
        bank.creditor_reference("ABCDEFGHIJKL-1234567890")


def test_a_mistyped_creditor_reference_fails_its_check_digits() -> None:
    assert bank.check_creditor_reference("rf29 inv0 0004 2") == "RF29INV000042"
    with pytest.raises(RuleViolation) as error:
        bank.check_creditor_reference("RF29INV000043")
    assert error.value.field == "reference"


def test_iban_is_checked_and_kept_compact_and_its_bic_derived() -> None:
    assert bank.check_iban("de89 3704 0044 0532 0130 00") == "DE89370400440532013000"
    assert bank.bic_of("DE89370400440532013000") == "COBADEFFXXX"
    assert bank.format_iban("DE89370400440532013000") == "DE89 3704 0044 0532 0130 00"
    with pytest.raises(RuleViolation) as error:
        bank.check_iban("DE89370400440532013001")
    assert error.value.field == "iban"
    assert "not a valid IBAN" in error.value.reason


def test_bic_is_checked() -> None:
    assert bank.check_bic("cobadeffxxx") == "COBADEFFXXX"
    with pytest.raises(RuleViolation, match="not a valid BIC"):
        bank.check_bic("COBA")


def test_us_routing_number_check_digit_and_account_number_digits() -> None:
    assert bank.check_routing_number("111000025") == "111000025"
    with pytest.raises(RuleViolation, match="not a valid ABA routing number"):
        bank.check_routing_number("111000026")
    assert bank.check_us_account_number("1234-5678 90") == "1234567890"
    with pytest.raises(RuleViolation, match="4 to 17 digits"):
        bank.check_us_account_number("12AB")


@pytest.mark.parametrize("value", ["LB-7-1", "MANDATE/2026/0001", "A.B,C'D+E?F:G(H)"])
def test_sepa_mandate_reference_takes_the_sepa_character_set(value: str) -> None:
    assert bank.check_mandate_reference(value) == value


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "1 to 35"),
        ("HAS SPACE", "no spaces"),
        ("UMLAUT-Ä", "1 to 35"),
        ("/LEADING", "must not start or end with '/'"),
        ("TRAILING/", "must not start or end with '/'"),
        ("DOUBLE//SLASH", "'//'"),
        ("X" * 36, "at most 35 characters"),
    ],
)
def test_sepa_mandate_reference_refuses_what_the_rulebook_does(value: str, reason: str) -> None:
    with pytest.raises(RuleViolation, match=reason.replace("(", r"\(")) as error:
        bank.check_mandate_reference(value)
    assert error.value.field == "mandate_reference"


def test_a_card_number_is_recognised_so_that_it_can_be_refused() -> None:
    assert bank.looks_like_card_number("4242 4242 4242 4242")
    assert not bank.looks_like_card_number("4242 4242 4242 4241")
    assert not bank.looks_like_card_number("pm_1NqXyZ2eZvKYlo2C")
