"""No input, however bad, produces a 500: schemathesis over every operation of the
OpenAPI document, against the real app on a seeded database (SQLite and PostgreSQL).

The database holds the `world` of tests/api/conftest.py (two subscribed accounts with
seats and invoices); requests carry the admin key, so authenticated paths run past
authentication into the endpoints and services. Requests are generated both valid
and invalid (schemathesis' positive and negative modes: wrong types, out-of-range
numbers, odd strings, missing or extra fields). Each operation gets a modest number
(LEADBILL_SCHEMATHESIS_EXAMPLES, default 15) to keep `make test` short; raise it to
search harder (100 per operation on both databases took about 10 minutes and found
nothing). Checks: no 5xx, and every response has a documented media type and matches
its documented schema.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.python.asgi import ASGIClient
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)
from sqlalchemy.orm import Session, sessionmaker

from leadbill.api import create_app, openapi_document
from tests.api.conftest import World

EXAMPLES = int(os.environ.get("LEADBILL_SCHEMATHESIS_EXAMPLES", "15"))

schema = schemathesis.openapi.from_dict(openapi_document())


@pytest.fixture
def seeded_client(sessions: sessionmaker[Session], world: World) -> Iterator[ASGIClient]:
    """One in-process client of the app on the seeded database, with the admin key."""
    with ASGIClient(create_app(sessions)) as client:
        client.headers["Authorization"] = f"Bearer {world.keys['admin']}"
        yield client


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_no_input_gives_a_server_error(case: schemathesis.Case, seeded_client: ASGIClient) -> None:
    case.call_and_validate(
        session=seeded_client,
        checks=[not_a_server_error, content_type_conformance, response_schema_conformance],
    )
