"""`leadbill payment-methods ...`: how an account pays (staff never type card numbers)."""

from __future__ import annotations

import typer

from leadbill.accounts.service import get_account
from leadbill.console import now, out, unit_of_work
from leadbill.output import OutputFormat, format_option, print_item
from leadbill.payment_methods import service
from leadbill.payment_methods.schemas import PaymentMethodOut

app = typer.Typer(
    help="Payment methods: bank transfer (the default), SEPA Direct Debit mandates, cards.",
    no_args_is_help=True,
)


@app.command("show")
def show(
    account: str = typer.Argument(..., help="Account code"),
    format_: OutputFormat = format_option(),
) -> None:
    """Show how an account pays."""
    with unit_of_work() as session:
        found = get_account(session, account)
        shown = PaymentMethodOut.of(found.code, service.current_method(session, found.id))
        if format_ is not OutputFormat.TABLE:
            print_item(format_, shown)
            return
        for name, value in shown.model_dump().items():
            if value is not None:
                out.print(f"{name.replace('_', ' ')}: {value}")


@app.command("set")
def set_(
    account: str = typer.Argument(..., help="Account code"),
    kind: str = typer.Argument(..., help="bank_transfer, sepa_debit or card"),
    iban: str | None = typer.Option(None, help="sepa_debit: the debtor's IBAN"),
    bic: str | None = typer.Option(None, help="sepa_debit: BIC (default: from the IBAN)"),
    account_holder: str | None = typer.Option(None, help="sepa_debit: at most 70 characters"),
    mandate_reference: str | None = typer.Option(
        None, help="sepa_debit: at most 35 SEPA characters (default: LB-<account id>-<n>)"
    ),
    mandate_text: str | None = typer.Option(
        None, help="sepa_debit: the mandate text signed (default: the standard SEPA text)"
    ),
    provider: str | None = typer.Option(None, help="card: the payment provider, e.g. stripe"),
    provider_customer_id: str | None = typer.Option(None, help="card: provider's customer id"),
    provider_payment_method_id: str | None = typer.Option(
        None, help="card: provider's payment method id"
    ),
    by: str | None = typer.Option(None, help="Who set it (recorded)"),
) -> None:
    """Set how an account pays from now on; the method in use ends and is kept."""
    with unit_of_work() as session:
        found = get_account(session, account)
        if kind == "sepa_debit" and mandate_text is None:
            mandate_text = service.mandate_text(found.name)
        choice = service.MethodChoice(
            kind=kind,
            iban=iban,
            bic=bic,
            account_holder=account_holder,
            mandate_reference=mandate_reference,
            mandate_text=mandate_text,
            provider=provider,
            provider_customer_id=provider_customer_id,
            provider_payment_method_id=provider_payment_method_id,
        )
        method = service.set_method(session, found, choice, now(), by)
        extra = f", mandate {method.mandate_reference}" if method.mandate_reference else ""
        out.print(f"account {found.code} now pays by {method.kind}{extra}")
