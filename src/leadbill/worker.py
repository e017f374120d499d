"""Background work outside requests: `leadbill worker` runs the periodic jobs.

The jobs are the billing run (every 5 minutes by default, `as_of` = now),
dunning (reminders of unpaid invoices, every 60 minutes by default, `as_of` =
now), webhook delivery and mail delivery (every round). Their schedule, leases and
last runs are the job table (`leadbill.jobs`): several workers, on one
machine or many sharing a PostgreSQL database, never run one job at once;
the others skip it. A job that fails is recorded and retried with backoff,
and the round goes on with the next job.

The delivery itself lives in `leadbill.webhooks.delivery` and
`leadbill.mail.delivery`; both outboxes share one policy (timeout, attempts,
backoff, batch, concurrency). A billing entity with an SMTP server of its own
sends its messages through it; the others go through `LEADBILL_SMTP_HOST`.
With neither (the embedded default) messages stay in the outbox, readable
with `leadbill mail show`.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from types import FrameType

import httpx
import typer
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from leadbill.billing.service import run_billing
from leadbill.console import out, print_error, sessions
from leadbill.dunning.service import run_dunning
from leadbill.errors import InvalidInput
from leadbill.jobs.commands import status
from leadbill.jobs.service import Job, JobResult, Ran, register, run_due
from leadbill.mail import delivery as mail_delivery
from leadbill.mail.messages import environment
from leadbill.mail.smtp import SmtpServer
from leadbill.settings import Settings
from leadbill.webhooks import delivery as webhook_delivery
from leadbill.webhooks.delivery import DeliveryPolicy, RoundReport

# How long a billing run may hold its job: a worker that dies mid-run leaves the
# job to another worker after this. A run that outlasts it may overlap the next,
# which the billing run's row locks make safe (each period is still billed once).
BILLING_LEASE = timedelta(minutes=30)
# A dunning run may hold its job as long; two runs at once are safe (each reminder
# step is unique per invoice), so the lease only keeps workers from doing it twice.
DUNNING_LEASE = timedelta(minutes=30)


def holder_name() -> str:
    """This worker as the job table names it: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"[:100]


def _wall_clock() -> datetime:
    return datetime.now(UTC)


def billing_job(factory: sessionmaker[Session], every: timedelta) -> Job:
    """Invoice every period that ended by the run's start (`as_of` = now)."""

    def run(as_of: datetime) -> JobResult:
        result = run_billing(factory, as_of)
        return JobResult(
            f"as of {as_of:%Y-%m-%dT%H:%M:%SZ}: {result.invoices_issued} invoices issued, "
            f"{result.subscriptions_renewed} renewals, {result.subscriptions_ended} ended"
        )

    return Job("billing", every, max(BILLING_LEASE, every), run)


def dunning_job(factory: sessionmaker[Session], every: timedelta) -> Job:
    """Queue every reminder step due by the run's start, take the final actions."""

    def run(as_of: datetime) -> JobResult:
        result = run_dunning(factory, as_of)
        done = result.reminders + result.overdue + result.uncollectible + result.paused
        return JobResult(
            f"as of {as_of:%Y-%m-%dT%H:%M:%SZ}: {result.reminders} reminders queued, "
            f"{result.overdue} newly overdue, {result.uncollectible} marked uncollectible, "
            f"{result.paused} services paused, {result.cancelled} reminders cancelled",
            notable=bool(done or result.cancelled),
        )

    return Job("dunning", every, max(DUNNING_LEASE, every), run)


def _webhooks_summary(report: RoundReport) -> str:
    return (
        f"attempted {report.attempted}: delivered {report.delivered}, "
        f"retrying {report.retrying}, failed {report.failed}, cancelled {report.cancelled}"
        + (f", superseded {report.superseded}" if report.superseded else "")
    )


def _mail_summary(report: RoundReport) -> str:
    return (
        f"attempted {report.attempted}: sent {report.delivered}, "
        f"retrying {report.retrying}, failed {report.failed}"
        + (f", cancelled {report.cancelled}" if report.cancelled else "")
        + (f", superseded {report.superseded}" if report.superseded else "")
    )


def webhooks_job(
    factory: sessionmaker[Session], policy: DeliveryPolicy, http: httpx.Client, *, drain: bool
) -> Job:
    """Deliver one batch of the webhook outbox (`drain`: everything due)."""

    def run(_started: datetime) -> JobResult:
        if drain:
            report = webhook_delivery.deliver_due(factory, policy, client=http)
        else:
            report = webhook_delivery.deliver_round(factory, policy, http)
        busy = bool(report.outcomes)
        return JobResult(_webhooks_summary(report), busy=busy and not drain, notable=busy)

    return Job("webhooks", timedelta(0), policy.lease, run)


def mail_job(
    factory: sessionmaker[Session],
    policy: DeliveryPolicy,
    server: SmtpServer | None,
    settings: Settings,
    *,
    drain: bool,
) -> Job:
    """Send one batch of the mail outbox (`drain`: everything due).

    `server` None (no LEADBILL_SMTP_HOST): only the messages of billing entities with
    an SMTP server of their own are sent; the others stay in the outbox.
    """
    templates = environment()

    def run(_started: datetime) -> JobResult:
        if drain:
            report = mail_delivery.deliver_due(factory, policy, server, settings)
        else:
            report = mail_delivery.deliver_round(
                factory, policy, server, settings, templates=templates
            )
        busy = bool(report.outcomes)
        return JobResult(_mail_summary(report), busy=busy and not drain, notable=busy)

    return Job("mail", timedelta(0), policy.lease, run)


def run_forever(
    factory: sessionmaker[Session],
    jobs: Sequence[Job],
    *,
    interval: float = 1.0,
    clock: Callable[[], datetime] = _wall_clock,
    sleep: Callable[[float], None] = time.sleep,
    holder: str | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    on_run: Callable[[Ran], None] = lambda _ran: None,
    on_error: Callable[[Exception], None] = lambda _error: None,
) -> None:
    """Run the due jobs in rounds until `should_stop()`; pause `interval` seconds when idle.

    A round in which a job had more work waiting (an outbox batch was full) is
    followed by the next at once. A database that cannot be reached is waited
    for (reported to `on_error`).
    """
    name = holder or holder_name()
    registered = False
    while not should_stop():
        ran: list[Ran] = []
        try:
            if not registered:
                register(factory, jobs, clock())
                registered = True
            ran = run_due(factory, jobs, clock, name, on_error=on_error)
        except DBAPIError as error:
            on_error(error)
        for each in ran:
            on_run(each)
        if any(each.result is not None and each.result.busy for each in ran):
            continue
        waited = 0.0
        while waited < interval and not should_stop():
            step = min(0.2, interval - waited)
            sleep(step)
            waited += step


def _print(ran: Ran) -> None:
    if ran.outcome == "failed":
        retry = f"; retry at {ran.retry_at:%Y-%m-%dT%H:%M:%SZ}" if ran.retry_at else ""
        print_error(f"{ran.name}: {ran.error}{retry}", "job failed:")
    elif ran.result is not None and ran.result.notable:
        out.print(f"{ran.name}: {ran.result.summary}")


def _print_database_error(error: Exception) -> None:
    print_error(str(error).splitlines()[0] if str(error) else type(error).__name__, "database:")


def _billing_every(minutes: float | None, settings: Settings) -> timedelta | None:
    chosen = settings.billing_interval_minutes if minutes is None else minutes
    if chosen < 0:
        raise InvalidInput("billing_every", "must be 0 (no scheduled billing) or more minutes")
    return timedelta(minutes=chosen) if chosen > 0 else None


def _dunning_every(minutes: float | None, settings: Settings) -> timedelta | None:
    chosen = settings.dunning_interval_minutes if minutes is None else minutes
    if chosen < 0:
        raise InvalidInput("dunning_every", "must be 0 (no dunning) or more minutes")
    return timedelta(minutes=chosen) if chosen > 0 else None


worker_app = typer.Typer(
    help="Run the periodic jobs: scheduled billing, dunning, webhook and mail delivery.",
    add_completion=False,
)


@worker_app.callback(invoke_without_command=True)
def worker(
    context: typer.Context,
    once: bool = typer.Option(
        False, "--once", help="Run every job that is due once (outboxes drained), then exit"
    ),
    interval: float = typer.Option(1.0, min=0.05, help="Seconds between polls when idle"),
    billing_every: float | None = typer.Option(
        None,
        "--billing-every",
        help="Minutes between billing runs; 0: no scheduled billing in this worker "
        "(default: LEADBILL_BILLING_INTERVAL_MINUTES, else 5)",
    ),
    dunning_every: float | None = typer.Option(
        None,
        "--dunning-every",
        help="Minutes between dunning runs (reminders of unpaid invoices); 0: no dunning in "
        "this worker (default: LEADBILL_DUNNING_INTERVAL_MINUTES, else 60)",
    ),
    timeout: float = typer.Option(10.0, min=0.1, help="HTTP and SMTP timeout in seconds"),
    max_attempts: int = typer.Option(8, min=1, max=100, help="Attempts before a delivery fails"),
    backoff: float = typer.Option(30.0, min=0, help="Seconds before the second attempt"),
    backoff_cap: float = typer.Option(21600.0, min=0, help="Longest wait between attempts"),
    batch_size: int = typer.Option(20, min=1, max=1000, help="Deliveries claimed per round"),
    concurrency: int = typer.Option(
        4, min=1, max=64, help="POSTs or SMTP sessions in flight at once"
    ),
) -> None:
    """Bill every period that ended (every 5 minutes by default) and deliver the outboxes:
    signed webhook POSTs and e-mail over SMTP, retried with backoff."""
    if context.invoked_subcommand is not None:
        return
    try:
        settings = Settings.from_env()
        every = _billing_every(billing_every, settings)
        dunning = _dunning_every(dunning_every, settings)
        policy = DeliveryPolicy(
            timeout=timeout,
            max_attempts=max_attempts,
            backoff_base=backoff,
            backoff_cap=max(backoff_cap, backoff),
            batch_size=batch_size,
            concurrency=concurrency,
        )
        server = SmtpServer.configured(settings, timeout=timeout)
    except ValueError as error:
        print_error(str(error))
        raise typer.Exit(2) from None
    except InvalidInput as error:
        print_error(error.detail)
        raise typer.Exit(error.exit_code) from None
    factory = sessions()
    if server is None:
        with factory() as session:
            own = mail_delivery.has_own_servers(session)
        out.print(
            "mail: no SMTP server configured (LEADBILL_SMTP_HOST); "
            + (
                "only billing entities with a server of their own send, the others' messages "
                "stay queued"
                if own
                else "messages stay queued"
            )
        )
    if every is None:
        out.print("billing: not scheduled in this worker (--billing-every 0)")
    with webhook_delivery.http_client(policy) as http:
        jobs = [] if every is None else [billing_job(factory, every)]
        if dunning is not None:
            jobs.append(dunning_job(factory, dunning))
        jobs.append(webhooks_job(factory, policy, http, drain=once))
        jobs.append(mail_job(factory, policy, server, settings, drain=once))
        if once:
            holder = holder_name()
            register(factory, jobs, _wall_clock())
            for ran in run_due(factory, jobs, _wall_clock, holder, on_error=_print_database_error):
                _print(ran)
            return
        _serve(factory, jobs, interval)


def _serve(factory: sessionmaker[Session], jobs: Sequence[Job], interval: float) -> None:
    stopping = False

    def stop(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True  # finish the job in flight, then exit

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    out.print(f"worker {holder_name()} started; Ctrl-C or SIGTERM stops it after the current job")
    run_forever(
        factory,
        jobs,
        interval=interval,
        should_stop=lambda: stopping,
        on_run=_print,
        on_error=_print_database_error,
    )
    out.print("worker stopped")


worker_app.command("status")(status)

__all__ = [
    "billing_job",
    "dunning_job",
    "mail_job",
    "run_forever",
    "webhooks_job",
    "worker",
    "worker_app",
]
