"""`leadbill subscriptions ...`"""

from __future__ import annotations

from datetime import datetime

import typer
from rich.table import Table

from leadbill.accounts.service import get_account
from leadbill.billing.models import Invoice
from leadbill.console import instant_option, local_midnight, now, out, unit_of_work
from leadbill.core.money import format_money
from leadbill.output import OutputFormat, format_option, print_item
from leadbill.password_links.service import invite_billing_contact
from leadbill.plans.models import Plan
from leadbill.plans.service import get_plan
from leadbill.subscriptions import service
from leadbill.subscriptions.pausing import resume_service
from leadbill.subscriptions.schemas import LicencePreviewOut, SubscriptionOut

app = typer.Typer(help="Subscriptions: an account on a plan.", no_args_is_help=True)


@app.command("create")
def create(
    account: str = typer.Argument(..., help="Account code"),
    plan: str = typer.Option(..., help="Plan code"),
    start: str = typer.Option(
        ...,
        help="First period start: an RFC 3339 instant, or a date meaning local midnight "
        "in the account's time zone",
    ),
    licences: int = typer.Option(0, help="Licences, on a licence plan"),
) -> None:
    """Subscribe an account to a plan; the first period's fee is invoiced at once."""
    with unit_of_work() as session:
        customer = get_account(session, account)
        if len(start.strip()) == 10:
            start_at = local_midnight(start, customer.time_zone)
        else:
            start_at = instant_option(start, "start")
        subscription = service.create_subscription(
            session,
            account=customer,
            plan=get_plan(session, plan),
            start=start_at,
            licences=licences,
        )
        # A new customer contact gets a portal user and its invitation, in this transaction.
        contact = invite_billing_contact(session, customer, as_of=now())
        out.print(
            f"subscription {subscription.id} created; first period "
            f"{subscription.current_period_start:%Y-%m-%d %H:%M} to "
            f"{subscription.current_period_end:%Y-%m-%d %H:%M} UTC"
        )
        if contact is not None:
            out.print(f"portal user {contact.email} created and invited")


def _utc(instant: datetime) -> str:
    return f"{instant:%Y-%m-%d %H:%M} UTC"


def cancellation_text(subscription_id: int, cancellation: service.Cancellation) -> str:
    """What a cancellation will really do: when the subscription ends, what is still billed."""
    when = _utc(cancellation.requested_at) if cancellation.requested_at else "an unknown instant"
    by = f" by {cancellation.requested_by}" if cancellation.requested_by else ""
    text = (
        f"subscription {subscription_id} cancelled as of {when}{by}; it ends at "
        f"{_utc(cancellation.ends_at)}, the end of the period the cancellation falls in, "
        "with a final invoice for that period's overage and no renewal"
    )
    if cancellation.renewals:
        # Billing lags the clock: the periods before the one cancelled still renew.
        text += (
            f"; billing has not closed the periods before it, so the next run still renews "
            f"it at {', '.join(_utc(at) for at in cancellation.renewals)} and invoices "
            f"{'that fee' if len(cancellation.renewals) == 1 else 'those fees'}"
        )
    if cancellation.uncredited:
        text += (
            f"; the cancellation is dated before the current period, whose fee was invoiced "
            f"at {_utc(cancellation.uncredited)} and is not credited"
        )
    return text


@app.command("cancel")
def cancel(
    account: str = typer.Argument(..., help="Account code"),
    by: str = typer.Option(..., help="Who cancels (recorded with the instant)"),
    at: str | None = typer.Option(
        None,
        help="When the cancellation is made, RFC 3339 (default: now; at most a day ahead); "
        "it ends the period this instant falls in",
    ),
) -> None:
    """Cancel at the end of the period --at falls in (the final invoice carries its overage)."""
    instant = instant_option(at, "at") if at else now()
    with unit_of_work() as session:
        subscription = service.current_subscription(session, get_account(session, account))
        already = subscription.cancel_at_period_end and subscription.status == "active"
        service.cancel_subscription(session, subscription, instant, by=by, clock=now())
        cancellation = service.cancellation_of(session, subscription)
        assert cancellation is not None  # just recorded, or recorded before
        text = cancellation_text(subscription.id, cancellation)
        out.print(f"already cancelled, nothing changed: {text}" if already else text)


@app.command("resume")
def resume(account: str = typer.Argument(..., help="Account code")) -> None:
    """Resume a service paused by dunning: the account's lead events are taken again."""
    with unit_of_work() as session:
        subscription = service.current_subscription(session, get_account(session, account))
        resume_service(session, subscription)
        out.print(f"subscription {subscription.id} of {account} resumed: lead events are taken")


@app.command("show")
def show(
    account: str = typer.Argument(..., help="Account code"), format_: OutputFormat = format_option()
) -> None:
    """Show the account's subscription and its periods (JSON: as GET /subscriptions/{id})."""
    with unit_of_work() as session:
        subscription = service.current_subscription(session, get_account(session, account))
        if format_ is not OutputFormat.TABLE:
            print_item(format_, SubscriptionOut.of(session, subscription))
            return
        plan = session.get_one(Plan, subscription.plan_id)
        out.print(
            f"subscription {subscription.id}: plan {plan.code}, {subscription.status}"
            + (", cancels at period end" if subscription.cancel_at_period_end else "")
        )
        if subscription.service_paused_at is not None:
            out.print(
                f"service paused since {subscription.service_paused_at:%Y-%m-%d %H:%M} UTC: "
                f"{subscription.service_paused_reason} (lead events are refused; "
                f"`leadbill subscriptions resume {account}`)"
            )
        if plan.licence_price is not None:
            out.print(f"licences: {subscription.licences}")
        if subscription.scheduled_licences is not None:
            out.print(f"licences from the next period: {subscription.scheduled_licences}")
        if subscription.scheduled_plan_id is not None:
            scheduled = session.get_one(Plan, subscription.scheduled_plan_id)
            out.print(f"plan from the next period: {scheduled.code}")
        table = Table("period", "start (UTC)", "end (UTC)", "plan")
        segments: dict[int, list[str]] = {}
        for segment in service.segments(session, subscription.id):
            code = session.get_one(Plan, segment.plan_id).code
            segments.setdefault(segment.period_index, []).append(
                f"{code} from {segment.start:%Y-%m-%d %H:%M}"
            )
        for period in service.periods(session, subscription.id):
            table.add_row(
                str(period.period_index),
                f"{period.start:%Y-%m-%d %H:%M}",
                f"{period.end:%Y-%m-%d %H:%M}",
                "\n".join(segments.get(period.period_index, [])),
            )
        out.print(table)


def _at(at: str | None) -> datetime:
    return instant_option(at, "at") if at else now()


def _invoice_text(invoice: Invoice | None) -> str:
    if invoice is None:
        return "nothing invoiced now"
    total = format_money(invoice.total, invoice.currency)
    return f"invoice {invoice.number or invoice.id} for {total}"


@app.command("change-plan")
def change_plan(
    account: str = typer.Argument(..., help="Account code"),
    plan: str = typer.Option(..., help="Code of the new plan (same ladder)"),
    at: str | None = typer.Option(None, help="RFC 3339 instant of the change (default: now)"),
    immediate: bool | None = typer.Option(
        None,
        "--immediate/--at-period-end",
        help="Force the change now or at the period end (default: upgrades now, downgrades "
        "at the period end unless LEADBILL_DOWNGRADE_IMMEDIATE is set)",
    ),
    key: str | None = typer.Option(None, help="Idempotency key: a retry with it changes nothing"),
) -> None:
    """Change the plan inside the current period (upgrade at once, downgrade at period end)."""
    with unit_of_work() as session:
        subscription = service.current_subscription(session, get_account(session, account))
        result = service.change_plan(
            session, subscription, get_plan(session, plan), _at(at), immediate=immediate, key=key
        )
        when = "now" if result.immediate else f"at {result.change.effective_at:%Y-%m-%d %H:%M} UTC"
        replay = " (already recorded)" if result.replayed else ""
        issued = _invoice_text(result.invoice)
        if result.credit_notes:
            # R7: an immediate downgrade is credited, never invoiced as a negative amount.
            issued = ", ".join(
                f"credit note {note.number} for {format_money(note.total, note.currency)}"
                for note in result.credit_notes
            )
            issued += ", applied to the next invoice"
        out.print(f"plan {plan} takes effect {when}{replay}; {issued}")


licences_app = typer.Typer(help="Licences of a licence plan (R19-R22).", no_args_is_help=True)
app.add_typer(licences_app, name="licences")


def _actor(as_staff: bool) -> str:
    return "staff" if as_staff else "customer"


@licences_app.command("add")
def licences_add(
    account: str = typer.Argument(..., help="Account code"),
    count: int = typer.Option(..., help="Licences to add"),
    as_staff: bool = typer.Option(False, help="Act as operator staff (beyond the cap)"),
    at: str | None = typer.Option(None, help="RFC 3339 instant (default: now)"),
    key: str | None = typer.Option(None, help="Idempotency key: a retry with it changes nothing"),
) -> None:
    """Add licences now; the remaining share of the period is invoiced at once."""
    with unit_of_work() as session:
        subscription = service.current_subscription(session, get_account(session, account))
        result = service.add_licences(
            session, subscription, count, _at(at), actor=_actor(as_staff), key=key
        )
        replay = " (already recorded)" if result.replayed else ""
        out.print(f"{subscription.licences} licences{replay}; {_invoice_text(result.invoice)}")


@licences_app.command("remove")
def licences_remove(
    account: str = typer.Argument(..., help="Account code"),
    count: int = typer.Option(..., help="Licences to remove at the period end"),
    as_staff: bool = typer.Option(False, help="Act as operator staff"),
    at: str | None = typer.Option(None, help="RFC 3339 instant (default: now)"),
    key: str | None = typer.Option(None, help="Idempotency key: a retry with it changes nothing"),
) -> None:
    """Remove licences at the end of the period, with no refund."""
    with unit_of_work() as session:
        subscription = service.current_subscription(session, get_account(session, account))
        result = service.remove_licences(
            session, subscription, count, _at(at), actor=_actor(as_staff), key=key
        )
        out.print(
            f"{subscription.scheduled_licences} licences from "
            f"{result.change.effective_at:%Y-%m-%d %H:%M} UTC; no refund, nothing invoiced"
        )


@licences_app.command("preview")
def licences_preview(
    account: str = typer.Argument(..., help="Account code"),
    count: int = typer.Option(..., help="Licences to add (positive) or remove (negative)"),
    as_staff: bool = typer.Option(False, help="Act as operator staff"),
    at: str | None = typer.Option(None, help="RFC 3339 instant (default: now)"),
    format_: OutputFormat = format_option(),
) -> None:
    """Show the total due today and the next renewal amount; changes nothing."""
    with unit_of_work() as session:
        subscription = service.current_subscription(session, get_account(session, account))
        preview = service.preview_licence_change(
            session, subscription, count, _at(at), actor=_actor(as_staff)
        )
        if format_ is not OutputFormat.TABLE:
            print_item(format_, LicencePreviewOut.of(preview))
            return
        out.print(f"licences now: {preview.licences_now}")
        out.print(f"licences next period: {preview.licences_next_period}")
        out.print(f"total due today: {preview.total_due_today}")
        out.print(f"next renewal amount: {preview.next_renewal_amount}")
