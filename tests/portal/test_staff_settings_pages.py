"""Staff pages of billing entities and tax rates: what an admin adds and changes is what
the services store, and a refused value shows the form again with what was typed and the
reason beside its field (who may: tests/portal/test_staff_roles.py)."""

from __future__ import annotations

import html
import re
from datetime import date
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from leadbill.entities.models import BillingEntity
from leadbill.entities.service import get_entity, list_entities
from leadbill.taxes.service import list_rates
from tests.portal.conftest import sign_in
from tests.portal.settings_world import add_billing_settings
from tests.portal.staff_world import STAFF_USERS, StaffWorld, build_staff_world

ENTITY = {
    "code": "us",
    "legal_name": "Leadbill Demo Inc.",
    "address_line1": "1 Main St",
    "address_line2": "",
    "city": "Denver",
    "postal_code": "80202",
    "region": "US-CO",
    "country": "US",
    "tax_id": "12-3456789",
    "email": "billing@operator.test",
    "invoice_prefix": "",
    "credit_note_prefix": "",
    "payment_terms_days": "",
    "default_currency": "",
}
GERMAN = {
    **ENTITY,
    "code": "de",
    "legal_name": "Leadbill GmbH",
    "address_line1": "Hauptstraße 1",
    "city": "Berlin",
    "postal_code": "10115",
    "region": "",
    "country": "DE",
    "tax_id": "DE136695976",
    "invoice_prefix": "DE-",
    "credit_note_prefix": "DECN-",
    "payment_terms_days": "14",
    "default_currency": "EUR",
}
MOMS = {
    "name": "Moms 12%",
    "rate": "12",
    "country": "SE",
    "region": "",
    "valid_from": "2026-01-01",
    "valid_to": "",
}


@pytest.fixture
def staff_world(sessions: sessionmaker[Session]) -> StaffWorld:
    return build_staff_world(sessions)


def _stored(sessions: sessionmaker[Session], code: str) -> BillingEntity:
    with sessions() as session:
        entity = get_entity(session, code)
        session.expunge(entity)
        return entity


def _field_error(page: str, name: str) -> str:
    found = re.search(rf'<p class="field-error" id="f-{name}-error">([^<]+)</p>', page)
    assert found, f"no error beside {name}"
    return html.unescape(found.group(1))


def _form_error(page: str) -> str:
    found = re.search(r'<p class="error" role="alert" id="form-error">(.*?)</p>', page, re.S)
    assert found, "no error above the form"
    return html.unescape(re.sub(r"<[^>]+>", "", found.group(1)))


def _row(page: str, row_id: str) -> str:
    found = re.search(rf'<tr id="{row_id}">(.*?)</tr>', page, re.S)
    assert found, row_id
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(1))).strip()


def test_admin_adds_the_first_entity_then_another_with_its_own_numbers(
    client: TestClient, staff_world: StaffWorld, sessions: sessionmaker[Session]
) -> None:
    token = sign_in(client, STAFF_USERS["admin"])
    empty = client.get("/portal/staff/billing-entities")
    assert "No billing entity yet" in empty.text
    assert 'href="/portal/staff/billing-entities" aria-current="page"' in empty.text
    added = client.post("/portal/staff/billing-entities", data={**ENTITY, "csrf_token": token})
    assert added.status_code == 303, added.text
    page = client.get(added.headers["location"]).text
    # The first entity continues the numbers issued before entities existed.
    assert "its next invoice is INV-000005" in page and "It is the default" in page
    first = _stored(sessions, "us")
    assert (first.invoice_prefix, first.payment_terms_days, first.default_currency) == (
        "INV-",
        15,
        "USD",
    )
    unnumbered = client.post(
        "/portal/staff/billing-entities",
        data={**GERMAN, "invoice_prefix": "", "csrf_token": token},
    )
    assert unnumbered.status_code == 422
    assert "is required" in _field_error(unnumbered.text, "invoice_prefix")
    assert 'value="Leadbill GmbH"' in unnumbered.text and 'value="DECN-"' in unnumbered.text
    bad_vat = client.post(
        "/portal/staff/billing-entities",
        data={**GERMAN, "tax_id": "DE136695977", "csrf_token": token},
    )
    assert bad_vat.status_code == 422
    assert "check digit" in _field_error(bad_vat.text, "tax_id")
    assert re.search(r'id="f-tax_id"[^>]*value="DE136695977"', bad_vat.text, re.S)
    taken = client.post(
        "/portal/staff/billing-entities",
        data={**GERMAN, "invoice_prefix": "inv-", "csrf_token": token},
    )
    assert taken.status_code == 409
    assert "already used by billing entity 'us'" in _form_error(taken.text)
    assert (
        client.post(
            "/portal/staff/billing-entities", data={**GERMAN, "csrf_token": token}
        ).status_code
        == 303
    )
    listing = client.get("/portal/staff/billing-entities").text
    assert _row(listing, "entity-de") == (
        "de Leadbill GmbH DE DE136695976 DE- DECN- 14 days EUR Make default"
    )
    assert _row(listing, "entity-us").endswith("default")
    with sessions() as session:
        assert [e.code for e in list_entities(session)] == ["de", "us"]


def test_admin_changes_an_entity_and_chooses_the_default(
    client: TestClient, staff_world: StaffWorld, sessions: sessionmaker[Session]
) -> None:
    add_billing_settings(sessions)
    token = sign_in(client, STAFF_USERS["admin"])
    page = client.get("/portal/staff/billing-entities/nordic")
    assert page.status_code == 200 and 'value="SECN-"' in page.text
    form = {
        **{k: v for k, v in ENTITY.items() if k != "code"},
        "legal_name": "Lead Data Nordic AB",
        "address_line1": "Sveavägen 44",
        "city": "Stockholm",
        "postal_code": "111 35",
        "region": "",
        "country": "SE",
        "tax_id": "",
        "email": "",
        "invoice_prefix": "SE-",
        "credit_note_prefix": "SECN-",
        "payment_terms_days": "30",
        "default_currency": "EUR",
        "csrf_token": token,
    }
    cleared_city = client.post("/portal/staff/billing-entities/nordic", data={**form, "city": " "})
    assert cleared_city.status_code == 422
    assert _field_error(cleared_city.text, "city") == "is required"
    assert 'value="111 35"' in cleared_city.text  # what was typed, not what is stored
    assert _stored(sessions, "nordic").postal_code == "111 34"
    no_terms = client.post(
        "/portal/staff/billing-entities/nordic", data={**form, "payment_terms_days": ""}
    )
    assert _field_error(no_terms.text, "payment_terms_days") == "is required"
    saved = client.post("/portal/staff/billing-entities/nordic", data=form)
    assert saved.status_code == 303
    nordic = _stored(sessions, "nordic")
    assert (nordic.postal_code, nordic.tax_id, nordic.email) == ("111 35", None, None)
    assert "Billing entity nordic saved." in client.get(saved.headers["location"]).text
    chosen = client.post(
        "/portal/staff/billing-entities/nordic/default", data={"csrf_token": token}
    )
    assert chosen.status_code == 303
    assert (
        "Lead Data Nordic AB (nordic) is now the default entity."
        in client.get("/portal/staff/billing-entities").text
    )
    assert _stored(sessions, "nordic").is_default and not _stored(sessions, "us").is_default
    assert client.get("/portal/staff/billing-entities/ghost").status_code == 404


def test_other_staff_read_the_entities_without_forms(
    client: TestClient, staff_world: StaffWorld, sessions: sessionmaker[Session]
) -> None:
    add_billing_settings(sessions)
    sign_in(client, STAFF_USERS["billing"])
    listing = client.get("/portal/staff/billing-entities").text
    assert "Leadbill Demo Inc." in listing and "<form" not in listing.split("<main", 1)[1]
    shown = client.get("/portal/staff/billing-entities/nordic").text
    assert "SE556036079301" in shown and 'name="legal_name"' not in shown


def test_admin_adds_and_ends_tax_rates(
    client: TestClient, staff_world: StaffWorld, sessions: sessionmaker[Session]
) -> None:
    rate_id = add_billing_settings(sessions)
    token = sign_in(client, STAFF_USERS["admin"])
    page = client.get("/portal/staff/tax-rates").text
    assert _row(page, f"rate-{rate_id}").startswith(f"{rate_id} Moms 25% 25 % SE — 2020-01-01 open")
    overlap = client.post("/portal/staff/tax-rates", data={**MOMS, "csrf_token": token})
    assert overlap.status_code == 409
    assert "end it first" in _form_error(overlap.text)
    assert 'value="Moms 12%"' in overlap.text
    for field, value, reason in (
        ("rate", "12,5", "not a decimal amount"),
        ("rate", "120", "0 to 100"),
        ("valid_from", "", "not a date"),
        ("region", "US-NY", "not a region of SE"),
    ):
        refused = client.post(
            "/portal/staff/tax-rates", data={**MOMS, field: value, "csrf_token": token}
        )
        assert refused.status_code == 422, field
        assert reason in _field_error(refused.text, field), field
    early = client.post(
        f"/portal/staff/tax-rates/{rate_id}/end",
        data={"valid_to": "2019-12-31", "csrf_token": token},
    )
    assert early.status_code == 422
    assert "must not be before valid_from" in _form_error(early.text)
    ended = client.post(
        f"/portal/staff/tax-rates/{rate_id}/end",
        data={"valid_to": "2025-12-31", "csrf_token": token},
    )
    assert ended.status_code == 303
    added = client.post("/portal/staff/tax-rates", data={**MOMS, "csrf_token": token})
    assert added.status_code == 303
    page = client.get("/portal/staff/tax-rates").text
    assert "Moms 12%: 12 % in SE from 2026-01-01 to open" in page
    with sessions() as session:
        rates = [(r.name, Decimal(r.rate), r.valid_from, r.valid_to) for r in list_rates(session)]
    assert rates == [
        ("Moms 25%", Decimal(25), date(2020, 1, 1), date(2025, 12, 31)),
        ("Moms 12%", Decimal(12), date(2026, 1, 1), None),
    ]
    missing = client.post(
        "/portal/staff/tax-rates/999/end", data={"valid_to": "2030-01-01", "csrf_token": token}
    )
    assert missing.status_code == 404
