"""Billing details pages: a customer's own, and staff's of any account. A refused value
shows the form again with what was typed and the reason beside its field; nothing is
stored. A customer never sets the entity, the terms or an exemption."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from leadbill.accounts.billing_details import details_of
from leadbill.accounts.models import BillingDetails
from leadbill.accounts.service import get_account
from leadbill.billing.taxation import account_billing
from leadbill.portal.users import create_user
from tests.portal.conftest import sign_in
from tests.portal.settings_world import add_billing_settings
from tests.portal.world import PASSWORD, START, PortalWorld

GERMAN = {
    "legal_name": "Acme Realty GmbH",
    "address_line1": "Hauptstraße 1",
    "address_line2": "",
    "city": "Berlin",
    "postal_code": "10115",
    "country": "DE",
    "region": "",
    "tax_id": "DE 136 695 976",
    "purchase_order": "PO-2026-118",
}


@pytest.fixture
def settings(world: PortalWorld, sessions: sessionmaker[Session]) -> None:
    add_billing_settings(sessions)
    with sessions() as session, session.begin():
        for email, role in (("ada@operator.test", "admin"), ("bill@operator.test", "billing")):
            create_user(session, email=email, password=PASSWORD, role=role, as_of=START)


def _details(sessions: sessionmaker[Session], code: str = "acme") -> BillingDetails | None:
    with sessions() as session:
        found = details_of(session, get_account(session, code).id)
        if found is not None:
            session.expunge(found)
        return found


def _figure(html: str, name: str) -> str:
    found = re.search(rf'data-figure="{name}">(.*?)</', html, re.S)
    assert found, name
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(1))).strip()


def _field_error(html: str, name: str) -> str:
    found = re.search(rf'<p class="field-error" id="f-{name}-error">([^<]+)</p>', html)
    assert found, f"no error beside {name}"
    return found.group(1)


def test_customer_sees_what_its_invoices_say_and_the_form(
    client: TestClient, world: PortalWorld, settings: None
) -> None:
    sign_in(client, "ana@acme.test")
    page = client.get("/portal/billing-details")
    assert page.status_code == 200
    assert 'href="/portal/billing-details" aria-current="page"' in page.text
    assert _figure(page.text, "customer_block").startswith("Acme Realty")  # the account name
    assert _figure(page.text, "issuer") == "Leadbill Demo Inc., US"
    assert _figure(page.text, "terms_days") == "15 days after the invoice date (the issuer's terms)"
    form = page.text.split('id="billing-details"', 1)[1].split("</form>", 1)[0]
    assert 'name="csrf_token"' in form
    for staff_only in ("billing_entity", "payment_terms_days", "tax_exemption"):
        assert f'name="{staff_only}"' not in form
    assert "Other Realty" not in page.text


def test_customer_saves_its_details_and_they_are_what_the_next_invoice_takes(
    client: TestClient, world: PortalWorld, settings: None, sessions: sessionmaker[Session]
) -> None:
    token = sign_in(client, "ana@acme.test")
    saved = client.post("/portal/billing-details", data={**GERMAN, "csrf_token": token})
    assert saved.status_code == 303, saved.text
    stored = _details(sessions)
    assert stored is not None
    assert (stored.legal_name, stored.country, stored.tax_id, stored.address_line2) == (
        "Acme Realty GmbH",
        "DE",
        "DE136695976",
        None,
    )
    page = client.get("/portal/billing-details").text
    assert "Billing details saved." in page
    assert _figure(page, "tax_id") == "DE136695976"
    assert _figure(page, "purchase_order") == "PO-2026-118"
    assert 'value="Hauptstraße 1"' in page and '<option value="DE" selected>' in page
    with sessions() as session:
        billing = account_billing(session, get_account(session, "acme").id)
    assert billing.customer["legal_name"] == "Acme Realty GmbH"
    assert billing.parties.customer_tax_id == "DE136695976"


def test_a_bad_vat_id_shows_the_form_again_with_the_reason_beside_the_field(
    client: TestClient, world: PortalWorld, settings: None, sessions: sessionmaker[Session]
) -> None:
    token = sign_in(client, "ana@acme.test")
    refused = client.post(
        "/portal/billing-details",
        data={**GERMAN, "tax_id": "DE136695977", "csrf_token": token},
    )
    assert refused.status_code == 422
    assert "check digit" in _field_error(refused.text, "tax_id")
    assert re.search(r'id="f-tax_id"[^>]*value="DE136695977"', refused.text, re.S)
    assert re.search(r'id="f-tax_id"[^>]*aria-invalid="true"', refused.text, re.S)
    # Everything typed is kept, and the page is the form, not a dead end.
    assert 'value="Acme Realty GmbH"' in refused.text and 'value="PO-2026-118"' in refused.text
    assert '<option value="DE" selected>' in refused.text
    assert 'href="#f-tax_id"' in refused.text  # the summary above the form points to it
    assert _details(sessions) is None
    region = client.post(
        "/portal/billing-details",
        data={**GERMAN, "region": "US-NY", "csrf_token": token},
    )
    assert region.status_code == 422
    assert _field_error(region.text, "region") == "US-NY is not a region of DE"
    assert _details(sessions) is None


def test_customer_cannot_set_what_staff_set_nor_post_without_the_token(
    client: TestClient, world: PortalWorld, settings: None, sessions: sessionmaker[Session]
) -> None:
    token = sign_in(client, "ana@acme.test")
    crafted = {
        **GERMAN,
        "billing_entity": "nordic",
        "payment_terms_days": "90",
        "tax_exemption": "none of your business",
        "csrf_token": token,
    }
    assert client.post("/portal/billing-details", data=crafted).status_code == 303
    stored = _details(sessions)
    assert stored is not None
    assert (stored.billing_entity_id, stored.payment_terms_days, stored.tax_exemption) == (
        None,
        None,
        None,
    )
    for forged in ({}, {"csrf_token": "forged"}):
        response = client.post("/portal/billing-details", data={**GERMAN, "city": "X", **forged})
        assert response.status_code == 403 and "This form has expired" in response.text
    assert _details(sessions).city == "Berlin"  # type: ignore[union-attr]
    # The staff page of its own account is a staff page.
    assert client.get("/portal/staff/accounts/acme/billing-details").status_code == 403


def test_staff_set_the_entity_terms_and_exemption_from_the_account_page(
    client: TestClient, world: PortalWorld, settings: None, sessions: sessionmaker[Session]
) -> None:
    token = sign_in(client, "bill@operator.test")
    account_page = client.get("/portal/staff/accounts/acme").text
    assert ">Edit billing details, entity and terms</a>" in account_page
    assert _figure(account_page, "issuer") == "Leadbill Demo Inc., US"
    assert client.get("/portal/billing-details").status_code == 403  # a customer page
    page = client.get("/portal/staff/accounts/acme/billing-details")
    assert page.status_code == 200
    assert '<option value="nordic">Lead Data Nordic AB (nordic)</option>' in page.text
    form = {
        **GERMAN,
        "billing_entity": "nordic",
        "payment_terms_days": "45",
        "tax_exemption": "",
        "csrf_token": token,
    }
    bad_terms = client.post(
        "/portal/staff/accounts/acme/billing-details", data={**form, "payment_terms_days": "45d"}
    )
    assert bad_terms.status_code == 422
    assert "whole number" in _field_error(bad_terms.text, "payment_terms_days")
    assert '<option value="nordic" selected>' in bad_terms.text
    assert _details(sessions) is None
    saved = client.post("/portal/staff/accounts/acme/billing-details", data=form)
    assert saved.status_code == 303
    account_page = client.get("/portal/staff/accounts/acme").text
    assert _figure(account_page, "issuer") == "Lead Data Nordic AB, SE"
    assert _figure(account_page, "terms_days") == "45 days after the invoice date"
    with sessions() as session:
        billing = account_billing(session, get_account(session, "acme").id)
    assert (billing.invoice_prefix, billing.terms_days) == ("SE-", 45)
    # Back to the default entity and its terms.
    client.post(
        "/portal/staff/accounts/acme/billing-details",
        data={**form, "billing_entity": "", "payment_terms_days": ""},
    )
    with sessions() as session:
        billing = account_billing(session, get_account(session, "acme").id)
    assert (billing.invoice_prefix, billing.terms_days) == ("INV-", 15)


def test_viewers_read_an_accounts_billing_details_without_a_form(
    client: TestClient, world: PortalWorld, settings: None
) -> None:
    token = sign_in(client, "vic@operator.test")
    page = client.get("/portal/staff/accounts/acme/billing-details")
    assert page.status_code == 200 and "On its invoices" in page.text
    assert 'id="billing-details"' not in page.text
    refused = client.post(
        "/portal/staff/accounts/acme/billing-details",
        data={**GERMAN, "csrf_token": token},
    )
    assert refused.status_code == 403
