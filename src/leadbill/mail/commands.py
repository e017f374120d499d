"""`leadbill mail list|show|resend`: the mail outbox and its delivery log."""

from __future__ import annotations

from datetime import datetime

import typer
from rich.table import Table

from leadbill.accounts.service import get_account
from leadbill.console import now, out, unit_of_work
from leadbill.mail import service
from leadbill.mail.messages import RenderError, render
from leadbill.settings import Settings

app = typer.Typer(help="E-mail: the outbox, what was sent, resending.", no_args_is_help=True)


def _when(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M:%S}Z" if value is not None else "-"


@app.command("list")
def list_(
    status: str | None = typer.Option(None, help="pending, sending, sent, failed or cancelled"),
    account: str | None = typer.Option(None, help="Only this account's messages"),
    kind: str | None = typer.Option(None, help=f"Only this kind: {', '.join(service.KINDS)}"),
    limit: int = typer.Option(50, min=1, max=10_000, help="How many, newest first"),
) -> None:
    """The mail outbox, newest first: kind, recipient, status, attempts, last answer."""
    with unit_of_work() as session:
        rows = service.list_messages(
            session,
            status=status,
            account_id=get_account(session, account).id if account else None,
            kind=kind,
            limit=limit,
        )
        table = Table("id", "kind", "account", "to", "status", "attempts", "last")
        for row in rows:
            m = row.message
            if m.sent_at:
                last = f"sent at {_when(m.sent_at)}"
            elif m.last_attempt_at or m.last_error:
                last = f"{m.last_code or '-'} {m.last_error or ''} at {_when(m.last_attempt_at)}"
            else:
                last = f"due {_when(m.next_attempt_at)}"
            table.add_row(
                str(m.id),
                m.kind,
                row.account or "(staff)",
                m.recipient,
                m.status,
                str(m.attempts),
                last,
            )
        out.print(table)


@app.command("show")
def show(message_id: int = typer.Argument(..., help="The message's id")) -> None:
    """One message as it was sent (or as it will be), and every attempt."""
    with unit_of_work() as session:
        m = service.get_message(session, message_id)
        out.print(f"mail message {m.id}: {m.kind}, {m.status}, attempts {m.attempts}")
        if m.status == "sent":
            out.print(f"sent at {_when(m.sent_at)}")
            sender, subject, text, html = m.sender, m.subject, m.text_body, m.html_body
            attachments = m.attachments or ""
        else:
            out.print("not sent yet; as it will be sent:")
            try:
                rendered = render(session, m, Settings.from_env())
            except RenderError as error:
                out.print(f"cannot be rendered: {error}")
                rendered = None
            sender = rendered.sender if rendered else "-"
            subject = rendered.subject if rendered else "-"
            text = rendered.text if rendered else ""
            html = rendered.html if rendered else ""
            attachments = (
                ", ".join(f"{a.name} ({len(a.content)} bytes)" for a in rendered.attachments)
                if rendered
                else ""
            )
        out.print(f"From: {sender}")
        out.print(f"To: {m.recipient}")
        out.print(f"Subject: {subject}")
        out.print(f"Message-ID: {m.message_id}")
        out.print(f"Attachments: {attachments or '-'}")
        out.print("--- text/plain")
        out.print(text or "")
        out.print("--- text/html")
        out.print(html or "")
        if m.last_error:
            out.print(f"last error: {m.last_code or '-'} {m.last_error}")
        table = Table("attempt", "at", "code", "ms", "outcome", "error")
        for attempt in service.attempts_of(session, message_id):
            table.add_row(
                str(attempt.number),
                _when(attempt.attempted_at),
                str(attempt.code or "-"),
                str(attempt.duration_ms),
                attempt.outcome,
                attempt.error or "",
            )
        out.print(table)


@app.command("resend")
def resend(
    message_id: int = typer.Argument(..., help="The message's id"),
    to: str | None = typer.Option(None, "--to", help="Send to this address instead"),
) -> None:
    """Send a message again at the worker's next round, with a fresh allowance of attempts."""
    with unit_of_work() as session:
        service.resend(session, message_id, as_of=now(), to=to)
    out.print(f"mail message {message_id} queued to be sent again")
