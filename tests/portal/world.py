"""Test data of the portal: two subscribed accounts with called leads, and users.

Shared by the HTTP tests (tests/portal) and the browser tests (tests/browser).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from leadbill.accounts.service import create_account
from leadbill.billing.invoices import list_invoices
from leadbill.billing.service import run_billing
from leadbill.leads.service import ingest_events
from leadbill.plans.service import create_plan
from leadbill.portal.users import create_user
from leadbill.seats.service import create_seat
from leadbill.subscriptions.service import create_subscription
from tests.conftest import utc

START = utc(2026, 1, 1)
# The portal's pinned clock: leads received in the last days are still open to review (R13).
AS_OF = utc(2026, 1, 20, 15)
PASSWORD = "correct horse battery"
CALLED_LEADS = 7  # per account; the plan includes 5, so 2 are overage at 10.00


@dataclass(frozen=True)
class PortalWorld:
    """E-mails of the users and the invoice numbers of each account."""

    invoices: dict[str, list[str]]
    users: dict[str, str]  # name -> e-mail


def _leads(session: Session, code: str) -> None:
    rows = []
    for n in range(CALLED_LEADS + 1):
        received = AS_OF - timedelta(days=5, hours=n)
        kinds = ["received", "call_answered", "recording_available"]
        if n == CALLED_LEADS:  # one lead never called: it does not count (R2)
            kinds = ["received"]
        for m, kind in enumerate(kinds):
            rows.append(
                {
                    "idempotency_key": f"{code}-L{n}-{kind}",
                    "account": code,
                    "lead_id": f"{code.upper()}-{n:03d}",
                    "event_type": kind,
                    "occurred_at": (received + timedelta(minutes=m)).isoformat(),
                    "seat": f"{code}-seat",
                    "name": f"Lead {n}",
                    "phone": f"+1303555{n:04d}",
                }
            )
    assert ingest_events(session, rows, as_of=AS_OF).rejected == 0


def build_world(sessions: sessionmaker[Session]) -> PortalWorld:
    """Plan, accounts acme and other with a seat and leads, and one user per role."""
    with sessions() as session, session.begin():
        plan = create_plan(
            session,
            code="pkg-5",
            name="Package 5",
            currency="USD",
            interval="month",
            fee="500.00",
            included_leads=5,
            per_lead_rate="10.00",
            seat_fee="57.00",
            counting_policy="called",
            as_of=START,
        )
        invoices: dict[str, list[str]] = {}
        for code in ("acme", "other"):
            account = create_account(
                session,
                code=code,
                name=f"{code.title()} Realty",
                currency="USD",
                time_zone="UTC",
                billing_email=f"billing@{code}.test",
                as_of=START,
            )
            create_subscription(session, account=account, plan=plan, start=START)
            create_seat(
                session,
                account=account,
                code=f"{code}-seat",
                primary_name="Pat Primary",
                primary_email=f"pat@{code}.test",
                as_of=utc(2026, 1, 2),
            )
            _leads(session, code)
            invoices[code] = [
                i.number for i in list_invoices(session, account_id=account.id) if i.number
            ]
        users = {
            "acme": "ana@acme.test",
            "other": "oli@other.test",
            "reviewer": "rosa@operator.test",
            "viewer": "vic@operator.test",
        }
        for name, email in users.items():
            create_user(
                session,
                email=email,
                password=PASSWORD,
                role=name if name in ("reviewer", "viewer") else "customer",
                account_code=name if name in ("acme", "other") else None,
                as_of=START,
            )
    return PortalWorld(invoices=invoices, users=users)


def build_pay_per_lead(sessions: sessionmaker[Session], name: str = "Pipe Pros") -> None:
    """A contractor paying 40.00 per lead, with three answered, recorded calls in January.

    `name` is the account's name (its code is `pipe` whatever the name).
    """
    with sessions() as session, session.begin():
        plan = create_plan(
            session,
            code="ppl",
            name="Per lead",
            currency="USD",
            interval="month",
            fee="0",
            included_leads=0,
            per_lead_rate="40.00",
            counting_policy="received_unless_excluded",
            as_of=START,
        )
        account = create_account(
            session,
            code="pipe",
            name=name,
            currency="USD",
            time_zone="UTC",
            billing_email="billing@pipe.test",
            as_of=START,
        )
        create_subscription(session, account=account, plan=plan, start=START)
        rows = []
        for n in range(3):
            received = utc(2026, 1, 30, 12 + n)
            for m, kind in enumerate(("received", "call_answered", "recording_available")):
                rows.append(
                    {
                        "idempotency_key": f"p{n}-{kind}",
                        "account": "pipe",
                        "lead_id": f"PIPE-{n}",
                        "event_type": kind,
                        "occurred_at": (received + timedelta(minutes=m)).isoformat(),
                        "phone": f"+1312555010{n}",
                    }
                )
        assert ingest_events(session, rows, as_of=utc(2026, 1, 31)).rejected == 0
        for email, role, code in (
            ("dana@pipe.test", "customer", "pipe"),
            ("qa@op.test", "reviewer", None),
        ):
            create_user(
                session, email=email, password=PASSWORD, role=role, account_code=code, as_of=START
            )
    run_billing(sessions, utc(2026, 2, 1, 1))  # January's leads are invoiced


def add_february_lead(sessions: sessionmaker[Session]) -> None:
    """One lead received in February by the pay-per-lead contractor."""
    with sessions() as session, session.begin():
        lead = {
            "idempotency_key": "feb-received",
            "account": "pipe",
            "lead_id": "PIPE-FEB",
            "event_type": "received",
            "occurred_at": utc(2026, 2, 10).isoformat(),
            "phone": "+13125550199",
        }
        assert ingest_events(session, [lead], as_of=utc(2026, 2, 10)).rejected == 0


def csrf_of(html: str) -> str:
    """The CSRF token of the first form of a page."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no CSRF token"
    return found.group(1)


def when(value: datetime) -> str:
    """An instant as the pages print it in UTC."""
    return f"{value:%Y-%m-%d %H:%M}"
