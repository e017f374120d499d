"""`--format table|json|csv` of the list and show commands, on the demo's data, on SQLite
and PostgreSQL: JSON is what the API answers for the same objects, CSV parses with
`csv.DictReader` and holds the same values, the table stays the default."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from leadbill import console
from leadbill.accounts.schemas import AccountOut, BillingDetailsOut
from leadbill.api import create_app
from leadbill.auth.commands import ApiKeyOut
from leadbill.auth.service import create_key
from leadbill.billing.commands import EXPLAIN_COLUMNS
from leadbill.billing.schemas import (
    InvoiceDetail,
    InvoiceExplanationOut,
    InvoiceOut,
    PaymentOut,
)
from leadbill.cli import app
from leadbill.context.commands import AccountContextOut
from leadbill.demo import run_demo
from leadbill.demo_seeds import AGENT, PLUMBER, TEAM, VENDOR
from leadbill.entities.schemas import BillingEntityOut
from leadbill.leads.schemas import LeadDecisionOut
from leadbill.output import csv_columns
from leadbill.plans.schemas import PlanAdviceOut, PlanOut
from leadbill.portal.commands import PortalUserOut
from leadbill.receivables.export import COLUMNS as RECEIVABLES_COLUMNS
from leadbill.receivables.schemas import ReceivablesOut
from leadbill.reports.csv_rows import CALL_REPORT_COLUMNS
from leadbill.reports.schemas import CallReportRowOut, UsageSummaryOut
from leadbill.reviews.schemas import (
    CreditNoteOut,
    ReviewDetail,
    ReviewOut,
    ReviewStatisticsOut,
    TrailOut,
)
from leadbill.seats.schemas import SeatOut
from leadbill.subscriptions.schemas import LicencePreviewOut, SubscriptionOut
from leadbill.taxes.schemas import TaxRateOut
from leadbill.webhooks.events import CREDIT_NOTE_ISSUED, INVOICE_FINALIZED
from leadbill.webhooks.schemas import WebhookDeliveryDetail, WebhookDeliveryOut, WebhookEndpointOut
from leadbill.webhooks.service import create_endpoint
from tests.conftest import utc

runner = CliRunner()
AS_OF = "2026-11-02T00:00:00Z"


@pytest.fixture(scope="module")
def demo(
    module_database_url: str,
    module_sessions: sessionmaker[Session],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[TestClient]:
    """The demo's data, the CLI pointed at it, and an API client with an admin key."""
    with module_sessions() as session, session.begin():
        # Before the demo, so that its invoices and credit notes are queued as deliveries.
        create_endpoint(
            session,
            url="https://hooks.example.com/leadbill",
            event_types=[INVOICE_FINALIZED, CREDIT_NOTE_ISSUED],
            description="=not a formula",
            as_of=utc(2026, 1, 1),
        )
    run_demo(module_sessions, tmp_path_factory.mktemp("demo"))
    with module_sessions() as session, session.begin():
        _row, key = create_key(session, role="admin", as_of=utc(2026, 1, 1))
    patch = pytest.MonkeyPatch()
    patch.setenv("LEADBILL_DATABASE_URL", module_database_url)
    console.sessions.cache_clear()
    with TestClient(create_app(module_sessions)) as client:
        client.headers["Authorization"] = f"Bearer {key}"
        yield client
    console.sessions().kw["bind"].dispose()
    console.sessions.cache_clear()
    patch.undo()


def run(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def run_json(*args: str) -> Any:
    return json.loads(run(*args, "--format", "json"))


def run_csv(*args: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(run(*args, "--format", "csv"))))


def api(client: TestClient, path: str, **params: str) -> Any:
    response = client.get(f"/v1{path}", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def by_id(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(items, key=lambda item: item["id"])


def test_invoices_list_json_equals_the_api_list(demo: TestClient) -> None:
    # The same items; the CLI keeps its table's order (by issue), the API pages by id.
    printed = run_json("invoices", "list", "--as-of", AS_OF)
    assert by_id(printed) == api(demo, "/invoices", as_of=AS_OF, limit="1000")["data"]
    assert len(printed) > 10
    assert any(item["days_overdue"] > 0 for item in printed)
    by_account = run_json("invoices", "list", "--account", TEAM, "--as-of", AS_OF)
    assert by_id(by_account) == api(demo, "/invoices", account=TEAM, as_of=AS_OF)["data"]


def test_invoices_show_json_equals_the_api_invoice(demo: TestClient) -> None:
    for item in run_json("invoices", "list", "--as-of", AS_OF)[:25]:
        label = item["number"] or str(item["id"])
        printed = run_json("invoices", "show", label, "--as-of", AS_OF)
        assert printed == api(demo, f"/invoices/{label}", as_of=AS_OF)
        assert printed["lines"]


def test_credit_notes_list_json_equals_the_api_list(demo: TestClient) -> None:
    printed = run_json("credit-notes", "list")
    assert printed == api(demo, "/credit-notes")["data"]
    assert printed, "the demo issues credit notes"
    assert (
        run_json("credit-notes", "list", "--account", PLUMBER)
        == (api(demo, "/credit-notes", account=PLUMBER)["data"])
    )
    for note in printed:
        shown = run_json("credit-notes", "show", note["number"])
        assert shown == note == api(demo, f"/credit-notes/{note['number']}")


def test_subscriptions_show_json_equals_the_api_subscription(demo: TestClient) -> None:
    for account in (AGENT, TEAM, PLUMBER):
        printed = run_json("subscriptions", "show", account)
        assert printed["account"] == account
        assert printed == api(demo, f"/subscriptions/{printed['id']}")


def test_invoices_list_csv_has_the_json_fields_with_exact_amounts(demo: TestClient) -> None:
    items = run_json("invoices", "list", "--as-of", AS_OF)
    rows = run_csv("invoices", "list", "--as-of", AS_OF)
    assert list(rows[0]) == csv_columns(InvoiceOut)
    assert [row["number"] for row in rows] == [item["number"] or "" for item in items]
    for row, item in zip(rows, items, strict=True):
        assert row["total_amount"] == item["total"]["amount"]  # "1000.00", never 1000.0
        assert Decimal(row["total_amount"]) == Decimal(item["total"]["amount"])
        assert row["total_currency"] == item["total"]["currency"]
        assert row["issued_at"] == item["issued_at"]
        assert row["issued_at"].endswith("Z")
        assert row["days_overdue"] == str(item["days_overdue"])
        assert row["paid_at"] == (item["paid_at"] or "")


def test_credit_notes_csv_has_the_json_amounts_and_lines(demo: TestClient) -> None:
    rows = run_csv("credit-notes", "list")
    notes = run_json("credit-notes", "list")
    assert [row["number"] for row in rows] == [note["number"] for note in notes]
    for row, note in zip(rows, notes, strict=True):
        assert row["total_amount"] == note["total"]["amount"]
        assert row["remaining_amount"] == note["remaining"]["amount"]
        assert json.loads(row["lines"]) == note["lines"]  # a list is one cell of JSON text


def test_subscriptions_show_csv_is_one_row_with_the_period_flattened(demo: TestClient) -> None:
    printed = run_json("subscriptions", "show", TEAM)
    (row,) = run_csv("subscriptions", "show", TEAM)
    assert list(row) == csv_columns(SubscriptionOut)
    assert row["id"] == str(printed["id"])
    assert row["current_period_start"] == printed["current_period"]["start"]
    assert row["cancel_at_period_end"] == ("true" if printed["cancel_at_period_end"] else "false")


def test_context_show_json_equals_the_api_lead_policy_and_lists(demo: TestClient) -> None:
    printed = run_json("context", "show", PLUMBER)
    base = f"/accounts/{PLUMBER}"
    assert printed == {
        "lead_policy": api(demo, f"{base}/lead-policy"),
        "campaigns": api(demo, f"{base}/campaigns", limit="1000")["data"],
        "service_area": api(demo, f"{base}/service-area", limit="1000")["data"],
        "customers": api(demo, f"{base}/customers", limit="1000")["data"],
        "block_list": api(demo, f"{base}/block-list", limit="1000")["data"],
    }
    assert printed["campaigns"] and printed["service_area"] and printed["customers"]


# Each read-only command, the shape its JSON and CSV follow, and whether it prints a list.
COMMANDS: list[tuple[tuple[str, ...], type[BaseModel], bool]] = [
    (("invoices", "list", "--as-of", AS_OF), InvoiceOut, True),
    (("invoices", "show", "1", "--as-of", AS_OF), InvoiceDetail, False),
    (("payments", "list"), PaymentOut, True),
    (("credit-notes", "list"), CreditNoteOut, True),
    (("credit-notes", "show", "CN-000001"), CreditNoteOut, False),
    (("subscriptions", "show", AGENT), SubscriptionOut, False),
    (("subscriptions", "licences", "preview", TEAM, "--count", "1", "--as-staff"),
     LicencePreviewOut, False),
    (("accounts", "list"), AccountOut, True),
    (("accounts", "billing-details", VENDOR), BillingDetailsOut, False),
    (("context", "show", PLUMBER), AccountContextOut, False),
    (("entities", "list"), BillingEntityOut, True),
    (("entities", "show", "nordic"), BillingEntityOut, False),
    (("plans", "list"), PlanOut, True),
    (("plans", "advise", AGENT, "--as-of", AS_OF), PlanAdviceOut, False),
    (("seats", "list", "summit-realty"), SeatOut, True),
    (("taxes", "list"), TaxRateOut, True),
    (("keys", "list"), ApiKeyOut, True),
    (("users", "list"), PortalUserOut, True),
    (("webhooks", "list"), WebhookEndpointOut, True),
    (("webhooks", "deliveries"), WebhookDeliveryOut, True),
    (("webhooks", "show", "1"), WebhookDeliveryDetail, False),
    (("reviews", "list", "--status", "all", "--as-of", AS_OF), ReviewOut, True),
    (("reviews", "show", "1", "--as-of", AS_OF), ReviewDetail, False),
    (("reviews", "history", "pipe-pros"), TrailOut, True),
    (("reviews", "stats", "pipe-pros", "--from", "2026-10-01", "--to", "2026-11-01", "--as-of",
      AS_OF), ReviewStatisticsOut, False),
    (("leads", "decisions", PLUMBER, "BPE-2610-JOB"), LeadDecisionOut, True),
]  # fmt: skip

# The commands whose CSV was their own before `--format json` (kept as it was).
REPORTS: list[tuple[tuple[str, ...], type[BaseModel], bool, tuple[str, ...]]] = [
    (("reports", "summary", AGENT, "--as-of", "2026-10-31T23:00:00Z"), UsageSummaryOut, False,
     ("field", "value")),
    (("reports", "receivables", "--as-of", AS_OF), ReceivablesOut, False, RECEIVABLES_COLUMNS),
    (("invoices", "explain", "INV-000001"), InvoiceExplanationOut, False, EXPLAIN_COLUMNS),
    (("reports", "call-report", VENDOR, "--as-of", "2026-10-15T00:00:00Z"), CallReportRowOut, True,
     CALL_REPORT_COLUMNS),
]  # fmt: skip


@pytest.mark.parametrize(
    ("args", "shape", "is_list"), COMMANDS, ids=[" ".join(c[0][:2]) for c in COMMANDS]
)
def test_each_command_prints_json_csv_and_the_same_table_by_default(
    demo: TestClient, args: tuple[str, ...], shape: type[BaseModel], is_list: bool
) -> None:
    printed = run_json(*args)
    items = printed if is_list else [printed]
    assert isinstance(printed, list) is is_list
    assert items, f"the demo has data for {' '.join(args)}"
    assert [shape.model_validate(item).model_dump(mode="json") for item in items] == items
    rows = run_csv(*args)
    assert len(rows) == len(items)
    assert list(rows[0]) == csv_columns(shape)
    table = run(*args)
    assert run(*args, "--format", "table") == table
    assert not table.lstrip().startswith(("[", "{"))


# Each command and the GET of the API that answers the same objects.
SAME_AS_API: list[tuple[tuple[str, ...], str, dict[str, str]]] = [
    (("accounts", "list"), "/accounts", {"limit": "1000"}),
    (("accounts", "billing-details", VENDOR), f"/accounts/{VENDOR}/billing-details", {}),
    (("invoices", "explain", "INV-000001"), "/invoices/INV-000001/explain", {}),
    (("reviews", "show", "1", "--as-of", AS_OF), "/reviews/1", {}),
    (("entities", "list"), "/billing-entities", {"limit": "1000"}),
    (("entities", "show", "nordic"), "/billing-entities/nordic", {}),
    (("plans", "list"), "/plans", {"limit": "1000"}),
    (("plans", "advise", AGENT, "--as-of", AS_OF), f"/accounts/{AGENT}/plan-advice",
     {"as_of": AS_OF}),
    (("seats", "list", "summit-realty"), "/accounts/summit-realty/seats", {}),
    (("taxes", "list"), "/tax-rates", {"limit": "1000"}),
    (("webhooks", "list"), "/webhook-endpoints", {"limit": "1000"}),
    (("webhooks", "deliveries"), "/webhook-deliveries", {"limit": "50"}),
    (("webhooks", "show", "1"), "/webhook-deliveries/1", {}),
    (("leads", "decisions", PLUMBER, "BPE-2610-JOB"),
     "/accounts/bright-plumbing/leads/BPE-2610-JOB/decisions", {}),
    (("reports", "summary", AGENT, "--as-of", "2026-10-31T23:00:00Z"),
     f"/accounts/{AGENT}/usage", {"as_of": "2026-10-31T23:00:00Z"}),
    (("reports", "receivables", "--as-of", AS_OF), "/reports/receivables", {"as_of": AS_OF}),
    (("reports", "call-report", VENDOR, "--as-of", "2026-10-15T00:00:00Z"),
     f"/accounts/{VENDOR}/call-report", {"as_of": "2026-10-15T00:00:00Z", "limit": "1000"}),
]  # fmt: skip


def _sorted(items: list[Any]) -> list[Any]:
    return sorted(items, key=lambda item: json.dumps(item, sort_keys=True))


@pytest.mark.parametrize(
    ("args", "path", "params"),
    SAME_AS_API,
    ids=[" ".join(case[0][:2]) for case in SAME_AS_API],
)
def test_each_command_json_equals_the_api_answer(
    demo: TestClient, args: tuple[str, ...], path: str, params: dict[str, str]
) -> None:
    printed = run_json(*args)
    answer = api(demo, path, **params)
    if isinstance(printed, list):
        assert printed, f"the demo has data for {' '.join(args)}"
        assert _sorted(printed) == _sorted(answer["data"])
    else:
        assert printed == answer


@pytest.mark.parametrize(
    ("args", "shape", "is_list", "header"), REPORTS, ids=[" ".join(c[0][:2]) for c in REPORTS]
)
def test_a_report_prints_json_and_keeps_its_csv(
    demo: TestClient,
    args: tuple[str, ...],
    shape: type[BaseModel],
    is_list: bool,
    header: tuple[str, ...],
) -> None:
    printed = run_json(*args)
    items = printed if is_list else [printed]
    assert isinstance(printed, list) is is_list
    assert items
    assert [shape.model_validate(item).model_dump(mode="json") for item in items] == items
    rows = run_csv(*args)
    assert rows
    assert tuple(rows[0]) == tuple(header)
    table = run(*args)
    assert run(*args, "--format", "table") == table
    assert not table.lstrip().startswith(("[", "{"))


def test_an_unknown_format_is_refused(demo: TestClient, tmp_path: Path) -> None:
    result = runner.invoke(app, ["invoices", "list", "--format", "xml"])
    assert result.exit_code == 2
    assert "xml" in result.output
