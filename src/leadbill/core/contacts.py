"""Contact normalisation: the one way a phone number or an e-mail is compared.

Phones become E.164 (`+13035550100`) with the `phonenumbers` library, read in
the account's default region when they carry no country code; a number that
is not a valid one for its region normalises to None. E-mails are trimmed and
case-folded; one without a local part, an '@' and a dotted domain is None.
Two leads are the same caller when their normalised phones or e-mails match.

Both keep a bounded cache of their last 65,536 distinct inputs: ingestion sees the
same callers again from one batch to the next.
"""

from __future__ import annotations

from functools import lru_cache

import phonenumbers

DEFAULT_REGION = "US"


@lru_cache(maxsize=65_536)
def normalise_phone(text: str | None, region: str = DEFAULT_REGION) -> str | None:
    """The phone in E.164 form, or None when it is empty or not a valid number."""
    if text is None or not text.strip():
        return None
    try:
        number = phonenumbers.parse(text, region.upper())
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@lru_cache(maxsize=65_536)
def normalise_email(text: str | None) -> str | None:
    """The e-mail trimmed and case-folded, or None when it is empty or malformed."""
    if text is None:
        return None
    email = text.strip().casefold()
    local, at, domain = email.rpartition("@")
    if not at or not local or "." not in domain or any(c.isspace() for c in email):
        return None
    if domain.startswith(".") or domain.endswith(".") or ".." in domain:
        return None
    return email


def email_domain(email: str | None) -> str | None:
    """The domain of a normalised e-mail (`example.com`), or None."""
    if not email or "@" not in email:
        return None
    return email.rpartition("@")[2]


def normalise_domain(text: str | None) -> str | None:
    """A company domain for comparison: case-folded, without scheme, `www.` or path."""
    if text is None or not text.strip():
        return None
    domain = text.strip().casefold()
    for prefix in ("https://", "http://"):
        domain = domain.removeprefix(prefix)
    domain = domain.split("/", 1)[0].removeprefix("www.").rstrip(".")
    return domain or None


def normalise_company(text: str | None) -> str | None:
    """A company name for comparison: case-folded, inner blanks collapsed."""
    if text is None or not text.strip():
        return None
    return " ".join(text.casefold().split())
