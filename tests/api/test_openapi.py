"""The committed docs/openapi.json is the document the app serves (regenerate: make openapi)."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient

from leadbill.api import create_app, openapi_document

COMMITTED = Path(__file__).parents[2] / "docs" / "openapi.json"


def test_committed_openapi_matches_the_app() -> None:
    committed = json.loads(COMMITTED.read_text(encoding="utf-8"))
    assert committed == openapi_document(), "docs/openapi.json is stale: run `make openapi`"


def test_openapi_is_served_without_a_key() -> None:
    with TestClient(create_app()) as client:
        response = client.get("/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/v1/lead-events" in paths and "/v1/invoices/{number}" in paths


def test_every_operation_documents_problem_responses() -> None:
    for path, operations in openapi_document()["paths"].items():
        for method, operation in operations.items():
            assert "422" in operation["responses"], f"{method} {path}"
            assert "application/problem+json" in operation["responses"]["404"]["content"]
