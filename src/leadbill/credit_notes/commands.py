"""`leadbill credit-notes ...`: list and show credit notes (R15, R7)."""

from __future__ import annotations

import typer
from rich.table import Table

from leadbill.accounts.service import get_account
from leadbill.console import bold, out, unit_of_work
from leadbill.core.money import format_money
from leadbill.credit_notes.service import get_credit_note, list_credit_notes
from leadbill.output import OutputFormat, format_option, print_item, print_items
from leadbill.reviews.schemas import CreditNoteOut

app = typer.Typer(help="Credit notes: corrections to finalized invoices.", no_args_is_help=True)


@app.command("list")
def list_(
    account: str | None = typer.Option(None, help="Only this account"),
    format_: OutputFormat = format_option(),
) -> None:
    """Credit notes, oldest first: invoice and lead (or plan change) they correct, amount, left."""
    with unit_of_work() as session:
        account_id = get_account(session, account).id if account else None
        if format_ is not OutputFormat.TABLE:
            notes = list_credit_notes(session, account_id=account_id)
            shapes = [CreditNoteOut.of(get_credit_note(session, note.number)) for note in notes]
            print_items(format_, CreditNoteOut, shapes)
            return
        table = Table(show_edge=False)
        for name in ("number", "account", "issued", "invoice", "lead or change", "total", "left"):
            table.add_column(name, overflow="fold")
        for note in list_credit_notes(session, account_id=account_id):
            view = get_credit_note(session, note.number)
            table.add_row(
                note.number,
                view.account_code,
                f"{note.issued_at:%Y-%m-%d}",
                view.invoice_number,
                view.lead_id or f"plan change {note.subscription_change_id}",
                format_money(note.total, note.currency),
                format_money(view.remaining.rounded().amount, note.currency, code=False),
            )
        out.print(table)


@app.command("show")
def show(
    number: str = typer.Argument(..., help="Credit note number, e.g. CN-000001"),
    format_: OutputFormat = format_option(),
) -> None:
    """One credit note: its lines, what it corrects (lead or plan change), where it was applied."""
    with unit_of_work() as session:
        view = get_credit_note(session, number)
        if format_ is not OutputFormat.TABLE:
            print_item(format_, CreditNoteOut.of(view))
            return
        note = view.note
        issued = f"{note.issued_at:%Y-%m-%d %H:%M} UTC"
        out.print(f"{note.number}  issued {issued}  account {view.account_code}")
        out.print(f"  corrects invoice {view.invoice_number}: {view.subject} ({note.reason})")
        table = Table("line", "qty", "unit", "amount", show_edge=False)
        for line in view.lines:
            table.add_row(
                line.description,
                str(line.quantity),
                format_money(line.unit_price, note.currency, code=False),
                format_money(line.amount, note.currency),
            )
        table.add_row(bold("total"), "", "", bold(format_money(note.total, note.currency)))
        out.print(table)
        for invoice_number, amount, at in view.applications:
            out.print(
                f"  applied {format_money(amount, note.currency)} on {invoice_number} "
                f"({at:%Y-%m-%d})"
            )
        left = view.remaining.rounded()
        out.print(
            f"  left to apply: {left}"
            + (" (on the account's next invoice)" if left.amount > 0 else "")
        )
