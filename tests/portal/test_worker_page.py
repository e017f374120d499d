"""The staff page of the worker's jobs over HTTP: admin and billing read it, others may not."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from leadbill.portal.users import create_user
from tests.portal.conftest import portal_client, sign_in
from tests.portal.world import AS_OF, PASSWORD, START
from tests.worker_world import run_jobs

USERS = {"admin": "ada@operator.test", "billing": "bill@operator.test", "viewer": "vic@op.test"}


def test_the_worker_page_shows_each_jobs_last_run_and_next_run(
    sessions: sessionmaker[Session], database_url: str
) -> None:
    with sessions.begin() as session:
        for role, email in USERS.items():
            create_user(session, email=email, password=PASSWORD, role=role, as_of=START)
    run_jobs(sessions, AS_OF)  # the portal's clock: 2026-01-20 15:00 UTC
    for role in ("admin", "billing"):
        with portal_client(sessions, database_url) as client:
            sign_in(client, USERS[role])
            page = client.get("/portal/staff/worker")
            assert page.status_code == 200
            html = page.text
            assert 'href="/portal/staff/worker" aria-current="page"' in html
            billing = html.split('id="job-billing"')[1].split("</tr>")[0]
            assert "5 min" in billing and "host-a:41" in billing
            assert "ok" in billing and "0 invoices issued" in billing
            export = html.split('id="job-export"')[1].split("</tr>")[0]
            assert "failed" in export and "(2 in a row)" in export
            assert "ConnectionError: export target refused the connection" in export
            # The portal's clock is AS_OF: billing runs next five minutes later; export due.
            assert "due now" not in billing and "due now" not in export
    with portal_client(sessions, database_url) as client:
        sign_in(client, USERS["viewer"])
        assert client.get("/portal/staff/worker").status_code == 403
        assert 'href="/portal/staff/worker"' not in client.get("/portal/staff/accounts").text
