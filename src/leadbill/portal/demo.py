"""Portal users of the demo data, and how to open the portal on it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from leadbill.password_links.service import invite_customer
from leadbill.portal.users import create_user
from leadbill.reviews.demo import CUSTOMER as CONTRACTOR_LOGIN
from leadbill.reviews.demo import DISPUTABLE

# The portal shows the demo as of an evening in November, the period in progress
# (October and before are invoiced): usage so far, thresholds, the call report.
DEMO_PORTAL_AS_OF = "2026-11-22T23:00:00Z"
# (e-mail, password, role, account): customers of a package, of a licence plan and of
# pay per lead (the contractor, who disputes leads), a reviewer, and an admin who may
# also run billing, record payments and redeliver webhooks.
DEMO_USERS = (
    ("broker@summit-realty.example", "summit-demo-2026", "customer", "summit-realty"),
    ("lead@acme-sales.example", "acme-demo-2026", "customer", "acme-sales"),
    ("dana@pipe-pros.example", "pipes-demo-2026", "customer", "pipe-pros"),
    ("qa@operator.example", "operator-demo-2026", "reviewer", None),
    ("admin@operator.example", "admin-demo-2026", "admin", None),
)
# A customer user invited by e-mail, who has not chosen a password yet: its invitation
# waits in the outbox (`leadbill mail list --kind portal.invitation`, then `mail show`).
DEMO_INVITED = ("gina@grow-gina.example", "grow-gina")
DEMO_ENV = f"LEADBILL_PORTAL_SECURE_COOKIES=false LEADBILL_PORTAL_AS_OF={DEMO_PORTAL_AS_OF}"


def create_demo_users(session: Session, as_of: datetime) -> None:
    """The demo's portal users (customers of summit-realty, acme-sales and pipe-pros, staff)."""
    for email, password, role, account in DEMO_USERS:
        create_user(
            session, email=email, password=password, role=role, account_code=account, as_of=as_of
        )
    invite_customer(session, email=DEMO_INVITED[0], account_code=DEMO_INVITED[1], as_of=as_of)


def portal_instructions() -> str:
    """What the demo prints about the portal: the command and the logins."""
    lines = [
        "Portal (server-rendered pages for customers and staff):",
        f"  {DEMO_ENV} .venv/bin/leadbill serve",
        "  then open http://127.0.0.1:8000/portal/ and sign in as",
    ]
    for email, password, role, account in DEMO_USERS:
        who = f"customer of {account}" if account else f"staff, {role}"
        lines.append(f"    {email}  password {password}  ({who})")
    lines.append(
        f"  {DEMO_INVITED[0]} (customer of {DEMO_INVITED[1]}) is invited and has no password yet;"
        " its invitation: leadbill mail list --kind portal.invitation, then leadbill mail show ID"
    )
    lines.append(
        f"  As {CONTRACTOR_LOGIN}, lead {DISPUTABLE} (Call report) may be submitted for review:"
    )
    lines.append("  qa@operator.example then asks, approves or rejects it in the review queue.")
    return "\n".join(lines)
