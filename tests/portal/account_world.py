"""Test data of the seats, licences and plan pages.

- `team`: a sales team on an annual licence plan (1200.00 per licence, self-serve
  cap 5) with 3 licences from 2026-01-01; on 2026-07-02 00:00 UTC 183/365 of its
  year is left, so 2 more licences cost 2 x 1200.00 x 183/365 = 1203.29 (R20).
- `agent`: an agent on pkg-100 of the `agent` ladder (pkg-50, pkg-100, pkg-200) from
  2026-03-01; March (190 called leads) is invoiced, and on 2026-04-11 00:00 UTC 2/3 of
  April is left: an upgrade to pkg-200 costs (1800.00 - 1000.00) x 2/3 = 533.33 with
  133 leads included to the period end (docs/plan-changes.md).

Shared by the HTTP tests (tests/portal) and the browser tests (tests/browser).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from leadbill.accounts.service import create_account
from leadbill.api import create_app
from leadbill.billing.service import run_billing
from leadbill.leads.service import ingest_events
from leadbill.plans.service import create_plan
from leadbill.portal.users import create_user
from leadbill.seats.service import create_seat
from leadbill.settings import Settings
from leadbill.subscriptions.service import create_subscription
from tests.conftest import utc
from tests.portal.world import PASSWORD

TEAM_START = utc(2026, 1, 1)
TEAM_AS_OF = utc(2026, 7, 2)  # 183 of the year's 365 days are left
TEAM_USER = "tia@team.test"
TEAM_CAP = 5

AGENT_START = utc(2026, 3, 1)
AGENT_AS_OF = utc(2026, 4, 11)  # 20 of April's 30 days are left: 2/3
AGENT_USER = "gus@agent.test"
MARCH_LEADS = 190


def build_team(sessions: sessionmaker[Session], *, licences: int = 3) -> None:
    """The `team` account on an annual licence plan with a self-serve cap of 5."""
    with sessions() as session, session.begin():
        plan = create_plan(
            session,
            code="team-annual",
            name="Team (annual)",
            currency="USD",
            interval="year",
            fee="0",
            included_leads=0,
            per_lead_rate="0",
            counting_policy="none",
            licence_price="1200.00",
            licence_cap=TEAM_CAP,
            as_of=TEAM_START,
        )
        account = create_account(
            session,
            code="team",
            name="Team Sales",
            currency="USD",
            time_zone="UTC",
            billing_email="billing@team.test",
            as_of=TEAM_START,
        )
        create_subscription(
            session, account=account, plan=plan, start=TEAM_START, licences=licences
        )
        create_user(
            session,
            email=TEAM_USER,
            password=PASSWORD,
            role="customer",
            account_code="team",
            as_of=TEAM_START,
        )


def build_agent(sessions: sessionmaker[Session]) -> None:
    """The `agent` account on pkg-100 of a three-plan ladder, March used and invoiced."""
    with sessions() as session, session.begin():
        plans = {}
        for code, fee, included, rate in (
            ("pkg-50", "500.00", 50, "12.00"),
            ("pkg-100", "1000.00", 100, "9.50"),
            ("pkg-200", "1800.00", 200, "8.00"),
        ):
            plans[code] = create_plan(
                session,
                code=code,
                name=f"Package {included}",
                currency="USD",
                interval="month",
                fee=fee,
                included_leads=included,
                per_lead_rate=rate,
                seat_fee="57.00",
                counting_policy="called",
                ladder="agent",
                as_of=AGENT_START,
            )
        account = create_account(
            session,
            code="agent",
            name="Gus Agent",
            currency="USD",
            time_zone="UTC",
            billing_email="billing@agent.test",
            as_of=AGENT_START,
        )
        create_subscription(session, account=account, plan=plans["pkg-100"], start=AGENT_START)
        create_seat(
            session,
            account=account,
            code="main",
            primary_name="Gus Agent",
            primary_email="gus@agent.test",
            backup_name="Bea Backup",
            backup_email="bea@agent.test",
            as_of=AGENT_START,
        )
        rows = []
        for n in range(MARCH_LEADS):
            received = AGENT_START + timedelta(days=2, minutes=90 * n)
            for m, kind in enumerate(("received", "call_answered")):
                rows.append(
                    {
                        "idempotency_key": f"agent-{n}-{kind}",
                        "account": "agent",
                        "lead_id": f"AG-{n:03d}",
                        "event_type": kind,
                        "occurred_at": (received + timedelta(minutes=m)).isoformat(),
                        "seat": "main",
                    }
                )
        assert ingest_events(session, rows, as_of=utc(2026, 3, 31)).rejected == 0
        create_user(
            session,
            email=AGENT_USER,
            password=PASSWORD,
            role="customer",
            account_code="agent",
            as_of=AGENT_START,
        )
    run_billing(sessions, utc(2026, 4, 1, 1))  # March's overage and April's fee


@contextmanager
def portal_client(
    sessions: sessionmaker[Session], database_url: str, clock: list[datetime]
) -> Iterator[TestClient]:
    """A browser-like client over https whose portal clock is `clock[0]`."""
    app = create_app(sessions)
    app.state.portal_clock = lambda: clock[0]
    app.state.portal_settings = Settings(database_url=database_url)
    with TestClient(
        app, base_url="https://testserver", raise_server_exceptions=False, follow_redirects=False
    ) as client:
        yield client
