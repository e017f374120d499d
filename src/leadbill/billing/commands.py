"""Billing commands: `leadbill bill`, `invoices`, `payments`."""

from __future__ import annotations

import io
import sys
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import typer
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from leadbill.accounts.models import Account
from leadbill.accounts.service import get_account
from leadbill.billing import invoices as invoice_service
from leadbill.billing import payments as payment_service
from leadbill.billing.explain import explain_invoice, iter_line_leads
from leadbill.billing.models import Invoice
from leadbill.billing.repository import invoices_by_id
from leadbill.billing.schemas import InvoiceDetail, InvoiceExplanationOut, InvoiceOut, PaymentOut
from leadbill.billing.service import run_billing
from leadbill.console import bold, instant_option, now, out, print_error, sessions, unit_of_work
from leadbill.core.errors import RuleViolation
from leadbill.core.money import Money, format_money
from leadbill.core.periods import require_not_ahead
from leadbill.core.wording import count_of
from leadbill.csv_cells import Cell, ExportWriter
from leadbill.errors import InvalidInput, LeadbillError
from leadbill.output import OutputFormat, format_option, print_item, print_items
from leadbill.receivables.service import invoice_overdue_days, overdue_days

invoices_app = typer.Typer(
    help="Invoices: list, show, export, finalize, void, mark uncollectible.", no_args_is_help=True
)
payments_app = typer.Typer(help="Payments received against invoices.", no_args_is_help=True)


def _money(amount: Decimal, currency: str) -> str:
    return format_money(Money(amount, currency).rounded().amount, currency)


def _plain(amount: Decimal, currency: str) -> Decimal:
    return Money(amount, currency).rounded().amount


def _at(instant: datetime | None) -> str:
    return f"{instant:%Y-%m-%d %H:%M} UTC" if instant else ""


def _account_codes(session: Session, account_ids: set[int]) -> dict[int, str]:
    if not account_ids:
        return {}
    rows = session.execute(select(Account.id, Account.code).where(Account.id.in_(account_ids)))
    return {account_id: code for account_id, code in rows}


def bill(
    as_of: str = typer.Option(..., "--as-of", help="Bill every period that ended by this instant"),
    batch_size: int = typer.Option(500, min=1, max=10_000, help="Subscriptions per transaction"),
    draft: bool = typer.Option(False, "--draft", help="Leave the invoices as drafts"),
    allow_future: bool = typer.Option(
        False,
        "--allow-future",
        help="Accept an --as-of more than a day ahead of the clock (tests and simulations "
        "only: it closes periods that have not ended and invoices incomplete usage)",
    ),
) -> None:
    """Run billing: close every period that ended by --as-of and print the invoices issued.

    --as-of may be at most a day ahead of the clock, as in the API, unless --allow-future.
    """
    instant = instant_option(as_of, "as_of")
    clock = now()
    if not allow_future:
        try:
            require_not_ahead(instant, clock, "as_of")
        except RuleViolation as error:
            print_error(
                f"{error.field}: {error.reason}; a run closes every period ended by then, so "
                "it would invoice periods that have not ended (--allow-future for a simulation)"
            )
            raise typer.Exit(InvalidInput.exit_code) from None
    elif instant > clock:
        print_error(
            f"--allow-future: billing as of {_at(instant)}, ahead of the clock "
            f"({_at(clock)}): periods that have not ended are closed and their invoices "
            f"issued{' as drafts' if draft else ', final,'} on the usage recorded so far",
            label="warning:",
        )
    try:
        result = run_billing(sessions(), instant, batch_size=batch_size, finalize=not draft)
    except LeadbillError as error:
        print_error(error.detail)
        raise typer.Exit(error.exit_code) from None
    out.print(
        f"billing run as of {_at(result.as_of)}: {result.invoices_issued} invoices issued, "
        f"{result.subscriptions_renewed} renewals, {result.subscriptions_ended} "
        f"subscriptions ended"
    )
    with unit_of_work() as session:
        issued = invoices_by_id(session, result.invoice_ids)
        codes = _account_codes(session, {invoice.account_id for invoice in issued})
        for invoice in issued:
            out.print(
                f"{invoice.number or f'draft {invoice.id}'}  {codes[invoice.account_id]}  "
                f"issued {_at(invoice.issued_at)}  {_money(invoice.total, invoice.currency)}  "
                f"{invoice.status}"
            )


def _account_id(session: Session, code: str | None) -> int | None:
    return get_account(session, code).id if code else None


def _overdue(days: int) -> str:
    return f"overdue {count_of(days, 'day')}" if days else ""


AS_OF_HELP = "Count days overdue at this RFC 3339 instant (default: now)"


@invoices_app.command("list")
def list_invoices(
    account: str | None = typer.Option(None, help="Only this account (code)"),
    status: str | None = typer.Option(None, help="draft | open | paid | void | uncollectible"),
    as_of: str | None = typer.Option(None, help=AS_OF_HELP),
    format_: OutputFormat = format_option(),
) -> None:
    """List invoices, oldest first, with their due date and the days overdue."""
    at = instant_option(as_of, "as_of") if as_of else now()
    with unit_of_work() as session:
        found = invoice_service.list_invoices(
            session, account_id=_account_id(session, account), status=status
        )
        codes = _account_codes(session, {invoice.account_id for invoice in found})
        late = overdue_days(session, found, at)
        if format_ is not OutputFormat.TABLE:
            shapes = [
                InvoiceOut(**InvoiceOut.fields(i, codes[i.account_id], late[i.id])) for i in found
            ]
            print_items(format_, InvoiceOut, shapes)
            return
        table = Table("number", "id", "account", "kind", "issued", "due", "status", "total", "")
        table.columns[0].no_wrap = True  # a number is read in full, however narrow the terminal
        table.columns[0].min_width = max((len(i.number or "") for i in found), default=6)
        for invoice in found:
            table.add_row(
                invoice.number or "",
                str(invoice.id),
                codes[invoice.account_id],
                invoice.kind,
                _at(invoice.issued_at),
                f"{invoice.due_on:%Y-%m-%d}" if invoice.due_on else "",
                invoice.status,
                _money(invoice.total, invoice.currency),
                _overdue(late[invoice.id]),
            )
        out.print(table)


@invoices_app.command("show")
def show(
    number: str = typer.Argument(..., help="Invoice number (or id of a draft)"),
    as_of: str | None = typer.Option(None, help=AS_OF_HELP),
    format_: OutputFormat = format_option(),
) -> None:
    """Show an invoice: header, due date (and days overdue), lines, payments and balance."""
    at = instant_option(as_of, "as_of") if as_of else now()
    with unit_of_work() as session:
        invoice = invoice_service.get_invoice(session, number)
        account = session.get_one(Account, invoice.account_id)
        if format_ is not OutputFormat.TABLE:
            days = invoice_overdue_days(session, invoice, at)
            print_item(format_, InvoiceDetail.of(session, invoice, account.code, days))
            return
        out.print(
            bold(invoice.number or f"draft {invoice.id}"),
            f"  {invoice.status}  account {account.code} ({account.name})",
        )
        out.print(f"issued {_at(invoice.issued_at)}")
        if invoice.due_on is not None:
            late = _overdue(invoice_overdue_days(session, invoice, at))
            out.print(f"due {invoice.due_on:%Y-%m-%d}" + (f"  {late}" if late else ""))
        for label, instant in (
            ("finalized", invoice.finalized_at),
            ("paid", invoice.paid_at),
            ("voided", invoice.voided_at),
            ("uncollectible", invoice.uncollectible_at),
        ):
            if instant is not None:
                out.print(f"{label} {_at(instant)}")
        if invoice.uncollectible_reason:
            out.print(f"written off: {invoice.uncollectible_reason}")
        lines = Table("#", "description", "qty", "unit price", "amount")
        for line in invoice_service.invoice_lines(session, invoice.id):
            lines.add_row(
                str(line.position),
                line.description,
                str(line.quantity),
                _money(line.unit_price, invoice.currency),
                _money(line.amount, invoice.currency),
            )
        out.print(lines)
        out.print(f"total {_money(invoice.total, invoice.currency)}")
        received = payment_service.payments_of(session, invoice.id)
        if received:
            table = Table("payment", "received", "amount")
            for payment in received:
                table.add_row(
                    payment.reference,
                    _at(payment.received_at),
                    _money(payment.amount, payment.currency),
                )
            out.print(table)
        out.print(f"paid {_money(payment_service.amount_paid(session, invoice), invoice.currency)}")
        out.print(
            f"balance due {_money(payment_service.balance_due(session, invoice), invoice.currency)}"
        )


EXPORT_COLUMNS = [
    "invoice",
    "account",
    "status",
    "issued_at",
    "currency",
    "invoice_total",
    "line",
    "kind",
    "description",
    "quantity",
    "unit_price",
    "amount",
    "period_start",
    "period_end",
]


def _iso(instant: datetime | None) -> str:
    return instant.isoformat().replace("+00:00", "Z") if instant else ""


def _export_rows(session: Session, found: list[Invoice]) -> list[list[Cell]]:
    codes = _account_codes(session, {invoice.account_id for invoice in found})
    rows: list[list[Cell]] = []
    for invoice in found:
        for line in invoice_service.invoice_lines(session, invoice.id):
            rows.append(
                [
                    invoice.number or f"draft-{invoice.id}",
                    codes[invoice.account_id],
                    invoice.status,
                    _iso(invoice.issued_at),
                    invoice.currency,
                    _plain(invoice.total, invoice.currency),
                    line.position,
                    line.kind,
                    line.description,
                    line.quantity,
                    _plain(line.unit_price, invoice.currency),
                    _plain(line.amount, invoice.currency),
                    _iso(line.period_start),
                    _iso(line.period_end),
                ]
            )
    return rows


@invoices_app.command("export")
def export(
    number: str | None = typer.Argument(None, help="Invoice number (or give --account)"),
    account: str | None = typer.Option(None, help="Every invoice of this account"),
    format_: str = typer.Option("csv", "--format", help="csv"),
    output: Path | None = typer.Option(None, help="Write to this file instead of stdout"),
) -> None:
    """Export the lines of one invoice, or of all an account's invoices, as CSV."""
    with unit_of_work() as session:
        if format_ != "csv":
            raise InvalidInput("format", f"{format_!r} is not supported; use csv")
        if (number is None) == (account is None):
            raise InvalidInput("number", "give either an invoice number or --account")
        if number is not None:
            found = [invoice_service.get_invoice(session, number)]
        else:
            found = invoice_service.list_invoices(session, account_id=_account_id(session, account))
        buffer = io.StringIO()
        writer = ExportWriter(buffer, lineterminator="\n")
        writer.writerow(EXPORT_COLUMNS)
        writer.writerows(_export_rows(session, found))
    if output is None:
        typer.echo(buffer.getvalue(), nl=False)
    else:
        output.write_text(buffer.getvalue(), encoding="utf-8")
        out.print(f"wrote {len(found)} invoices to {output}")


EXPLAIN_COLUMNS = [
    "invoice",
    "line",
    "kind",
    "amount",
    "lead_id",
    "seat",
    "counted",
    "overage",
    "charged",
    "category",
    "reason",
    "counted_at",
    "explanation",
]


@invoices_app.command("explain")
def explain(
    number: str = typer.Argument(..., help="Invoice number (or id of a draft)"),
    account: str | None = typer.Option(None, help="Only if the invoice is this account's"),
    format_: OutputFormat = format_option(),
) -> None:
    """For each line of an invoice, the leads behind it and why each counted or not.

    JSON: as GET /invoices/{number}/explain (the lines, not the leads); CSV: each line and
    each lead behind it, a row."""
    with unit_of_work() as session:
        found = explain_invoice(session, number, account_id=_account_id(session, account))
        if format_ is OutputFormat.JSON:
            print_item(format_, InvoiceExplanationOut.of(found))
            return
        writer = (
            ExportWriter(sys.stdout, lineterminator="\n") if format_ is OutputFormat.CSV else None
        )
        if writer is not None:
            writer.writerow(EXPLAIN_COLUMNS)
        else:
            out.print(bold(found.invoice_label), f"  account {found.account_code}")
        for line in found.lines:
            amount = _plain(line.amount.amount, line.amount.currency)
            head: list[Cell] = [found.invoice_label, line.position, line.kind, amount]
            if writer is not None:
                writer.writerow([*head, "", "", "", "", "", "", "", "", line.explanation])
                for lead in iter_line_leads(session, line):
                    writer.writerow(
                        [
                            *head,
                            lead.lead_id,
                            lead.seat_code or "",
                            "yes" if lead.counted else "no",
                            "yes" if lead.overage and line.kind == "overage" else "no",
                            "yes" if lead.charged else "no",
                            lead.category or "",
                            lead.reason,
                            _iso(lead.counted_at),
                            lead.reason_text,
                        ]
                    )
                continue
            shown = _money(line.amount.amount, line.amount.currency)
            out.print(f"line {line.position} {line.kind} {shown}: {line.description}")
            out.print(f"  {line.explanation}")
            if line.scope is None:
                continue
            table = Table("lead", "seat", "counted", "charged", "reason", "counted at")
            table.columns[0].overflow = "fold"
            for lead in iter_line_leads(session, line):
                table.add_row(
                    lead.lead_id,
                    lead.seat_code or "-",
                    "yes" if lead.counted else "no",
                    "yes" if lead.overage else "",
                    lead.reason_text,
                    _at(lead.counted_at),
                )
            out.print(table)


@invoices_app.command("finalize")
def finalize(invoice_id: str = typer.Argument(..., help="Id of the draft invoice")) -> None:
    """Finalize a draft: it gets the next gapless number and becomes immutable."""
    with unit_of_work() as session:
        if not invoice_id.isdigit():
            raise InvalidInput("id", f"{invoice_id!r} is not a draft invoice id")
        invoice = invoice_service.get_invoice(session, invoice_id)
        invoice_service.finalize_invoice(session, invoice, now())
        out.print(f"invoice {invoice.id} finalized as {invoice.number} ({invoice.status})")


@invoices_app.command("void")
def void(number: str = typer.Argument(..., help="Invoice number")) -> None:
    """Void an open invoice (a paid invoice is never voided)."""
    with unit_of_work() as session:
        invoice = invoice_service.void_invoice(
            session, invoice_service.get_invoice(session, number), now()
        )
        out.print(f"invoice {invoice.number} is void")


@payments_app.command("record")
def record(
    number: str = typer.Argument(..., help="Invoice number"),
    amount: str = typer.Option(..., help="Amount received, a decimal such as 10.00"),
    reference: str = typer.Option(..., help="Payment reference, unique per account"),
    currency: str | None = typer.Option(None, help="Default: the invoice currency"),
    received_at: str | None = typer.Option(None, help="Instant received (default: now)"),
    method: str = typer.Option("bank_transfer", help="bank_transfer, sepa_debit, card or other"),
    provider_reference: str | None = typer.Option(
        None, help="The bank's or provider's reference (at most 128 characters)"
    ),
    fee: str | None = typer.Option(None, help="What the provider kept, where known"),
) -> None:
    """Record a payment against an invoice."""
    at = instant_option(received_at, "received_at") if received_at else now()
    with unit_of_work() as session:
        invoice = invoice_service.get_invoice(session, number)
        payment = payment_service.record_payment(
            session,
            invoice=invoice,
            amount=amount,
            currency=currency or invoice.currency,
            reference=reference,
            received_at=at,
            method=method,
            provider_reference=provider_reference,
            fee=fee,
        )
        balance = payment_service.balance_due(session, invoice)
        out.print(
            f"payment {payment.reference} of {_money(payment.amount, payment.currency)} on "
            f"{invoice.number}: invoice {invoice.status}, balance due "
            f"{_money(balance, invoice.currency)}"
        )


@payments_app.command("list")
def list_payments(
    account: str | None = typer.Option(None, help="Only this account (code)"),
    format_: OutputFormat = format_option(),
) -> None:
    """List payments, oldest first (JSON: each as in an invoice's `payments`)."""
    with unit_of_work() as session:
        found = payment_service.list_payments(session, account_id=_account_id(session, account))
        numbers = {
            invoice_id: number
            for invoice_id, number in session.execute(
                select(Invoice.id, Invoice.number).where(
                    Invoice.id.in_({payment.invoice_id for payment in found})
                )
            )
        }
        codes = _account_codes(session, {payment.account_id for payment in found})
        if format_ is not OutputFormat.TABLE:
            shapes = [
                PaymentOut.of(p, numbers.get(p.invoice_id) or str(p.invoice_id)) for p in found
            ]
            print_items(format_, PaymentOut, shapes)
            return
        table = Table("reference", "account", "invoice", "received", "amount")
        for payment in found:
            table.add_row(
                payment.reference,
                codes[payment.account_id],
                numbers.get(payment.invoice_id) or "",
                _at(payment.received_at),
                _money(payment.amount, payment.currency),
            )
        out.print(table)


def register(app: typer.Typer) -> None:
    """Mount the billing commands on the main app."""
    app.command("bill")(bill)
    app.add_typer(invoices_app, name="invoices")
    app.add_typer(payments_app, name="payments")
