"""Billing settings for the portal's worlds: two billing entities and a tax rate.

Shared by the HTTP tests (tests/portal) and the browser tests (tests/browser).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session, sessionmaker

from leadbill.entities.service import EntityFields, create_entity
from leadbill.taxes.service import create_rate
from tests.portal.world import START

US = EntityFields(
    legal_name="Leadbill Demo Inc.",
    address_line1="1 Main St",
    city="Denver",
    postal_code="80202",
    region="US-CO",
    country="US",
    tax_id="12-3456789",
)
NORDIC = EntityFields(
    legal_name="Lead Data Nordic AB",
    address_line1="Sveavägen 44",
    city="Stockholm",
    postal_code="111 34",
    country="SE",
    tax_id="SE556036079301",
    invoice_prefix="SE-",
    credit_note_prefix="SECN-",
    payment_terms_days=30,
    default_currency="EUR",
)


def add_billing_settings(sessions: sessionmaker[Session]) -> int:
    """The US operator (the default entity), its Swedish company, and Sweden's 25 %;
    returns the rate's id."""
    with sessions() as session, session.begin():
        create_entity(session, code="us", fields=US, as_of=START)
        create_entity(session, code="nordic", fields=NORDIC, as_of=START)
        return create_rate(
            session,
            name="Moms 25%",
            rate="25",
            country="SE",
            region=None,
            valid_from=date(2020, 1, 1),
            valid_to=None,
            as_of=START,
        ).id
