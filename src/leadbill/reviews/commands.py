"""`leadbill reviews ...`: submit, list, show, decide, reply, history, stats (R13-R15)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import typer
from rich.table import Table
from rich.text import Text

from leadbill.accounts.models import Account
from leadbill.accounts.service import get_account
from leadbill.console import instant_option, now, out, unit_of_work
from leadbill.core.billability import NON_BILLABLE_REASONS
from leadbill.core.reviews import Status, is_overdue
from leadbill.leads.models import Lead
from leadbill.output import OutputFormat, format_option, print_item, print_items
from leadbill.reviews.flows import decide_review
from leadbill.reviews.schemas import ReviewDetail, ReviewOut, ReviewStatisticsOut, TrailOut
from leadbill.reviews.service import (
    STATUS_FILTERS,
    TrailEntry,
    audit_trail,
    get_review,
    reply_to_review,
    review_queue,
    statistics,
    submit_review,
)
from leadbill.subscriptions.service import current_subscription

app = typer.Typer(
    help="Lead reviews (disputes): submit, decide, reply; the queue.", no_args_is_help=True
)

_REASONS = ", ".join(reason.value for reason in NON_BILLABLE_REASONS)
_AS_OF = "Instant of the action (RFC 3339; default: now)"


def _at(value: str | None) -> datetime:
    return instant_option(value, "as_of") if value else now()


def _when(value: datetime) -> str:
    return f"{value:%Y-%m-%d %H:%M} UTC"


@app.command("submit")
def submit(
    account: str = typer.Argument(..., help="Account code"),
    lead_id: str = typer.Argument(..., help="The operator's lead id"),
    reason: str = typer.Option(..., help=f"One of {_REASONS}"),
    explanation: str = typer.Option(..., help="Why the lead should not be billed (20-2000)"),
    by: str = typer.Option(..., help="Who submits (the customer's user)"),
    as_of: str | None = typer.Option(None, help=_AS_OF),
) -> None:
    """Submit one lead for review (answered, received less than 7 days ago, recorded)."""
    with unit_of_work() as session:
        review = submit_review(
            session,
            account,
            lead_id,
            reason=reason,
            explanation=explanation,
            submitted_by=by,
            as_of=_at(as_of),
        )
        out.print(f"review {review.id} submitted for lead {lead_id}: due {_when(review.due_at)}")


@app.command("list")
def list_(
    account: str | None = typer.Option(None, help="Only this account"),
    status: str = typer.Option("open", help=f"One of {', '.join(STATUS_FILTERS)}"),
    as_of: str | None = typer.Option(None, help="Instant that decides what is overdue"),
    format_: OutputFormat = format_option(),
) -> None:
    """The review queue: open reviews oldest due first, with overdue ones flagged."""
    at = _at(as_of)
    with unit_of_work() as session:
        queue = review_queue(session, as_of=at, account_code=account, status=status)
        if format_ is not OutputFormat.TABLE:
            shapes = [
                ReviewOut.of(e.review, e.account_code, e.lead_id, e.overdue) for e in queue.entries
            ]
            print_items(format_, ReviewOut, shapes)
            return
        table = Table(show_edge=False)
        for name in ("review", "account", "lead", "reason", "status", "due (UTC)", ""):
            table.add_column(name, overflow="fold")
        for entry in queue.entries:
            r = entry.review
            table.add_row(
                str(r.id),
                entry.account_code,
                entry.lead_id,
                r.reason,
                r.status,
                f"{r.due_at:%Y-%m-%d %H:%M}",
                Text("OVERDUE", style="red") if entry.overdue else "",
            )
        out.print(table)
        out.print(
            f"{queue.open} open, {queue.overdue} overdue, {queue.waiting} waiting for the customer"
        )


@app.command("show")
def show(
    review_id: int = typer.Argument(..., help="Review number"),
    as_of: str | None = typer.Option(None, help="Instant that decides what is overdue"),
    format_: OutputFormat = format_option(),
) -> None:
    """One review: the lead, reason, explanation, due date, decision, and its audit trail."""
    at = _at(as_of)
    with unit_of_work() as session:
        review = get_review(session, review_id)
        account = session.get_one(Account, review.account_id)
        lead = session.get_one(Lead, review.lead_id)
        overdue = is_overdue(Status(review.status), review.due_at, at)
        if format_ is not OutputFormat.TABLE:
            shape = ReviewOut.of(review, account.code, lead.external_id, overdue)
            trail = audit_trail(session, account.code, review_id=review.id)
            detail = ReviewDetail(**shape.model_dump(), trail=[TrailOut.of(t) for t in trail])
            print_item(format_, detail)
            return
        out.print(f"review {review.id}: lead {lead.external_id} of {account.code}")
        out.print(f"  status      {review.status}{'  OVERDUE' if overdue else ''}")
        out.print(f"  reason      {review.reason}")
        out.print(f"  explanation {review.explanation}")
        out.print(f"  submitted   {_when(review.submitted_at)} by {review.submitted_by}")
        out.print(f"  due         {_when(review.due_at)}")
        if review.decided_at:
            out.print(f"  decided     {_when(review.decided_at)} by {review.decided_by}")
        if review.decision_note:
            out.print(f"  note        {review.decision_note}")
        _print_trail(audit_trail(session, account.code, review_id=review.id))


def _print_trail(entries: list[TrailEntry]) -> None:
    table = Table(show_edge=False)
    for name in ("at (UTC)", "review", "lead", "what", "who", "detail"):
        table.add_column(name, overflow="fold")
    for entry in entries:
        table.add_row(
            f"{entry.at:%Y-%m-%d %H:%M}",
            str(entry.review_id),
            entry.lead_id,
            entry.kind,
            entry.actor,
            entry.detail,
        )
    out.print(table)


@app.command("decide")
def decide(
    review_id: int = typer.Argument(..., help="Review number"),
    decision: str = typer.Argument(..., help="approve, reject or request-info"),
    by: str = typer.Option(..., help="Who decides (the reviewer)"),
    note: str | None = typer.Option(
        None, help="To the customer: required to reject or to request information"
    ),
    as_of: str | None = typer.Option(None, help=_AS_OF),
) -> None:
    """Approve, reject (with a note) or request more information (with a question)."""
    with unit_of_work() as session:
        result = decide_review(
            session,
            review_id,
            decision,
            decided_by=by,
            note=note,
            as_of=_at(as_of),
        )
        out.print(f"review {review_id} {result.review.status}: {result.effect}")


@app.command("reply")
def reply(
    review_id: int = typer.Argument(..., help="Review number"),
    message: str = typer.Option(..., help="The answer to the reviewer's question"),
    by: str = typer.Option(..., help="Who replies (the customer's user)"),
    as_of: str | None = typer.Option(None, help=_AS_OF),
) -> None:
    """Answer a request for information; the review returns to the queue."""
    with unit_of_work() as session:
        review = reply_to_review(
            session,
            review_id,
            message=message,
            replied_by=by,
            as_of=_at(as_of),
        )
        out.print(f"review {review.id} back in the queue, due {_when(review.due_at)}")


@app.command("history")
def history(
    account: str = typer.Argument(..., help="Account code"),
    lead: str | None = typer.Option(None, help="Only this lead (the operator's lead id)"),
    format_: OutputFormat = format_option(),
) -> None:
    """The audit trail: every submission, decision, reply and credit, who and when."""
    with unit_of_work() as session:
        trail = audit_trail(session, account, lead_id=lead)
        if format_ is not OutputFormat.TABLE:
            print_items(format_, TrailOut, [TrailOut.of(entry) for entry in trail])
            return
        _print_trail(trail)


@app.command("stats")
def stats(
    account: str = typer.Argument(..., help="Account code"),
    from_: str | None = typer.Option(
        None, "--from", help="Start (default: the current period's start)"
    ),
    to: str | None = typer.Option(None, help="End, exclusive (default: the current period's end)"),
    as_of: str | None = typer.Option(None, help="Instant that decides what is overdue"),
    format_: OutputFormat = format_option(),
) -> None:
    """Review statistics of an account for reviews submitted in a period."""
    at = _at(as_of)
    with unit_of_work() as session:
        if from_ is None or to is None:
            subscription = current_subscription(session, get_account(session, account))
            start, end = subscription.current_period_start, subscription.current_period_end
        if from_ is not None:
            start = instant_option(from_, "from")
        if to is not None:
            end = instant_option(to, "to")
        figures = statistics(session, account, start=start, end=end, as_of=at)
        if format_ is not OutputFormat.TABLE:
            code = get_account(session, account).code
            print_item(format_, ReviewStatisticsOut.of(code, start, end, figures))
            return
        ratio = figures.approval_rate
        rate = f"{Decimal(ratio.numerator) * 100 / ratio.denominator:.1f} %" if ratio else "-"
        median = figures.median_time_to_decision
        out.print(f"reviews of {account}, submitted {_when(start)} to {_when(end)}")
        out.print(f"  leads reviewed          {figures.leads_reviewed}")
        out.print(f"  submitted by customers  {figures.submitted}")
        out.print(f"  approved                {figures.approved}")
        out.print(f"  rejected                {figures.rejected}")
        out.print(f"  approval rate           {rate}")
        out.print(f"  median time to decision {_duration(median) if median else '-'}")
        out.print(f"  overdue                 {figures.overdue}")


def _duration(value: timedelta) -> str:
    hours = int(value.total_seconds() // 3600)
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"
