"""GET /v1/worker-jobs: each job's last run, outcome and next run, for admin and billing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from leadbill.api import create_app
from leadbill.auth.service import Role, create_key
from tests.conftest import utc
from tests.worker_world import run_jobs

AT = utc(2026, 3, 1, 9)


@pytest.fixture
def keys(sessions: sessionmaker[Session]) -> dict[str, str]:
    """One staff key per role, and the job table after a worker's two rounds."""
    with sessions.begin() as session:
        made = {
            role.value: create_key(session, role=role.value, as_of=AT)[1]
            for role in (Role.ADMIN, Role.BILLING, Role.REVIEWER, Role.VIEWER)
        }
    run_jobs(sessions, AT)
    return made


@pytest.fixture
def client(sessions: sessionmaker[Session]) -> Iterator[TestClient]:
    """A client of the app on the test database."""
    with TestClient(create_app(sessions), raise_server_exceptions=False) as client:
        yield client


def test_staff_billing_and_admin_read_each_jobs_last_run(
    client: TestClient, keys: dict[str, str]
) -> None:
    for role in ("admin", "billing"):
        response = client.get("/v1/worker-jobs", headers={"Authorization": f"Bearer {keys[role]}"})
        assert response.status_code == 200, response.text
        billing, export = response.json()["data"]
        assert billing["name"] == "billing" and billing["last_outcome"] == "ok"
        assert billing["last_summary"] == "0 invoices issued" and billing["runs"] == 1
        assert billing["last_started_at"] == "2026-03-01T09:00:00Z"
        assert billing["next_run_at"] == "2026-03-01T09:05:00Z"
        assert billing["last_worker"] == "host-a:41" and billing["held_by"] is None
        assert billing["interval_seconds"] == 300 and billing["last_duration_ms"] == 0
        assert export["name"] == "export" and export["last_outcome"] == "failed"
        assert export["last_error"] == "ConnectionError: export target refused the connection"
        assert (export["failures"], export["runs"]) == (2, 2)
        assert export["next_run_at"] == "2026-03-01T09:01:30Z"  # 30 s later, then 60 s
        # The app's clock is the wall clock, long after these instants: both are due.
        assert {billing["state"], export["state"]} == {"due"}


def test_other_roles_and_no_key_get_problems(client: TestClient, keys: dict[str, str]) -> None:
    for role in ("reviewer", "viewer"):
        response = client.get("/v1/worker-jobs", headers={"Authorization": f"Bearer {keys[role]}"})
        assert response.status_code == 403
        assert response.headers["content-type"] == "application/problem+json"
    anonymous = client.get("/v1/worker-jobs")
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"
