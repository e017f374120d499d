"""CSV injection in the portal: the customer's and the staff's call-report CSV neutralise
text that starts like a formula.

One database per module (SQLite, then PostgreSQL): the portal's world, where acme has
one planted lead per prefix whose id, name, phone, e-mail and source are
`formula(prefix)`. Each test downloads a CSV and reads it back with the csv module.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.formula_cells import PREFIX_NAMES, PREFIXES, formula, neutralised, plant_lead
from tests.portal.conftest import portal_client, sign_in
from tests.portal.world import AS_OF, build_world

LEAD_TEXT = ("lead_id", "name", "phone", "email", "source")
by_prefix = pytest.mark.parametrize("prefix", PREFIXES, ids=PREFIX_NAMES)


@pytest.fixture(scope="module")
def world(module_sessions: sessionmaker[Session]) -> None:
    """The portal's world, and acme's planted leads, received and called two days before AS_OF."""
    build_world(module_sessions)
    with module_sessions.begin() as session:
        for prefix in PREFIXES:
            plant_lead(session, "acme", "acme-seat", prefix, AS_OF - timedelta(days=2))


def _signed_in(
    sessions: sessionmaker[Session], database_url: str, email: str
) -> Iterator[TestClient]:
    with portal_client(sessions, database_url) as client:
        sign_in(client, email)
        yield client


@pytest.fixture(scope="module")
def customer(
    module_sessions: sessionmaker[Session], module_database_url: str, world: None
) -> Iterator[TestClient]:
    """Acme's customer, signed in."""
    yield from _signed_in(module_sessions, module_database_url, "ana@acme.test")


@pytest.fixture(scope="module")
def staff(
    module_sessions: sessionmaker[Session], module_database_url: str, world: None
) -> Iterator[TestClient]:
    """A staff viewer, signed in."""
    yield from _signed_in(module_sessions, module_database_url, "vic@operator.test")


def _planted_row(client: TestClient, url: str, prefix: str) -> dict[str, str]:
    """The row of the lead planted with `prefix` in the CSV at `url`, checked neutralised."""
    exported = client.get(url)
    assert exported.status_code == 200, exported.text
    assert exported.headers["content-type"] == "text/csv; charset=utf-8"
    rows = {row["lead_id"]: row for row in csv.DictReader(io.StringIO(exported.text, newline=""))}
    row = rows[neutralised(formula(prefix))]
    assert {column: row[column] for column in LEAD_TEXT} == dict.fromkeys(
        LEAD_TEXT, neutralised(formula(prefix))
    )
    return row


@by_prefix
def test_customer_call_report_csv_neutralises_a_lead_starting_with(
    customer: TestClient, prefix: str
) -> None:
    row = _planted_row(customer, "/portal/calls.csv", prefix)
    assert (row["seat"], row["calls"], row["counted"]) == ("acme-seat", "1", "yes")


@by_prefix
def test_staff_call_report_csv_neutralises_a_lead_starting_with(
    staff: TestClient, prefix: str
) -> None:
    # Filtered: the filtered report is read by another query, written by the same code.
    row = _planted_row(staff, "/portal/staff/accounts/acme/calls.csv?counted=yes", prefix)
    assert (row["seat"], row["calls"], row["counted"]) == ("acme-seat", "1", "yes")


def test_call_report_csv_keeps_plain_text_and_quotes_a_phone_that_starts_with_a_plus(
    customer: TestClient,
) -> None:
    # A phone is text: E.164's `+` is one of the prefixes, and a spreadsheet shows `+1303...`.
    exported = customer.get("/portal/calls.csv")
    rows = {row["lead_id"]: row for row in csv.DictReader(io.StringIO(exported.text, newline=""))}
    row = rows["ACME-000"]
    assert (row["name"], row["phone"], row["seat"]) == ("Lead 0", "'+13035550000", "acme-seat")
