"""Bank details and payment references, checked with the libraries made for them.

IBANs and BICs are checked by schwifty (country format, bank code, check digits);
a BIC left out is derived from the IBAN where schwifty's bank registry knows the
bank. A US account is an account number and an ABA routing number, whose check
digit python-stdnum verifies (`stdnum.us.rtn`).

Every invoice carries a structured creditor reference (ISO 11649, "RF" and two
check digits before up to 21 letters and digits), derived from the invoice
number alone: the number's letters and digits, upper case. The same number
always gives the same reference, and a bank statement's remittance text that
carries it names exactly one invoice (entities refuse prefixes whose letters and
digits are another entity's, see `compact_prefix`).

A SEPA mandate reference (the Unique Mandate Reference of the SEPA Direct Debit
rulebooks) is 1 to 35 characters of the SEPA Latin set without the space:
letters, digits and / - ? : ( ) . , ' +; it neither starts nor ends with "/"
and has no "//" (the rule of the EPC's implementation guidelines for
identifiers). Banks compare it without regard to case.
"""

from __future__ import annotations

import re

from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException
from stdnum import iso11649, luhn
from stdnum.exceptions import ValidationError
from stdnum.iso7064 import mod_97_10
from stdnum.us import rtn

from leadbill.core.errors import RuleViolation

MAX_MANDATE_REFERENCE = 35
MAX_ACCOUNT_HOLDER = 70  # SEPA's limit of a party's name
# ISO 11649: what follows "RF" and the check digits.
MAX_REFERENCE_BODY = 21
_MANDATE = re.compile(r"^[A-Za-z0-9/\-?:().,'+]{1,35}$")
_US_ACCOUNT = re.compile(r"^[0-9]{4,17}$")
_NOT_ALNUM = re.compile(r"[^A-Z0-9]")


def check_iban(value: str, field: str = "iban") -> str:
    """An IBAN in its compact form (DE89370400440532013000), checked by schwifty."""
    try:
        return str(IBAN(value.strip()).compact)
    except SchwiftyException as error:
        raise RuleViolation(field, f"is not a valid IBAN ({error})") from None


def check_bic(value: str, field: str = "bic") -> str:
    """A BIC (SWIFT code) of 8 or 11 characters, upper case, checked by schwifty."""
    try:
        return str(BIC(value.strip().upper()).compact)
    except SchwiftyException as error:
        raise RuleViolation(field, f"is not a valid BIC ({error})") from None


def bic_of(iban: str) -> str | None:
    """The BIC of an IBAN's bank, where schwifty's registry knows it (else None)."""
    try:
        found = IBAN(iban).bic
    except SchwiftyException:
        return None
    return None if found is None else str(found.compact)


def format_iban(iban: str) -> str:
    """An IBAN in groups of four, as printed on paper (DE89 3704 0044 ...)."""
    return str(IBAN(iban).formatted)


def check_routing_number(value: str, field: str = "routing_number") -> str:
    """A US ABA routing number: nine digits with a valid check digit (python-stdnum)."""
    try:
        return str(rtn.validate(value.strip()))
    except ValidationError as error:
        raise RuleViolation(field, f"is not a valid ABA routing number ({error})") from None


def check_us_account_number(value: str, field: str = "account_number") -> str:
    """A US bank account number: 4 to 17 digits (spaces and dashes dropped)."""
    digits = value.strip().replace(" ", "").replace("-", "")
    if not _US_ACCOUNT.match(digits):
        raise RuleViolation(field, "must be 4 to 17 digits")
    return digits


def compact_prefix(prefix: str) -> str:
    """What a number prefix leaves in a creditor reference: its letters and digits."""
    return _NOT_ALNUM.sub("", prefix.upper())


def creditor_reference(invoice_number: str) -> str:
    """The ISO 11649 creditor reference of an invoice number (INV-000042 -> RF29INV000042)."""
    body = compact_prefix(invoice_number)
    if not body or len(body) > MAX_REFERENCE_BODY:
        raise RuleViolation(
            "number",
            f"{invoice_number!r} must have 1 to {MAX_REFERENCE_BODY} letters and digits "
            "to make a creditor reference",
        )
    reference = f"RF{mod_97_10.calc_check_digits(body + 'RF')}{body}"
    return str(iso11649.validate(reference))


def check_creditor_reference(value: str, field: str = "reference") -> str:
    """An ISO 11649 creditor reference in its compact form, check digits verified."""
    try:
        return str(iso11649.validate(value))
    except ValidationError as error:
        raise RuleViolation(field, f"is not a valid RF creditor reference ({error})") from None


def format_creditor_reference(reference: str) -> str:
    """A creditor reference in groups of four, as printed (RF29 INV0 0004 2)."""
    return str(iso11649.format(reference))


def check_mandate_reference(value: str, field: str = "mandate_reference") -> str:
    """A SEPA mandate reference: 1 to 35 characters of the SEPA set, no space, no '//'."""
    text = value.strip()
    if len(text) > MAX_MANDATE_REFERENCE:
        raise RuleViolation(field, f"must be at most {MAX_MANDATE_REFERENCE} characters")
    if not _MANDATE.match(text):
        raise RuleViolation(
            field, "must be 1 to 35 letters, digits or / - ? : ( ) . , ' + (no spaces)"
        )
    if text.startswith("/") or text.endswith("/") or "//" in text:
        raise RuleViolation(field, "must not start or end with '/' nor contain '//'")
    return text


def looks_like_card_number(value: str) -> bool:
    """Whether a text is 12 to 19 digits (spaces and dashes aside) with a Luhn check digit.

    Staff never type card numbers: a provider id that looks like one is refused.
    """
    digits = value.replace(" ", "").replace("-", "")
    return digits.isdigit() and 12 <= len(digits) <= 19 and luhn.is_valid(digits)
