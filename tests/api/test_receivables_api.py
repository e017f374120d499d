"""Receivables over HTTP: the aging report (JSON and CSV), days overdue on invoices, a
customer's own overdue invoices only, and writing an invoice off as uncollectible."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from leadbill.billing.invoices import get_invoice
from tests.integration.receivables_world import (
    UNCOLLECTIBLE_REASON,
    ReceivablesWorld,
    build_receivables_world,
)

AS_OF = "2026-07-01T03:00:00Z"
BUCKETS = ("current", "days_1_30", "days_31_60", "days_61_90", "over_90", "total")


@pytest.fixture
def world(sessions: sessionmaker[Session]) -> ReceivablesWorld:
    """The invoices of receivables_world and a key per role (customer: acme)."""
    return build_receivables_world(sessions)


def _amounts(row: dict[str, Any]) -> list[str]:
    assert {row[bucket]["currency"] for bucket in BUCKETS} == {row["currency"]}
    return [row[bucket]["amount"] for bucket in BUCKETS]


def test_aging_report_buckets_open_balances_per_entity_and_account(
    client: TestClient, world: ReceivablesWorld
) -> None:
    response = client.get(f"/v1/reports/receivables?as_of={AS_OF}", headers=world.auth("viewer"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["as_of"] == AS_OF and body["entity"] is None and body["account"] is None
    accounts = {(r["entity"], r["account"]): (r["invoices"], _amounts(r)) for r in body["accounts"]}
    assert accounts == {
        ("nordic", "fjord"): (2, ["250.00", "0.00", "400.00", "0.00", "0.00", "650.00"]),
        ("nordic", "lumen"): (2, ["0.00", "0.00", "60.00", "75.50", "0.00", "135.50"]),
        ("us", "acme"): (4, ["140.00", "350.00", "0.00", "0.00", "0.00", "490.00"]),
        ("us", "bolt"): (3, ["0.00", "10.01", "0.00", "1200.00", "999.00", "2209.01"]),
    }
    assert [(r["entity"], r["currency"], r["total"]["amount"]) for r in body["entities"]] == [
        ("nordic", "EUR", "650.00"),
        ("nordic", "USD", "135.50"),
        ("us", "USD", "2699.01"),
    ]
    assert [(r["currency"], r["invoices"], _amounts(r)) for r in body["totals"]] == [
        ("EUR", 2, ["250.00", "0.00", "400.00", "0.00", "0.00", "650.00"]),
        ("USD", 9, ["140.00", "360.01", "60.00", "1275.50", "999.00", "2834.51"]),
    ]


def test_aging_report_csv_totals_equal_the_json(
    client: TestClient, world: ReceivablesWorld
) -> None:
    query = f"/v1/reports/receivables?as_of={AS_OF}&entity=us"
    body = client.get(query, headers=world.auth("billing")).json()
    response = client.get(f"{query}&format=csv", headers=world.auth("billing"))
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert 'filename="receivables-2026-07-01.csv"' in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    expected = [
        (
            kind,
            r["entity"] or "",
            r["account"] or "",
            r["currency"],
            str(r["invoices"]),
            *_amounts(r),
        )
        for kind, part in (("account", "accounts"), ("entity", "entities"), ("total", "totals"))
        for r in body[part]
    ]
    heads = ("row", "entity", "account", "currency", "invoices")
    shown = [tuple(row[column] for column in (*heads, *BUCKETS)) for row in rows]
    assert shown == expected
    assert {row["as_of"] for row in rows} == {AS_OF}
    assert rows[-1]["row"] == "total" and rows[-1]["total"] == "2699.01"


def test_aging_report_of_an_unknown_entity_or_account_is_404(
    client: TestClient, world: ReceivablesWorld
) -> None:
    for query in ("entity=ghost", "account=ghost"):
        response = client.get(f"/v1/reports/receivables?{query}", headers=world.auth("admin"))
        assert response.status_code == 404
    bad = client.get("/v1/reports/receivables?format=xlsx", headers=world.auth("admin"))
    assert bad.status_code == 422


def test_invoices_carry_their_due_date_and_days_overdue_at_as_of(
    client: TestClient, world: ReceivablesWorld
) -> None:
    numbers = world.numbers
    listed = client.get(
        f"/v1/invoices?account=bolt&as_of={AS_OF}", headers=world.auth("viewer")
    ).json()["data"]
    by_number = {i["number"]: i for i in listed}
    assert {n: (by_number[numbers[n]]["due_on"], by_number[numbers[n]]["days_overdue"])
            for n in ("B1", "B2", "B3", "B4")} == {
        "B1": ("2026-05-01", 61),
        "B2": ("2026-04-01", 91),
        "B3": ("2026-03-03", 0),
        "B4": ("2026-06-01", 30),
    }  # fmt: skip
    b3 = by_number[numbers["B3"]]
    assert b3["status"] == "uncollectible"
    assert b3["uncollectible_at"] == "2026-06-20T00:00:00Z"
    assert b3["uncollectible_reason"] == UNCOLLECTIBLE_REASON
    # New York is still on June 30 at AS_OF: A3, due June 29, is one day late.
    one = client.get(f"/v1/invoices/{numbers['A3']}?as_of={AS_OF}", headers=world.auth("viewer"))
    assert (one.json()["due_on"], one.json()["days_overdue"]) == ("2026-06-29", 1)
    before = client.get(
        f"/v1/invoices/{numbers['A3']}?as_of=2026-06-29T12:00:00Z", headers=world.auth("viewer")
    )
    assert before.json()["days_overdue"] == 0


def test_a_customer_key_sees_only_its_own_overdue_invoices(
    client: TestClient, world: ReceivablesWorld
) -> None:
    headers = world.auth("customer")  # acme's
    listed = client.get(f"/v1/invoices?as_of={AS_OF}", headers=headers).json()["data"]
    assert {i["account"] for i in listed} == {"acme"}
    overdue = {i["number"]: i["days_overdue"] for i in listed if i["days_overdue"]}
    assert overdue == {world.numbers["A2"]: 14, world.numbers["A3"]: 1}
    for name in ("B1", "F1"):  # another account's overdue invoices do not exist for it
        other = client.get(f"/v1/invoices/{world.numbers[name]}?as_of={AS_OF}", headers=headers)
        assert other.status_code == 404
    assert client.get("/v1/invoices?account=bolt", headers=headers).status_code == 404
    assert client.get("/v1/reports/receivables", headers=headers).status_code == 403


def test_billing_marks_an_invoice_uncollectible_and_it_leaves_the_receivables(
    client: TestClient, world: ReceivablesWorld, sessions: sessionmaker[Session]
) -> None:
    number = world.numbers["B1"]
    response = client.post(
        f"/v1/invoices/{number}/uncollectible",
        json={"reason": "No answer since April", "at": AS_OF},
        headers=world.auth("billing"),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "uncollectible" and body["days_overdue"] == 0
    assert (body["uncollectible_at"], body["uncollectible_reason"]) == (
        AS_OF,
        "No answer since April",
    )
    report = client.get(
        f"/v1/reports/receivables?as_of={AS_OF}&account=bolt", headers=world.auth("billing")
    ).json()
    assert _amounts(report["accounts"][0]) == ["0.00", "10.01", "0.00", "0.00", "999.00", "1009.01"]
    with sessions() as session:
        assert get_invoice(session, number).status == "uncollectible"
    # Still in the ledger: listed, with its total and balance due.
    detail = client.get(f"/v1/invoices/{number}", headers=world.auth("viewer")).json()
    assert detail["balance_due"]["amount"] == "1200.00"


@pytest.mark.parametrize(
    ("name", "body", "status", "detail"),
    [
        ("A5", {"reason": "gone"}, 409, "is paid; nothing is left to collect"),
        ("F3", {"reason": "gone"}, 409, "is void; nothing is owed"),
        ("B3", {"reason": "gone"}, 409, "is already uncollectible since 2026-06-20"),
        ("A1", {"reason": "  "}, 422, "reason: is required"),
        ("A1", {"reason": "x" * 301}, 422, "reason"),
        ("A1", {}, 422, "reason"),
    ],
)
def test_marking_uncollectible_is_refused_with_the_reason_why(
    client: TestClient,
    world: ReceivablesWorld,
    name: str,
    body: dict[str, str],
    status: int,
    detail: str,
) -> None:
    response = client.post(
        f"/v1/invoices/{world.numbers[name]}/uncollectible", json=body, headers=world.auth("admin")
    )
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert detail in problem["detail"] or any(e["field"] == detail for e in problem["errors"])


def test_a_payment_after_the_write_off_pays_the_invoice(
    client: TestClient, world: ReceivablesWorld
) -> None:
    number = world.numbers["B3"]
    paid = client.post(
        f"/v1/invoices/{number}/payments",
        json={"amount": "700.00", "currency": "USD", "reference": "liquidator-1"},
        headers=world.auth("billing"),
    )
    assert paid.status_code == 201, paid.text
    assert paid.json()["invoice_status"] == "paid"
    assert paid.json()["balance_due"]["amount"] == "0.00"
