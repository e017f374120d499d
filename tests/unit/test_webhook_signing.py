"""Standard Webhooks signatures: the specification's published vector, verification, backoff."""

from __future__ import annotations

from datetime import timedelta

import pytest

from leadbill.webhooks.delivery import DeliveryPolicy
from leadbill.webhooks.signing import (
    InvalidSignature,
    headers,
    new_secret,
    secret_key,
    sign,
    verify,
)

# The example of the Standard Webhooks specification and its reference libraries.
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_signature_reproduces_the_specification_example() -> None:
    assert sign(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY) == SPEC_SIGNATURE


def test_headers_carry_id_timestamp_and_signature() -> None:
    assert headers(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY) == {
        "webhook-id": SPEC_ID,
        "webhook-timestamp": "1614265330",
        "webhook-signature": SPEC_SIGNATURE,
    }


def test_verify_accepts_the_example_and_any_matching_signature_of_several() -> None:
    received = {
        "webhook-id": SPEC_ID,
        "webhook-timestamp": str(SPEC_TIMESTAMP),
        "webhook-signature": f"v1,bm9wZQ== {SPEC_SIGNATURE}",
    }
    verify(SPEC_SECRET, received, SPEC_BODY, now=SPEC_TIMESTAMP + 10)


@pytest.mark.parametrize(
    ("change", "now"),
    [
        ({"webhook-signature": "v1,bm9wZQ=="}, SPEC_TIMESTAMP),  # wrong signature
        ({"webhook-id": "msg_other"}, SPEC_TIMESTAMP),  # the id is signed
        ({}, SPEC_TIMESTAMP + 301),  # too old for the 5-minute tolerance
        ({}, SPEC_TIMESTAMP - 301),  # too far in the future
        ({"webhook-timestamp": "soon"}, SPEC_TIMESTAMP),
    ],
)
def test_verify_refuses_tampered_or_stale_messages(change: dict[str, str], now: int) -> None:
    received = {
        "webhook-id": SPEC_ID,
        "webhook-timestamp": str(SPEC_TIMESTAMP),
        "webhook-signature": SPEC_SIGNATURE,
        **change,
    }
    with pytest.raises(InvalidSignature):
        verify(SPEC_SECRET, received, SPEC_BODY, now=now)


def test_verify_refuses_a_changed_body() -> None:
    received = headers(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY)
    with pytest.raises(InvalidSignature):
        verify(SPEC_SECRET, received, b'{"test": 2432232315}', now=SPEC_TIMESTAMP)


def test_new_secrets_are_whsec_base64_of_32_random_bytes() -> None:
    first, second = new_secret(), new_secret()
    assert first.startswith("whsec_") and first != second
    assert len(secret_key(first)) == 32
    with pytest.raises(ValueError):
        secret_key("whsec_not base64!")


def test_backoff_doubles_from_the_base_up_to_the_cap() -> None:
    policy = DeliveryPolicy(backoff_base=30, backoff_cap=300)
    waits = [policy.backoff(n) for n in range(1, 7)]
    assert waits == [timedelta(seconds=s) for s in (30, 60, 120, 240, 300, 300)]
    assert DeliveryPolicy().backoff(200) == timedelta(hours=6)
    # A claim outlives every attempt of its batch timing out in every phase:
    # 20 deliveries, 4 at a time, are 5 waves of at most 4 x 10 s.
    assert DeliveryPolicy(timeout=10, batch_size=20, concurrency=4).lease == timedelta(seconds=260)
