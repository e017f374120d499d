"""`leadbill entities ...`: the operator's companies that issue invoices and credit notes."""

from __future__ import annotations

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from leadbill.console import now, out, unit_of_work
from leadbill.core.bank import format_iban
from leadbill.core.dunning import parse_steps
from leadbill.core.errors import RuleViolation
from leadbill.core.smtp_settings import DEFAULT_PORT, password_variable
from leadbill.entities import service
from leadbill.entities.models import BillingEntity
from leadbill.entities.schemas import BillingEntityOut
from leadbill.output import OutputFormat, format_option, print_item, print_items

app = typer.Typer(
    help="Billing entities: who issues invoices, with their own number sequences.",
    no_args_is_help=True,
)

CLEARS = "an empty string clears it"
STEPS_HELP = "Reminder days after the due date, e.g. 0,3,7,14 (distinct, 0-365, at most 10)"
ACTION_HELP = "After the last reminder: none, uncollectible or pause_service"


def _steps(text: str | None) -> tuple[int, ...] | None:
    """The --dunning-steps option as days (None: not given)."""
    if text is None:
        return None
    try:
        return parse_steps(text)
    except RuleViolation as error:
        raise typer.BadParameter(error.reason, param_hint="--dunning-steps") from None


def _lines(session: Session, entity: BillingEntity) -> list[tuple[str, str]]:
    """Each setting of an entity as a label and a value."""
    return [
        ("code", entity.code + (" (default)" if entity.is_default else "")),
        ("legal name", entity.legal_name),
        ("address line 1", entity.address_line1),
        ("address line 2", entity.address_line2 or "-"),
        ("city", entity.city),
        ("postal code", entity.postal_code or "-"),
        ("region", entity.region or "-"),
        ("country", entity.country),
        ("tax id", entity.tax_id or "-"),
        ("e-mail", entity.email or "-"),
        ("invoice prefix", entity.invoice_prefix),
        ("credit note prefix", entity.credit_note_prefix),
        ("next numbers", ", ".join(service.next_numbers(session, entity))),
        ("payment terms", f"{entity.payment_terms_days} days"),
        ("default currency", entity.default_currency),
        ("dunning steps", f"days {entity.dunning_steps.replace(',', ', ')} after the due date"),
        ("dunning final action", entity.dunning_action),
        ("bank", entity.bank_name or "-"),
        ("IBAN", format_iban(entity.bank_iban) if entity.bank_iban else "-"),
        ("BIC", entity.bank_bic or "-"),
        ("mail from", entity.mail_from or "-"),
        ("SMTP server", _server(entity)),
        ("account number", entity.bank_account_number or "-"),
        ("routing number", entity.bank_routing_number or "-"),
    ]


def _server(entity: BillingEntity) -> str:
    if not entity.smtp_host:
        return "- (the LEADBILL_SMTP_HOST server)"
    security = entity.smtp_security or "starttls"
    port = entity.smtp_port or DEFAULT_PORT[security]
    login = f", login {entity.smtp_user} (password from {password_variable(entity.code)})"
    return f"{entity.smtp_host}:{port} {security}" + (login if entity.smtp_user else "")


@app.command("create")
def create(
    code: str = typer.Argument(..., help="Unique code: lower-case letters, digits, '-', '_'"),
    legal_name: str = typer.Option(..., help="The name printed on invoices"),
    address_line1: str = typer.Option(...),
    address_line2: str | None = typer.Option(None),
    city: str = typer.Option(...),
    postal_code: str | None = typer.Option(None),
    region: str | None = typer.Option(None, help="ISO 3166-2 code, e.g. US-CO"),
    country: str = typer.Option(..., help="ISO 3166-1 alpha-2 code, e.g. SE"),
    tax_id: str | None = typer.Option(None, help="VAT id or EIN, checked for its country"),
    email: str | None = typer.Option(None),
    invoice_prefix: str | None = typer.Option(
        None, help="Before the invoice numbers' digits, e.g. SE- (the first entity: INV-)"
    ),
    credit_note_prefix: str | None = typer.Option(
        None, help="Before the credit notes' digits, e.g. SECN- (the first entity: CN-)"
    ),
    payment_terms_days: int | None = typer.Option(None, help="Days to pay (default 15)"),
    default_currency: str | None = typer.Option(None, help="ISO 4217 code (default USD)"),
    dunning_steps: str | None = typer.Option(None, help=f"{STEPS_HELP} (default 0,3,7,14)"),
    dunning_action: str | None = typer.Option(None, help=f"{ACTION_HELP} (default none)"),
    bank_name: str | None = typer.Option(None, help=f"Bank printed with the account; {CLEARS}"),
    iban: str | None = typer.Option(None, help=f"IBAN customers pay to; {CLEARS}"),
    bic: str | None = typer.Option(None, help="BIC; derived from a new IBAN when left out"),
    account_number: str | None = typer.Option(None, help=f"US account number; {CLEARS}"),
    routing_number: str | None = typer.Option(None, help=f"US ABA routing number; {CLEARS}"),
) -> None:
    """Add a billing entity; the first one becomes the default."""
    fields = service.EntityFields(
        legal_name=legal_name,
        address_line1=address_line1,
        address_line2=address_line2,
        city=city,
        postal_code=postal_code,
        region=region,
        country=country,
        tax_id=tax_id,
        email=email,
        invoice_prefix=invoice_prefix,
        credit_note_prefix=credit_note_prefix,
        payment_terms_days=payment_terms_days,
        default_currency=default_currency,
        dunning_steps=_steps(dunning_steps),
        dunning_action=dunning_action,
        bank_name=bank_name,
        iban=iban,
        bic=bic,
        account_number=account_number,
        routing_number=routing_number,
    )
    with unit_of_work() as session:
        entity = service.create_entity(session, code=code, fields=fields, as_of=now())
        default = " (the default)" if entity.is_default else ""
        invoice, credit_note = service.next_numbers(session, entity)
        out.print(
            f"billing entity {entity.code} created{default}: next invoice {invoice}, "
            f"next credit note {credit_note}"
        )


@app.command("update")
def update(
    code: str = typer.Argument(..., help="The entity's code"),
    legal_name: str | None = typer.Option(None),
    address_line1: str | None = typer.Option(None),
    address_line2: str | None = typer.Option(None, help=CLEARS),
    city: str | None = typer.Option(None),
    postal_code: str | None = typer.Option(None, help=CLEARS),
    region: str | None = typer.Option(None, help=f"ISO 3166-2 code; {CLEARS}"),
    country: str | None = typer.Option(None, help="ISO 3166-1 alpha-2 code"),
    tax_id: str | None = typer.Option(None, help=f"VAT id or EIN; {CLEARS}"),
    email: str | None = typer.Option(None, help=CLEARS),
    invoice_prefix: str | None = typer.Option(None, help="A new number sequence from 000001"),
    credit_note_prefix: str | None = typer.Option(None, help="A new number sequence from 000001"),
    payment_terms_days: int | None = typer.Option(None),
    default_currency: str | None = typer.Option(None),
    dunning_steps: str | None = typer.Option(None, help=STEPS_HELP),
    dunning_action: str | None = typer.Option(None, help=ACTION_HELP),
    bank_name: str | None = typer.Option(None, help=f"Bank printed with the account; {CLEARS}"),
    iban: str | None = typer.Option(None, help=f"IBAN customers pay to; {CLEARS}"),
    bic: str | None = typer.Option(None, help="BIC; derived from a new IBAN when left out"),
    account_number: str | None = typer.Option(None, help=f"US account number; {CLEARS}"),
    routing_number: str | None = typer.Option(None, help=f"US ABA routing number; {CLEARS}"),
) -> None:
    """Change an entity's settings; finalized documents keep what they were issued with."""
    fields = service.EntityFields(
        legal_name=legal_name,
        address_line1=address_line1,
        address_line2=address_line2,
        city=city,
        postal_code=postal_code,
        region=region,
        country=country,
        tax_id=tax_id,
        email=email,
        invoice_prefix=invoice_prefix,
        credit_note_prefix=credit_note_prefix,
        payment_terms_days=payment_terms_days,
        default_currency=default_currency,
        dunning_steps=_steps(dunning_steps),
        dunning_action=dunning_action,
        bank_name=bank_name,
        iban=iban,
        bic=bic,
        account_number=account_number,
        routing_number=routing_number,
    )
    with unit_of_work() as session:
        entity = service.update_entity(session, code, fields, now())
        out.print(f"billing entity {entity.code} updated")


@app.command("mail")
def mail(
    code: str = typer.Argument(..., help="The entity's code"),
    mail_from: str | None = typer.Option(
        None, "--from", help=f"From address of the entity's e-mails; {CLEARS}"
    ),
    smtp_host: str | None = typer.Option(
        None, help=f"Its own SMTP server (host name or IP address); {CLEARS}"
    ),
    smtp_port: int | None = typer.Option(
        None, min=0, max=65535, help="Port (0: the security's usual 587, 465 or 25)"
    ),
    smtp_security: str | None = typer.Option(None, help="starttls, tls or none"),
    smtp_user: str | None = typer.Option(None, help=f"Login name; {CLEARS}"),
) -> None:
    """Send the entity's e-mails from its own address and SMTP server.

    The password is never stored: the worker reads it from the environment variable
    LEADBILL_SMTP_PASSWORD_<CODE> (the code in upper case, '-' as '_')."""
    fields = service.EntityFields(
        mail_from=mail_from,
        smtp_host=smtp_host,
        smtp_port=smtp_port,
        smtp_security=smtp_security,
        smtp_user=smtp_user,
    )
    with unit_of_work() as session:
        entity = service.update_entity(session, code, fields, now())
        out.print(
            f"billing entity {entity.code}: mail from {entity.mail_from or '-'}, "
            f"SMTP server {_server(entity)}"
        )


@app.command("default")
def make_default(code: str = typer.Argument(..., help="The entity's code")) -> None:
    """Make an entity the default: it bills every account that names none."""
    with unit_of_work() as session:
        entity = service.make_default(session, code, now())
        out.print(f"billing entity {entity.code} is now the default")


@app.command("list")
def list_(format_: OutputFormat = format_option()) -> None:
    """List the billing entities."""
    with unit_of_work() as session:
        if format_ is not OutputFormat.TABLE:
            found = service.list_entities(session)
            print_items(format_, BillingEntityOut, [BillingEntityOut.of(e) for e in found])
            return
        table = Table(
            "code", "legal name", "country", "tax id", "invoices", "credit notes", "terms", ""
        )
        for entity in service.list_entities(session):
            table.add_row(
                entity.code,
                entity.legal_name,
                entity.country,
                entity.tax_id or "",
                entity.invoice_prefix,
                entity.credit_note_prefix,
                f"{entity.payment_terms_days} days",
                "default" if entity.is_default else "",
            )
        out.print(table)


@app.command("show")
def show(
    code: str = typer.Argument(..., help="The entity's code"),
    format_: OutputFormat = format_option(),
) -> None:
    """Show every setting of one entity."""
    with unit_of_work() as session:
        if format_ is not OutputFormat.TABLE:
            print_item(format_, BillingEntityOut.of(service.get_entity(session, code)))
            return
        for label, value in _lines(session, service.get_entity(session, code)):
            out.print(f"{label}: {value}")
