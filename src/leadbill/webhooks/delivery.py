"""Sending the outbox: claim due deliveries, POST them signed, record every attempt.

One round: a short transaction claims a batch of due deliveries (FOR UPDATE
SKIP LOCKED on PostgreSQL, so several workers take disjoint batches; SQLite
serialises the claims) and marks them `sending` under a lease; the POSTs run
outside any transaction, a few at a time; each result is recorded in its own
short transaction, guarded by the lease.

Exactly once to a receiver that acknowledged: a 2xx answer and `delivered`
are recorded in one transaction, and a delivered delivery is never claimed
again (unless someone asks for a redelivery). The one window is a worker that
stops after the receiver answered 2xx and before that transaction commits: its
lease runs out and another worker sends the message again, with the same
`webhook-id`, which is what receivers deduplicate on. The lease is longer than
a whole batch of attempts can take (see `DeliveryPolicy.lease`), so a slow
receiver is never sent the same message by two workers at once.

Retries: after failed attempt n the delivery is due again after
`backoff_base * 2**(n-1)`, at most `backoff_cap`; after `max_attempts` it is
`failed` (a redelivery gives it a fresh allowance). Any 2xx is success;
anything else (another status, a connection error, a timeout) is a failure.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import insert, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from leadbill.webhooks import repository
from leadbill.webhooks.models import WebhookAttempt, WebhookDelivery
from leadbill.webhooks.repository import Claimed
from leadbill.webhooks.signing import headers

USER_AGENT = "leadbill-webhooks"
MAX_ERROR_LENGTH = 500


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """How the worker sends: timeout, retries with exponential backoff, batch and concurrency."""

    timeout: float = 10.0  # seconds, for each of connect, write and read
    max_attempts: int = 8
    backoff_base: float = 30.0  # seconds before the second attempt
    backoff_cap: float = 6 * 3600.0  # the longest wait between two attempts
    batch_size: int = 20
    concurrency: int = 4

    def __post_init__(self) -> None:
        if self.timeout <= 0 or self.max_attempts < 1 or self.batch_size < 1:
            raise ValueError("timeout > 0, max_attempts >= 1 and batch_size >= 1")
        if self.backoff_base < 0 or self.backoff_cap < self.backoff_base or self.concurrency < 1:
            raise ValueError("0 <= backoff_base <= backoff_cap and concurrency >= 1")

    def backoff(self, attempts: int) -> timedelta:
        """The wait after the `attempts`-th failed attempt: base * 2^(attempts-1), capped."""
        exponent = min(attempts - 1, 60)
        return timedelta(seconds=min(self.backoff_cap, self.backoff_base * 2**exponent))

    @property
    def lease(self) -> timedelta:
        """How long a claim holds: every attempt of a batch, `concurrency` at a time, with margin.

        One attempt takes at most its pool, connect, write and read timeouts (the
        response body is never read), so 4 timeouts; a batch runs in
        ceil(batch_size / concurrency) waves of attempts.
        """
        waves = -(-self.batch_size // self.concurrency)
        return timedelta(seconds=waves * 4 * self.timeout + 60)


@dataclass(frozen=True, slots=True)
class Result:
    """What one POST gave: a status code or an error, and how long it took."""

    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def acknowledged(self) -> bool:
        """True when the receiver answered 2xx."""
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass(slots=True)
class RoundReport:
    """What the worker did: attempts made and how they ended."""

    attempted: int = 0
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    cancelled: int = 0
    superseded: int = 0
    outcomes: list[tuple[int, str]] = field(default_factory=list)

    def add(self, other: RoundReport) -> None:
        """Add another round's counts to this one."""
        self.attempted += other.attempted
        self.delivered += other.delivered
        self.retrying += other.retrying
        self.failed += other.failed
        self.cancelled += other.cancelled
        self.superseded += other.superseded
        self.outcomes.extend(other.outcomes)


def post(client: httpx.Client, claimed: Claimed, at: datetime) -> Result:
    """POST one signed message; never raises for a network problem (it is the result)."""
    body = claimed.body.encode()
    sent = headers(claimed.secret, claimed.message_id, int(at.timestamp()), body)
    sent["content-type"] = "application/json"
    sent["user-agent"] = USER_AGENT
    started = time.monotonic()
    status: int | None = None
    try:
        # Only the status matters: the body is never read, so a slow or large one costs nothing.
        request = client.build_request("POST", claimed.url, content=body, headers=sent)
        response = client.send(request, stream=True)
        response.close()
        status = response.status_code
        error = None if response.is_success else f"HTTP {status}"
    except httpx.TimeoutException as timeout:
        error = f"timeout ({type(timeout).__name__}) after {time.monotonic() - started:.1f} s"
    except httpx.HTTPError as failure:
        error = f"{type(failure).__name__}: {failure}"
    elapsed = int((time.monotonic() - started) * 1000)
    return Result(status, error[:MAX_ERROR_LENGTH] if error else None, elapsed)


def claim_due(
    sessions: sessionmaker[Session], policy: DeliveryPolicy, as_of: datetime
) -> list[Claimed]:
    """Claim a batch of due deliveries in one short transaction."""
    lease = secrets.token_hex(16)
    with sessions() as session, session.begin():
        ids = repository.due_ids(session, as_of, policy.batch_size)
        return repository.claim(session, ids, lease, as_of + policy.lease)


def _outcome(claimed: Claimed, result: Result, policy: DeliveryPolicy) -> str:
    if result.acknowledged:
        return "delivered"
    if claimed.endpoint_removed:
        return "cancelled"
    return "failed" if claimed.attempts >= policy.max_attempts else "retry"


def record(
    sessions: sessionmaker[Session],
    claimed: Claimed,
    result: Result | None,
    policy: DeliveryPolicy,
    at: datetime,
) -> str:
    """Record one attempt and move the delivery on, in one transaction; returns the outcome.

    `result` None: the delivery is not sent (its endpoint was removed, or a worker
    stopped during its last allowed attempt). Only the holder of the lease moves
    the delivery; a late result (its lease was taken over) is logged as `superseded`.
    """
    if result is None:
        reason = "endpoint removed" if claimed.endpoint_removed else "no attempt left"
        outcome = "cancelled" if claimed.endpoint_removed else "failed"
        result = Result(None, f"not sent: {reason}", 0)
        logged = False
    else:
        outcome = _outcome(claimed, result, policy)
        logged = True
    values: dict[str, object] = {
        "lease": None,
        "last_attempt_at": at,
        "last_status_code": result.status_code,
        "last_error": result.error,
    }
    if outcome == "delivered":
        values.update(status="delivered", delivered_at=at)
    elif outcome == "retry":
        values.update(status="pending", next_attempt_at=at + policy.backoff(claimed.attempts))
    else:
        values["status"] = outcome
    with sessions() as session, session.begin():
        moved = session.execute(  # type: ignore[attr-defined]
            update(WebhookDelivery)
            .where(
                WebhookDelivery.id == claimed.delivery_id,
                WebhookDelivery.lease == claimed.lease,
                WebhookDelivery.status == "sending",
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        ).rowcount
        if not moved:
            outcome = "superseded"
        if logged:
            session.execute(
                insert(WebhookAttempt).values(
                    account_id=claimed.account_id,
                    delivery_id=claimed.delivery_id,
                    number=repository.next_attempt_number(session, claimed.delivery_id),
                    attempted_at=at,
                    status_code=result.status_code,
                    duration_ms=result.duration_ms,
                    error=result.error,
                    outcome=outcome,
                )
            )
    return outcome


def _sendable(claimed: Claimed, policy: DeliveryPolicy) -> bool:
    # A claim beyond the allowance means a worker stopped during the last attempt.
    return not claimed.endpoint_removed and claimed.attempts <= policy.max_attempts


def deliver_round(
    sessions: sessionmaker[Session],
    policy: DeliveryPolicy,
    client: httpx.Client,
    *,
    as_of: datetime | None = None,
) -> RoundReport:
    """Claim one batch of due deliveries, send them concurrently, record each result."""
    clock: Callable[[], datetime] = (lambda: as_of) if as_of else (lambda: datetime.now(UTC))
    report = RoundReport()
    batch = claim_due(sessions, policy, clock())
    if not batch:
        return report
    unsent = [c for c in batch if not _sendable(c, policy)]
    for claimed in unsent:
        outcome = record(sessions, claimed, None, policy, clock())
        _count(report, claimed, outcome, attempted=False)
    sendable = [c for c in batch if _sendable(c, policy)]

    def send(claimed: Claimed) -> Result:
        # Each message is signed when its POST starts, not when the batch was claimed.
        return post(client, claimed, clock())

    with ThreadPoolExecutor(max_workers=policy.concurrency) as pool:
        futures = {pool.submit(send, c): c for c in sendable}
        for future in as_completed(futures):
            claimed = futures[future]
            outcome = record(sessions, claimed, future.result(), policy, clock())
            _count(report, claimed, outcome, attempted=True)
    return report


def _count(report: RoundReport, claimed: Claimed, outcome: str, *, attempted: bool) -> None:
    report.attempted += attempted
    attribute = {"retry": "retrying"}.get(outcome, outcome)
    setattr(report, attribute, getattr(report, attribute) + 1)
    report.outcomes.append((claimed.delivery_id, outcome))


def http_client(policy: DeliveryPolicy) -> httpx.Client:
    """The HTTP client of a worker: the policy's timeout, no redirects, no proxies from env."""
    return httpx.Client(
        timeout=httpx.Timeout(policy.timeout), follow_redirects=False, trust_env=False
    )


def deliver_due(
    sessions: sessionmaker[Session],
    policy: DeliveryPolicy,
    *,
    as_of: datetime | None = None,
    client: httpx.Client | None = None,
) -> RoundReport:
    """Send every delivery due now (or at `as_of`) until none is left; returns what happened.

    A delivery that fails is due again only after its backoff, so this ends.
    """
    total = RoundReport()
    with nullcontext(client) if client is not None else http_client(policy) as http:
        while True:
            report = deliver_round(sessions, policy, http, as_of=as_of)
            if not report.outcomes:
                return total
            total.add(report)


def run_forever(
    sessions: sessionmaker[Session],
    policy: DeliveryPolicy,
    *,
    interval: float = 1.0,
    should_stop: Callable[[], bool] = lambda: False,
    on_round: Callable[[RoundReport], None] = lambda _report: None,
    on_error: Callable[[Exception], None] = lambda _error: None,
) -> None:
    """Deliver what is due, then poll every `interval` seconds, until `should_stop()`.

    A database that cannot be reached is waited for (reported to `on_error`), not
    fatal: what was claimed and not recorded is taken again when its lease ends.
    """
    with http_client(policy) as http:
        while not should_stop():
            try:
                report = deliver_round(sessions, policy, http)
            except DBAPIError as error:
                on_error(error)
                report = RoundReport()
            if report.outcomes:
                on_round(report)
                continue
            deadline = time.monotonic() + interval
            while time.monotonic() < deadline and not should_stop():
                time.sleep(min(0.2, interval))
