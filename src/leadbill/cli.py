"""The `leadbill` command line: thin commands over the services.

Each concept contributes its commands (`<concept>/commands.py`); this file
mounts them.
"""

from __future__ import annotations

import typer

from leadbill.accounts.commands import app as accounts_app
from leadbill.auth.commands import app as keys_app
from leadbill.billing.commands import invoices_app
from leadbill.billing.commands import register as register_billing
from leadbill.billing.export_commands import app as export_app
from leadbill.console import out, print_error, sessions
from leadbill.context.commands import app as context_app
from leadbill.credit_notes.commands import app as credit_notes_app
from leadbill.dunning.commands import app as dunning_app
from leadbill.entities.commands import app as entities_app
from leadbill.leads.commands import app as import_app
from leadbill.leads.review_commands import app as leads_app
from leadbill.mail.commands import app as mail_app
from leadbill.payment_methods.commands import app as payment_methods_app
from leadbill.plans.commands import app as plans_app
from leadbill.portal.commands import app as users_app
from leadbill.receivables.commands import register as register_receivables
from leadbill.reports.commands import app as reports_app
from leadbill.reviews.commands import app as reviews_app
from leadbill.seats.commands import app as seats_app
from leadbill.subscriptions.commands import app as subscriptions_app
from leadbill.taxes.commands import app as taxes_app
from leadbill.webhooks.commands import app as webhooks_app
from leadbill.worker import worker_app

app = typer.Typer(
    help="leadbill: meter lead events, decide what is billable, invoice it.",
    no_args_is_help=True,
    add_completion=False,
)


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema (Alembic migrations)."""
    from leadbill.migrate import upgrade

    engine = sessions().kw["bind"]
    upgrade(engine)
    out.print(f"database at {engine.url.render_as_string(hide_password=True)} is up to date")


@app.command()
def demo(
    serve_portal: bool = typer.Option(
        False, "--serve", help="Then serve the API and portal on 127.0.0.1:8000 until Ctrl-C"
    ),
) -> None:
    """Migrate the database, load the demo data, bill it, and print the invoices."""
    from leadbill.demo import run_demo
    from leadbill.migrate import upgrade

    try:
        upgrade(sessions().kw["bind"])
        run_demo(sessions())
    except Exception as error:  # the demo reports and stops on the first problem
        print_error(str(error), "demo failed:")
        raise typer.Exit(1) from None
    if serve_portal:
        import os

        from leadbill.portal.demo import DEMO_PORTAL_AS_OF

        # Plain http on loopback, and the demo's evening of November 22 as "now".
        os.environ.setdefault("LEADBILL_PORTAL_SECURE_COOKIES", "false")
        os.environ.setdefault("LEADBILL_PORTAL_AS_OF", DEMO_PORTAL_AS_OF)
        out.print("\nServing http://127.0.0.1:8000/portal/ (Ctrl-C stops it)")
        serve(host="127.0.0.1", port=8000, workers=1)


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on"),
    port: int = typer.Option(8000, min=1, max=65535, help="Port to listen on"),
    workers: int = typer.Option(1, min=1, max=64, help="Worker processes"),
    access_log: bool = typer.Option(True, help="Log every request (off: errors only)"),
) -> None:
    """Serve the REST API (/v1, OpenAPI at /openapi.json) and the portal (/portal) with uvicorn."""
    import uvicorn

    uvicorn.run("leadbill.api:app", host=host, port=port, workers=workers, access_log=access_log)


@app.command()
def openapi() -> None:
    """Print the OpenAPI document (make openapi writes it to docs/openapi.json)."""
    import json

    from leadbill.api import openapi_document

    print(json.dumps(openapi_document(), indent=2, sort_keys=True))


app.add_typer(keys_app, name="keys")
app.add_typer(plans_app, name="plans")
app.add_typer(accounts_app, name="accounts")
app.add_typer(entities_app, name="entities")
app.add_typer(payment_methods_app, name="payment-methods")
app.add_typer(taxes_app, name="taxes")
app.add_typer(subscriptions_app, name="subscriptions")
app.add_typer(seats_app, name="seats")
app.add_typer(import_app, name="import")
app.add_typer(leads_app, name="leads")
app.add_typer(context_app, name="context")
app.add_typer(reports_app, name="reports")
app.add_typer(reviews_app, name="reviews")
app.add_typer(credit_notes_app, name="credit-notes")
app.add_typer(export_app, name="export")
register_billing(app)
register_receivables(invoices=invoices_app, reports=reports_app)
app.add_typer(webhooks_app, name="webhooks")
app.add_typer(mail_app, name="mail")
app.add_typer(dunning_app, name="dunning")
app.add_typer(worker_app, name="worker")
app.add_typer(users_app, name="users")
