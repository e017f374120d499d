"""The SMTP settings of a billing entity: where it sends its e-mails from.

A host is a DNS name (checked label by label with `idna`, the IDNA 2008 library)
or an IP address (`ipaddress`); a port is a TCP port; security is STARTTLS on a
plain connection, implicit TLS or none. The password is never part of these
settings: it stays in the environment of the process that sends.
"""

from __future__ import annotations

import ipaddress

import idna

from leadbill.core.errors import RuleViolation

SECURITY = ("starttls", "tls", "none")
MAX_HOST_LENGTH = 253
MAX_USER_LENGTH = 254
DEFAULT_PORT = {"starttls": 587, "tls": 465, "none": 25}


def check_host(host: str, field: str = "smtp_host") -> str:
    """A host name (stored in its ASCII form) or an IP address, at most 253 characters."""
    text = host.strip().rstrip(".")
    if not text:
        raise RuleViolation(field, "must be a host name or an IP address")
    if len(text) > MAX_HOST_LENGTH:
        raise RuleViolation(field, f"must be at most {MAX_HOST_LENGTH} characters")
    try:
        return str(ipaddress.ip_address(text.strip("[]")))
    except ValueError:
        pass
    try:
        ascii_name = idna.encode(text, uts46=True).decode("ascii")
    except idna.IDNAError as error:
        raise RuleViolation(field, f"{text!r} is not a host name ({error})") from None
    if len(ascii_name) > MAX_HOST_LENGTH:
        raise RuleViolation(field, f"must be at most {MAX_HOST_LENGTH} characters")
    return ascii_name.lower()


def check_port(port: int, field: str = "smtp_port") -> int:
    """A TCP port, 1 to 65535."""
    if isinstance(port, bool) or not 0 < port < 65536:
        raise RuleViolation(field, "must be a TCP port from 1 to 65535")
    return port


def check_security(security: str, field: str = "smtp_security") -> str:
    """starttls, tls (implicit TLS) or none."""
    text = security.strip().lower()
    if text not in SECURITY:
        raise RuleViolation(field, f"must be one of {', '.join(SECURITY)}")
    return text


def check_user(user: str, field: str = "smtp_user") -> str:
    """The login name: printable, no spaces around it, at most 254 characters."""
    text = user.strip()
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise RuleViolation(field, "must not contain control characters")
    if len(text) > MAX_USER_LENGTH:
        raise RuleViolation(field, f"must be at most {MAX_USER_LENGTH} characters")
    return text


def password_variable(code: str) -> str:
    """The environment variable that holds an entity's SMTP password.

    LEADBILL_SMTP_PASSWORD_ and the entity's code in upper case, each character that
    is not a letter or digit as `_`: entity `us-east` reads LEADBILL_SMTP_PASSWORD_US_EAST.
    """
    return "LEADBILL_SMTP_PASSWORD_" + "".join(
        ch if ch.isascii() and ch.isalnum() else "_" for ch in code.upper()
    )
