"""Billing entities: a change is checked whole before anything of it is kept."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from leadbill.entities.models import BillingEntity
from leadbill.entities.service import EntityFields, create_entity, get_entity, update_entity
from leadbill.errors import Conflict, InvalidInput
from tests.conftest import utc

START = utc(2026, 10, 1)
US = EntityFields(
    legal_name="Leadbill Demo Inc.",
    address_line1="1 Main St",
    city="Denver",
    region="US-CO",
    country="US",
    tax_id="12-3456789",
)
NORDIC = EntityFields(
    legal_name="Lead Data Nordic AB",
    address_line1="Sveavägen 44",
    city="Stockholm",
    country="SE",
    invoice_prefix="SE-",
    credit_note_prefix="SECN-",
)


@pytest.fixture
def entities(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        create_entity(session, code="us", fields=US, as_of=START)
        create_entity(session, code="nordic", fields=NORDIC, as_of=START)


def _stored(sessions: sessionmaker[Session], code: str) -> BillingEntity:
    with sessions() as session:
        entity = get_entity(session, code)
        session.expunge(entity)
        return entity


def test_a_refused_change_leaves_the_entity_as_it_was(
    sessions: sessionmaker[Session], entities: None
) -> None:
    with sessions.begin() as session:
        with pytest.raises(InvalidInput) as error:
            update_entity(session, "us", EntityFields(legal_name="Renamed", country="ZZ"), START)
        assert error.value.field == "country"
        # The caller may go on in the same transaction (a page shows the form again).
        assert get_entity(session, "us").legal_name == "Leadbill Demo Inc."
    assert _stored(sessions, "us").legal_name == "Leadbill Demo Inc."


def test_a_new_country_rechecks_the_region_and_the_tax_id(
    sessions: sessionmaker[Session], entities: None
) -> None:
    with sessions.begin() as session, pytest.raises(InvalidInput) as error:
        update_entity(session, "us", EntityFields(country="DE"), START)
    assert (error.value.field, error.value.reason) == ("region", "US-CO is not a region of DE")
    with sessions.begin() as session, pytest.raises(InvalidInput) as error:
        update_entity(session, "us", EntityFields(country="DE", region=""), START)
    assert error.value.field == "tax_id"
    with sessions.begin() as session:
        update_entity(
            session, "us", EntityFields(country="DE", region="", tax_id="DE136695976"), START
        )
    moved = _stored(sessions, "us")
    assert (moved.country, moved.region, moved.tax_id) == ("DE", None, "DE136695976")


def test_a_taken_prefix_is_a_conflict_not_a_database_error(
    sessions: sessionmaker[Session], entities: None
) -> None:
    with sessions.begin() as session, pytest.raises(Conflict, match="already used by"):
        update_entity(session, "nordic", EntityFields(invoice_prefix="inv-"), START)
    assert _stored(sessions, "nordic").invoice_prefix == "SE-"


def test_errors_name_the_field_as_given_and_codes_are_found_in_any_case(
    sessions: sessionmaker[Session], entities: None
) -> None:
    with sessions.begin() as session, pytest.raises(InvalidInput) as error:
        update_entity(session, "nordic", EntityFields(default_currency="EURO"), START)
    assert error.value.field == "default_currency"
    with sessions() as session:
        assert get_entity(session, " Nordic ").code == "nordic"
