"""Standard Webhooks signatures (https://www.standardwebhooks.com/), HMAC-SHA256.

A message is sent with three headers: `webhook-id` (the message id, the same
on every retry), `webhook-timestamp` (Unix seconds of this attempt) and
`webhook-signature`: `v1,` + base64 of HMAC-SHA256 over
`{webhook-id}.{webhook-timestamp}.{body}`, keyed with the secret's bytes (the
base64 part of `whsec_...`). Any Standard Webhooks library verifies it.
Pure functions: no I/O, no clock (the instant is passed in).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Mapping

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
# A receiver refuses a message whose timestamp is further than this from its clock.
DEFAULT_TOLERANCE_SECONDS = 5 * 60


class InvalidSignature(Exception):
    """The message is not signed by the secret, or its timestamp is out of tolerance."""


def new_secret() -> str:
    """A fresh signing secret, `whsec_` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key of a secret: the bytes its base64 part encodes."""
    try:
        return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("a webhook secret is 'whsec_' followed by base64") from None


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value of a message: `v1,<base64 HMAC-SHA256>`."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(secret: str, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers of one attempt."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, message_id, timestamp, body),
    }


def verify(
    secret: str,
    received: Mapping[str, str],
    body: bytes,
    *,
    now: int,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
) -> None:
    """Check a received message as a receiver would; raise InvalidSignature if it fails.

    `received` holds the headers (lower-case names); `now` is the receiver's
    clock in Unix seconds. Any one of the space-separated `v1,` signatures may match.
    """
    try:
        message_id = received["webhook-id"]
        timestamp = int(received["webhook-timestamp"])
        signatures = received["webhook-signature"]
    except (KeyError, ValueError):
        raise InvalidSignature("missing or malformed webhook headers") from None
    if abs(now - timestamp) > tolerance:
        raise InvalidSignature("the message timestamp is outside the tolerance")
    expected = sign(secret, message_id, timestamp, body)
    for candidate in signatures.split(" "):
        if hmac.compare_digest(candidate, expected):
            return
    raise InvalidSignature("no signature matches")
