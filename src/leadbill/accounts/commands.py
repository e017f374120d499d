"""`leadbill accounts ...`"""

from __future__ import annotations

import typer
from rich.table import Table

from leadbill.accounts import billing_details, service
from leadbill.accounts.schemas import AccountOut, BillingDetailsOut
from leadbill.billing.taxation import account_billing
from leadbill.console import now, out, unit_of_work
from leadbill.entities.models import BillingEntity
from leadbill.errors import InvalidInput
from leadbill.output import OutputFormat, format_option, print_item, print_items

app = typer.Typer(help="Customer accounts.", no_args_is_help=True)


@app.command("create")
def create(
    code: str = typer.Argument(..., help="Unique account code"),
    name: str = typer.Option(...),
    billing_email: str = typer.Option(...),
    currency: str = typer.Option("USD"),
    time_zone: str = typer.Option("UTC", help="IANA time zone, e.g. America/New_York"),
    entity: str | None = typer.Option(
        None, help="Code of the billing entity that issues its invoices (default: the default)"
    ),
) -> None:
    """Create an account."""
    with unit_of_work() as session:
        account = service.create_account(
            session,
            code=code,
            name=name,
            currency=currency,
            time_zone=time_zone,
            billing_email=billing_email,
            as_of=now(),
        )
        if entity:
            change = billing_details.DetailsChange(billing_entity=entity)
            billing_details.set_details(session, account, change, now())
        out.print(f"account {account.code} created")


@app.command("list")
def list_(format_: OutputFormat = format_option()) -> None:
    """List the accounts."""
    with unit_of_work() as session:
        if format_ is not OutputFormat.TABLE:
            found = service.list_accounts(session)
            print_items(format_, AccountOut, [AccountOut.of(account) for account in found])
            return
        table = Table("code", "name", "currency", "time zone", "billing e-mail")
        for account in service.list_accounts(session):
            table.add_row(
                account.code,
                account.name,
                account.currency,
                account.time_zone,
                account.billing_email,
            )
        out.print(table)


CLEARS = "an empty string clears it"


def _terms(value: str | None) -> tuple[int | None, bool]:
    """--payment-terms-days as typed: days, or an empty string for the entity's terms."""
    if value is None:
        return None, False
    if not value.strip():
        return None, True
    try:
        return int(value.strip()), False
    except ValueError:
        raise InvalidInput("payment_terms_days", f"{value!r} is not a whole number") from None


@app.command("billing-details")
def show_billing_details(
    account: str = typer.Argument(..., help="Account code"),
    format_: OutputFormat = format_option(),
) -> None:
    """Show what the account's invoices say of it, who issues them and the payment terms."""
    with unit_of_work() as session:
        found = service.get_account(session, account)
        details = billing_details.details_of(session, found.id)
        billing = account_billing(session, found.id)
        if format_ is not OutputFormat.TABLE:
            entity = details.billing_entity_id if details else None
            code = session.get_one(BillingEntity, entity).code if entity is not None else None
            print_item(format_, BillingDetailsOut.of(found, details, code, billing))
            return
        customer = billing.customer
        own_terms = details.payment_terms_days if details else None
        issuer = billing.issuer["code"] if billing.issuer else "none set up"
        own_entity = details is not None and details.billing_entity_id is not None
        for label, value in (
            ("legal name", customer["legal_name"]),
            ("address line 1", customer["address_line1"]),
            ("address line 2", customer["address_line2"]),
            ("city", customer["city"]),
            ("postal code", customer["postal_code"]),
            ("region", customer["region"]),
            ("country", customer["country"]),
            ("tax id", customer["tax_id"]),
            ("tax exemption", customer["tax_exemption"]),
            ("purchase order", customer["purchase_order"]),
            (
                "payment terms",
                f"{billing.terms_days} days" + ("" if own_terms is not None else " (the entity's)"),
            ),
            ("billing entity", issuer + ("" if own_entity else " (the default)")),
        ):
            out.print(f"{label}: {value or '-'}")


@app.command("set-billing-details")
def set_billing_details(
    account: str = typer.Argument(..., help="Account code"),
    legal_name: str | None = typer.Option(None, help=f"As invoices print it; {CLEARS}"),
    address_line1: str | None = typer.Option(None, help=CLEARS),
    address_line2: str | None = typer.Option(None, help=CLEARS),
    city: str | None = typer.Option(None, help=CLEARS),
    postal_code: str | None = typer.Option(None, help=CLEARS),
    country: str | None = typer.Option(None, help=f"ISO 3166-1 alpha-2 code; {CLEARS}"),
    region: str | None = typer.Option(None, help=f"ISO 3166-2 code, e.g. US-NY; {CLEARS}"),
    tax_id: str | None = typer.Option(
        None, help=f"VAT id or EIN, checked for the country; {CLEARS}"
    ),
    tax_exemption: str | None = typer.Option(
        None, help=f"Exemption reference: no tax is charged; {CLEARS}"
    ),
    purchase_order: str | None = typer.Option(None, help=f"Printed on invoices; {CLEARS}"),
    payment_terms_days: str | None = typer.Option(
        None, help="Days to pay; an empty string: the billing entity's terms"
    ),
    entity: str | None = typer.Option(
        None, help="Code of the billing entity that issues; an empty string: the default"
    ),
) -> None:
    """Change the account's billing details; an option left out keeps its value."""
    with unit_of_work() as session:
        days, clear_terms = _terms(payment_terms_days)
        change = billing_details.DetailsChange(
            legal_name=legal_name,
            address_line1=address_line1,
            address_line2=address_line2,
            city=city,
            postal_code=postal_code,
            region=region,
            country=country,
            tax_id=tax_id,
            tax_exemption=tax_exemption,
            purchase_order=purchase_order,
            payment_terms_days=days,
            clear_payment_terms=clear_terms,
            billing_entity=entity,
        )
        found = service.get_account(session, account)
        billing_details.set_details(session, found, change, now())
        out.print(f"billing details of {found.code} saved")
