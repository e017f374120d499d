"""Background work outside requests: `leadbill worker` delivers the webhook and mail outboxes.

The delivery itself lives in `leadbill.webhooks.delivery` and
`leadbill.mail.delivery`; this module is the process's entry point, so that
scheduled jobs can join it later. Both outboxes share one policy (timeout,
attempts, backoff, batch, concurrency). With no SMTP server configured
(`LEADBILL_SMTP_HOST` unset, the embedded default) messages stay in the
outbox, readable with `leadbill mail show`.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from types import FrameType

import typer
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from leadbill.console import out, print_error, sessions
from leadbill.errors import InvalidInput
from leadbill.mail import delivery as mail_delivery
from leadbill.mail.messages import environment
from leadbill.mail.smtp import SmtpServer
from leadbill.settings import Settings
from leadbill.webhooks import delivery as webhook_delivery
from leadbill.webhooks.delivery import DeliveryPolicy, RoundReport


def _print(webhooks: RoundReport, mail: RoundReport | None) -> None:
    if webhooks.outcomes or mail is None or not mail.outcomes:
        out.print(
            f"webhooks: attempted {webhooks.attempted}: delivered {webhooks.delivered}, "
            f"retrying {webhooks.retrying}, failed {webhooks.failed}, "
            f"cancelled {webhooks.cancelled}"
            + (f", superseded {webhooks.superseded}" if webhooks.superseded else "")
        )
    if mail is not None and mail.outcomes:
        out.print(
            f"mail: attempted {mail.attempted}: sent {mail.delivered}, "
            f"retrying {mail.retrying}, failed {mail.failed}"
            + (f", superseded {mail.superseded}" if mail.superseded else "")
        )


def run_forever(
    factory: sessionmaker[Session],
    policy: DeliveryPolicy,
    server: SmtpServer | None,
    settings: Settings,
    *,
    interval: float = 1.0,
    should_stop: Callable[[], bool] = lambda: False,
    on_round: Callable[[RoundReport, RoundReport | None], None] = lambda _w, _m: None,
    on_error: Callable[[Exception], None] = lambda _error: None,
) -> None:
    """Deliver both outboxes, then poll every `interval` seconds, until `should_stop()`.

    A database that cannot be reached is waited for (reported to `on_error`).
    """
    templates = environment()
    with webhook_delivery.http_client(policy) as http:
        while not should_stop():
            mail: RoundReport | None = None
            try:
                webhooks = webhook_delivery.deliver_round(factory, policy, http)
                if server is not None:
                    mail = mail_delivery.deliver_round(
                        factory, policy, server, settings, templates=templates
                    )
            except DBAPIError as error:
                on_error(error)
                webhooks = RoundReport()
            if webhooks.outcomes or (mail is not None and mail.outcomes):
                on_round(webhooks, mail)
                continue
            deadline = time.monotonic() + interval
            while time.monotonic() < deadline and not should_stop():
                time.sleep(min(0.2, interval))


def worker(
    once: bool = typer.Option(False, "--once", help="Send what is due, then exit (for cron)"),
    interval: float = typer.Option(1.0, min=0.05, help="Seconds between polls when idle"),
    timeout: float = typer.Option(10.0, min=0.1, help="HTTP and SMTP timeout in seconds"),
    max_attempts: int = typer.Option(8, min=1, help="Attempts before a delivery fails"),
    backoff: float = typer.Option(30.0, min=0, help="Seconds before the second attempt"),
    backoff_cap: float = typer.Option(21600.0, min=0, help="Longest wait between attempts"),
    batch_size: int = typer.Option(20, min=1, help="Deliveries claimed per round"),
    concurrency: int = typer.Option(4, min=1, help="POSTs or SMTP sessions in flight at once"),
) -> None:
    """Deliver the outboxes: signed webhook POSTs and e-mail over SMTP, retried with backoff."""
    settings = Settings.from_env()
    try:
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
    if server is None:
        out.print("mail: no SMTP server configured (LEADBILL_SMTP_HOST); messages stay queued")
    if once:
        with webhook_delivery.http_client(policy) as http:
            webhooks = webhook_delivery.deliver_due(sessions(), policy, client=http)
        mail = (
            mail_delivery.deliver_due(sessions(), policy, server, settings)
            if server is not None
            else None
        )
        _print(webhooks, mail)
        return
    stopping = False

    def stop(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True  # finish the round in flight, then exit

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    out.print("worker started; Ctrl-C or SIGTERM stops it after the current round")
    run_forever(
        sessions(),
        policy,
        server,
        settings,
        interval=interval,
        should_stop=lambda: stopping,
        on_round=_print,
    )
    out.print("worker stopped")


__all__ = ["run_forever", "worker"]
