"""Text a spreadsheet would run as a formula, planted where each CSV export reads it.

The tests of every export (portal, CLI) write these values into stored rows and
read the file back with the csv module: each must come back neutralised, a
single quote before it (OWASP, CSV injection), and the numbers as numbers.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from leadbill.accounts.service import get_account
from leadbill.leads.models import Lead
from leadbill.leads.service import ingest_events
from leadbill.plans.models import Plan

# OWASP's list, written out here rather than imported: it is what the code must meet.
PREFIXES = ("=", "+", "-", "@", "\t", "\r")
PREFIX_NAMES = ("equals", "plus", "minus", "at", "tab", "carriage_return")


def formula(prefix: str) -> str:
    """A formula that starts with `prefix`; its quotes and comma make the csv module quote it."""
    return f'{prefix}HYPERLINK("//e.test","x")'


def neutralised(text: str) -> str:
    """`text` as an export must write it."""
    return "'" + text


def plant_lead(
    session: Session, account: str, seat: str, prefix: str, received_at: datetime
) -> None:
    """A lead received and called once, whose id, name, phone, e-mail and source are `formula`.

    Ingestion trims a leading tab or carriage return, so the values are written to
    the stored lead: an export must not depend on how a value came to be stored.
    """
    key = f"planted-{PREFIXES.index(prefix)}"
    rows = [
        {
            "idempotency_key": f"{key}-{event_type}",
            "account": account,
            "lead_id": key,
            "event_type": event_type,
            "occurred_at": received_at.isoformat(),
            "seat": seat,
            "call_result": "no_answer" if event_type == "call_attempted" else "",
        }
        for event_type in ("received", "call_attempted")
    ]
    assert ingest_events(session, rows, as_of=received_at).rejected == 0
    text = formula(prefix)
    session.execute(
        update(Lead)
        .where(Lead.account_id == get_account(session, account).id, Lead.external_id == key)
        .values(external_id=text, name=text, phone=text, email=text, source=text)
    )


def plant_plan_name(session: Session, plan: Plan, prefix: str) -> None:
    """Name the plan `formula(prefix)`, which its fee lines and the summary repeat.

    Written to the stored plan: the plan service trims a leading tab or carriage return.
    """
    session.execute(update(Plan).where(Plan.id == plan.id).values(name=formula(prefix)))
    session.expire(plan)
