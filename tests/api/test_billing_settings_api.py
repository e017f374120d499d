"""Billing entities, tax rates and an account's billing details over HTTP: what is stored,
and every refusal a problem naming its field (roles: tests/api/test_roles.py)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from leadbill.accounts.billing_details import details_of
from leadbill.accounts.service import get_account
from leadbill.billing.taxation import account_billing
from tests.api.conftest import World

ENTITIES = "/v1/billing-entities"
RATES = "/v1/tax-rates"
DETAILS = "/v1/accounts/acme/billing-details"
US = {
    "code": "us",
    "legal_name": "Leadbill Demo Inc.",
    "address_line1": "1 Main St",
    "city": "Denver",
    "region": "US-CO",
    "country": "US",
    "tax_id": "123456789",
}
NORDIC = {
    "code": "nordic",
    "legal_name": "Lead Data Nordic AB",
    "address_line1": "Sveavägen 44",
    "city": "Stockholm",
    "country": "SE",
    "tax_id": "SE556036079301",
    "invoice_prefix": "SE-",
    "credit_note_prefix": "SECN-",
    "payment_terms_days": 30,
    "default_currency": "EUR",
}
GERMAN = {
    "legal_name": "Acme Realty GmbH",
    "address_line1": "Hauptstraße 1",
    "city": "Berlin",
    "postal_code": "10115",
    "country": "DE",
    "tax_id": "DE 136 695 976",
    "purchase_order": "PO-2026-118",
}


def _invalid(response: Any, field: str) -> str:
    """The reason of a 422 problem whose first error names `field`."""
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    error = response.json()["errors"][0]
    assert error["field"] == field, response.text
    return str(error["reason"])


def _entities(client: TestClient, world: World) -> None:
    for body in (US, NORDIC):
        created = client.post(ENTITIES, json=body, headers=world.auth("admin"))
        assert created.status_code == 201, created.text


def test_entities_are_created_with_their_number_sequences_and_one_default(
    client: TestClient, world: World
) -> None:
    admin = world.auth("admin")
    first = client.post(ENTITIES, json=US, headers=admin).json()
    assert (first["invoice_prefix"], first["credit_note_prefix"], first["is_default"]) == (
        "INV-",
        "CN-",
        True,
    )
    assert (first["tax_id"], first["payment_terms_days"], first["default_currency"]) == (
        "12-3456789",
        15,
        "USD",
    )
    unnumbered = {k: v for k, v in NORDIC.items() if k != "invoice_prefix"}
    assert "is required" in _invalid(
        client.post(ENTITIES, json=unnumbered, headers=admin), "invoice_prefix"
    )
    second = client.post(ENTITIES, json=NORDIC, headers=admin)
    assert second.status_code == 201 and second.json()["is_default"] is False
    made = client.post(f"{ENTITIES}/NORDIC/default", headers=admin)
    assert made.status_code == 200 and made.json()["is_default"] is True
    listed = client.get(ENTITIES, params={"limit": 1}, headers=world.auth("viewer")).json()
    assert [e["code"] for e in listed["data"]] == ["nordic"]
    rest = client.get(
        ENTITIES, params={"cursor": listed["page"]["next_cursor"]}, headers=world.auth("viewer")
    ).json()
    assert [(e["code"], e["is_default"]) for e in rest["data"]] == [("us", False)]
    assert client.get(f"{ENTITIES}/ghost", headers=admin).status_code == 404


def test_entity_refusals_name_their_field(client: TestClient, world: World) -> None:
    admin = world.auth("admin")
    client.post(ENTITIES, json=US, headers=admin)
    bad_vat = {**NORDIC, "tax_id": "SE556036079300"}
    assert "not a valid tax number" in _invalid(
        client.post(ENTITIES, json=bad_vat, headers=admin), "tax_id"
    )
    german_check_digit = {**NORDIC, "country": "DE", "tax_id": "DE136695977"}
    assert "check digit" in _invalid(
        client.post(ENTITIES, json=german_check_digit, headers=admin), "tax_id"
    )
    too_long = {**NORDIC, "legal_name": "x" * 201}
    assert "at most 200" in _invalid(
        client.post(ENTITIES, json=too_long, headers=admin), "legal_name"
    )
    # Unknown fields are refused, as POST /accounts refuses them.
    unknown = client.post(ENTITIES, json={**NORDIC, "vat": "x"}, headers=admin)
    assert "is not a known field of this request" in _invalid(unknown, "vat")
    _invalid(
        client.post(ENTITIES, json={**NORDIC, "default_currency": "EUX"}, headers=admin),
        "default_currency",
    )
    taken = client.post(ENTITIES, json={**NORDIC, "invoice_prefix": "inv-"}, headers=admin)
    assert taken.status_code == 409 and "already used by billing entity 'us'" in taken.text
    assert client.post(ENTITIES, json=US, headers=admin).status_code == 409
    assert client.get(ENTITIES, headers=admin).json()["data"][0]["code"] == "us"  # only us


def test_entity_change_keeps_what_is_left_out_and_null_clears(
    client: TestClient, world: World
) -> None:
    admin = world.auth("admin")
    _entities(client, world)
    changed = client.patch(
        f"{ENTITIES}/nordic", json={"postal_code": "111 34", "tax_id": None}, headers=admin
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["postal_code"], body["tax_id"], body["city"]) == ("111 34", None, "Stockholm")
    required = client.patch(f"{ENTITIES}/nordic", json={"city": None}, headers=admin)
    assert "cannot be cleared" in _invalid(required, "city")
    # A new country checks the region and tax id it would keep.
    moved = client.patch(f"{ENTITIES}/us", json={"country": "CA"}, headers=admin)
    assert "not a region of CA" in _invalid(moved, "region")
    assert client.get(f"{ENTITIES}/us", headers=admin).json()["country"] == "US"
    assert client.patch(f"{ENTITIES}/ghost", json={}, headers=admin).status_code == 404


def test_an_entity_gets_its_own_smtp_server_and_from_address_never_a_password(
    client: TestClient, world: World
) -> None:
    admin = world.auth("admin")
    _entities(client, world)
    mail = {
        "mail_from": "fakturor@leaddata.se",
        "smtp_host": "smtp.leaddata.se",
        "smtp_security": "tls",
        "smtp_user": "fakturor",
    }
    changed = client.patch(f"{ENTITIES}/nordic", json=mail, headers=admin)
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert {name: body[name] for name in mail} == mail
    assert body["smtp_port"] is None  # the security's usual port, 465
    assert body["smtp_password_variable"] == "LEADBILL_SMTP_PASSWORD_NORDIC"
    assert "smtp_password" not in body
    password = client.patch(f"{ENTITIES}/nordic", json={"smtp_password": "x"}, headers=admin)
    assert "not a known field" in _invalid(password, "smtp_password")
    assert "65535" in _invalid(
        client.patch(f"{ENTITIES}/nordic", json={"smtp_port": 70000}, headers=admin), "smtp_port"
    )
    assert "not a host name" in _invalid(
        client.patch(f"{ENTITIES}/nordic", json={"smtp_host": "mail server"}, headers=admin),
        "smtp_host",
    )
    _invalid(
        client.patch(f"{ENTITIES}/nordic", json={"smtp_security": "ssl"}, headers=admin),
        "smtp_security",
    )
    cleared = client.patch(
        f"{ENTITIES}/nordic", json={"smtp_host": None, "smtp_port": None}, headers=admin
    ).json()
    assert (cleared["smtp_host"], cleared["smtp_port"], cleared["mail_from"]) == (
        None,
        None,
        "fakturor@leaddata.se",
    )


def test_tax_rates_are_added_ended_and_never_overlap(client: TestClient, world: World) -> None:
    admin = world.auth("admin")
    moms = {"name": "Moms 25%", "rate": "25", "country": "se", "valid_from": "2020-01-01"}
    created = client.post(RATES, json=moms, headers=admin)
    assert created.status_code == 201, created.text
    rate = created.json()
    assert (rate["rate"], rate["country"], rate["valid_to"]) == ("25", "SE", None)
    overlap = client.post(RATES, json={**moms, "valid_from": "2026-01-01"}, headers=admin)
    assert overlap.status_code == 409 and "end it first" in overlap.json()["detail"]
    ended = client.post(f"{RATES}/{rate['id']}/end", json={"valid_to": "2025-12-31"}, headers=admin)
    assert ended.status_code == 200 and ended.json()["valid_to"] == "2025-12-31"
    reduced = {**moms, "name": "Moms 24%", "rate": "24.5", "valid_from": "2026-01-01"}
    assert client.post(RATES, json=reduced, headers=admin).status_code == 201
    ny = {
        "name": "NY",
        "rate": "8.875",
        "country": "US",
        "region": "US-NY",
        "valid_from": "2026-01-01",
    }
    assert client.post(RATES, json=ny, headers=admin).json()["rate"] == "8.875"

    assert "decimal string" in _invalid(
        client.post(RATES, json={**ny, "rate": 8.875}, headers=admin), "rate"
    )
    assert "0 to 100" in _invalid(
        client.post(RATES, json={**ny, "rate": "101"}, headers=admin), "rate"
    )
    assert "region of US" in _invalid(
        client.post(RATES, json={**ny, "region": "CA-QC"}, headers=admin), "region"
    )
    backwards = {**ny, "region": "US-NJ", "valid_to": "2025-01-01"}
    _invalid(client.post(RATES, json=backwards, headers=admin), "valid_to")
    _invalid(
        client.post(RATES, json={**ny, "valid_from": "2026-02-30"}, headers=admin), "valid_from"
    )
    early = client.post(f"{RATES}/{rate['id']}/end", json={"valid_to": "2019-01-01"}, headers=admin)
    _invalid(early, "valid_to")
    assert (
        client.post(f"{RATES}/999/end", json={"valid_to": "2030-01-01"}, headers=admin).status_code
        == 404
    )

    swedish = client.get(RATES, params={"country": "SE"}, headers=world.auth("reviewer")).json()
    assert [(r["name"], r["valid_from"], r["valid_to"]) for r in swedish["data"]] == [
        ("Moms 25%", "2020-01-01", "2025-12-31"),
        ("Moms 24%", "2026-01-01", None),
    ]


def test_a_customer_reads_and_changes_its_own_billing_details(
    client: TestClient, world: World, sessions: sessionmaker[Session]
) -> None:
    _entities(client, world)
    customer = world.auth("customer")
    empty = client.get(DETAILS, headers=customer).json()
    assert empty["legal_name"] is None and empty["updated_at"] is None
    assert (empty["billing_entity"], empty["issuer"], empty["effective_payment_terms_days"]) == (
        None,
        "us",
        15,
    )
    bad = client.put(DETAILS, json={**GERMAN, "tax_id": "DE136695977"}, headers=customer)
    assert "check digit" in _invalid(bad, "tax_id")
    with sessions() as session:
        assert details_of(session, get_account(session, "acme").id) is None  # nothing stored
    saved = client.put(DETAILS, json=GERMAN, headers=customer)
    assert saved.status_code == 200, saved.text
    assert (saved.json()["tax_id"], saved.json()["country"]) == ("DE136695976", "DE")
    # What staff set may come back unchanged (GET's answer sent back), never changed.
    staff_set = ("billing_entity", "payment_terms_days", "tax_exemption")
    echoed = {k: v for k, v in saved.json().items() if k in GERMAN or k in staff_set}
    assert client.put(DETAILS, json=echoed, headers=customer).status_code == 200
    for field, value in (
        ("billing_entity", "nordic"),
        ("payment_terms_days", 60),
        ("tax_exemption", "Reg. 12-345"),
    ):
        refused = client.put(DETAILS, json={field: value}, headers=customer)
        assert refused.status_code == 403, (field, refused.text)
        assert f"{field} is set by operator staff" in refused.json()["detail"]
    cleared = client.put(
        DETAILS, json={"purchase_order": None, "postal_code": ""}, headers=customer
    )
    assert (cleared.json()["purchase_order"], cleared.json()["postal_code"]) == (None, None)
    assert cleared.json()["legal_name"] == "Acme Realty GmbH"  # left out: kept
    # Another account's billing details do not exist for this key.
    for method, body in (("GET", None), ("PUT", {"purchase_order": "PO-1"})):
        other = client.request(
            method, "/v1/accounts/other/billing-details", json=body, headers=customer
        )
        assert other.status_code == 404
        assert other.json()["type"] == "https://leadbill.dev/problems/not-found"


def test_staff_set_the_entity_and_terms_the_next_invoice_gets(
    client: TestClient, world: World, sessions: sessionmaker[Session]
) -> None:
    _entities(client, world)
    billing = world.auth("billing")
    set_ = client.put(
        DETAILS,
        json={**GERMAN, "billing_entity": "Nordic", "payment_terms_days": 45},
        headers=billing,
    )
    assert set_.status_code == 200, set_.text
    body = set_.json()
    assert (body["billing_entity"], body["issuer"], body["effective_payment_terms_days"]) == (
        "nordic",
        "nordic",
        45,
    )
    with sessions() as session:
        issue = account_billing(session, get_account(session, "acme").id)
    assert (issue.invoice_prefix, issue.terms_days, issue.parties.customer_tax_id) == (
        "SE-",
        45,
        "DE136695976",
    )
    back = client.put(
        DETAILS, json={"billing_entity": None, "payment_terms_days": None}, headers=billing
    ).json()
    assert (back["billing_entity"], back["issuer"], back["effective_payment_terms_days"]) == (
        None,
        "us",
        15,
    )
    ghost = client.put(DETAILS, json={"billing_entity": "ghost"}, headers=billing)
    assert ghost.status_code == 404
    _invalid(
        client.put(DETAILS, json={"payment_terms_days": 366}, headers=billing), "payment_terms_days"
    )
    _invalid(
        client.put(DETAILS, json={"region": "DE-BE", "country": None}, headers=billing), "region"
    )
