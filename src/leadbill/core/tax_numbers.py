"""Tax numbers, countries and regions, checked with the libraries made for them.

A VAT id of an EU member state is checked for format and check digits by
python-stdnum (its prefix must be the country's: DE for Germany, EL for Greece);
a US tax number is an EIN; another country's number is checked by stdnum's VAT
module for that country where it has one. Countries are ISO 3166-1 alpha-2 codes
from babel's territory list; regions are ISO 3166-2 subdivision codes (US-CA),
checked for shape and for their country's prefix.
"""

from __future__ import annotations

import re

from babel import Locale
from stdnum.eu import vat as eu_vat
from stdnum.eu.vat import MEMBER_STATES
from stdnum.exceptions import ValidationError
from stdnum.us import ein
from stdnum.util import get_cc_module

from leadbill.core.errors import RuleViolation

# ISO 3166-1 codes of the EU member states (XI is Northern Ireland's VAT prefix).
EU_COUNTRIES = frozenset(code.upper() for code in MEMBER_STATES if code != "xi")

_TERRITORIES = Locale("en").territories
# Codes babel lists that are not countries (continents, "Unknown Region", EU, UN).
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_REGION = re.compile(r"^[A-Z]{2}-[A-Z0-9]{1,3}$")
_NOT_COUNTRIES = frozenset({"EU", "EZ", "UN", "QO", "ZZ"})
# stdnum's VAT prefix of a member state where it differs from the ISO country code.
_VAT_PREFIX = {"GR": "EL"}


def check_country(value: str, field: str = "country") -> str:
    """An ISO 3166-1 alpha-2 country code, upper case."""
    code = value.strip().upper()
    if not _COUNTRY.match(code) or code not in _TERRITORIES or code in _NOT_COUNTRIES:
        raise RuleViolation(field, f"{value!r} is not an ISO 3166-1 alpha-2 country code")
    return code


def check_region(value: str, country: str | None, field: str = "region") -> str:
    """An ISO 3166-2 subdivision code of `country` (US-CA), upper case."""
    code = value.strip().upper()
    if not _REGION.match(code):
        raise RuleViolation(field, f"{value!r} is not an ISO 3166-2 code such as US-CA")
    if country is None:
        raise RuleViolation(field, "needs the country as well")
    if not code.startswith(f"{country}-"):
        raise RuleViolation(field, f"{code} is not a region of {country}")
    return code


def check_tax_id(value: str, country: str | None, field: str = "tax_id") -> str:
    """A tax number of a party in `country`, compact, checked for format and check digits."""
    text = value.strip()
    if not text:
        raise RuleViolation(field, "must not be empty")
    if country is None:
        raise RuleViolation(field, "needs the country of the address to be checked")
    try:
        if country == "US":
            return str(ein.format(ein.validate(text)))
        if country in EU_COUNTRIES:
            compact = str(eu_vat.validate(text))
            prefix = _VAT_PREFIX.get(country, country)
            if not compact.startswith(prefix):
                raise RuleViolation(
                    field, f"{text!r} is not a VAT id of {country} (it must start with {prefix})"
                )
            return compact
        module = get_cc_module(country.lower(), "vat")
        if module is not None:
            return str(module.validate(text))
    except ValidationError as error:
        raise RuleViolation(field, f"{text!r} is not a valid tax number: {error}") from None
    if len(text) > 32 or not re.fullmatch(r"[A-Za-z0-9 .\-/]+", text):
        raise RuleViolation(field, "must be letters, digits, spaces, '.', '-' or '/', at most 32")
    return text
