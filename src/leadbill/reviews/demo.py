"""The demo's contractor (seed 002): pay per lead, and the leads it disputes.

`pipe-pros`, a plumbing contractor in Chicago, pays per lead (plumbing 45.00,
water heaters 65.00) and disputes four leads in the autumn of 2026:

- one approved before its period is invoiced: it simply drops out of October;
- one approved after September was invoiced: a credit note, applied as a
  negative line on the invoice of November 1;
- one rejected, after the reviewer asked for more and the customer replied;
- one refused at once: the call was missed, so it is not eligible;

and one more is still open at the end, overdue in the queue. In November, the
period in progress on the portal's evening, `pp-202611-leak` is one its customer
login can still dispute (`november_events`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from rich.table import Table
from sqlalchemy.orm import Session, sessionmaker

from leadbill.accounts.service import create_account
from leadbill.console import bold, out
from leadbill.core.money import format_money
from leadbill.credit_notes.service import get_credit_note, list_credit_notes
from leadbill.errors import LeadbillError
from leadbill.plans.service import create_plan
from leadbill.reviews.calendar import review_config
from leadbill.reviews.flows import decide_review
from leadbill.reviews.service import reply_to_review, review_queue, submit_review
from leadbill.subscriptions.service import create_subscription

CODE = "pipe-pros"
ZONE = "America/Chicago"
CUSTOMER = "dana@pipe-pros.example"
REVIEWER = "qa-rosa"


def _iso(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _utc(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


@dataclass(frozen=True)
class Dispute:
    """One lead the contractor disputes, and what happens to it."""

    lead_id: str
    received: datetime
    category: str
    answered: bool
    reason: str
    explanation: str


DISPUTES = (
    Dispute(
        "pp-dispute-before",
        _utc(2026, 10, 20, 15),
        "plumbing",
        True,
        "job_seeker",
        "The caller asked whether we are hiring apprentices; no plumbing job at all.",
    ),
    Dispute(
        "pp-dispute-after",
        _utc(2026, 9, 29, 16),
        "water_heater",
        True,
        "service_not_offered",
        "Caller wanted a gas line to a new stove; we do not do gas fitting, only water.",
    ),
    Dispute(
        "pp-dispute-rejected",
        _utc(2026, 10, 12, 17),
        "plumbing",
        True,
        "previous_customer",
        "We fixed this caller's sink last spring, she is an existing customer of ours.",
    ),
    Dispute(
        "pp-dispute-missed",
        _utc(2026, 10, 18, 14),
        "plumbing",
        False,
        "wrong_number",
        "Nobody answered this call and we think it was a wrong number anyway.",
    ),
    Dispute(
        "pp-dispute-open",
        _utc(2026, 10, 26, 15),
        "plumbing",
        True,
        "solicitor",
        "A marketing agency trying to sell us search ads, not a customer with a leak.",
    ),
)


def load_contractor(session: Session, catalogue_at: datetime, start_month: tuple[int, int]) -> None:
    """The pay-per-lead plan and the contractor on it from the first demo month."""
    plan = create_plan(
        session,
        code="home-ppl",
        name="Home services pay per lead",
        currency="USD",
        interval="month",
        fee="0",
        included_leads=0,
        per_lead_rate="45.00",
        counting_policy="received_unless_excluded",
        category_prices={"plumbing": "45.00", "water_heater": "65.00"},
        as_of=catalogue_at,
    )
    account = create_account(
        session,
        code=CODE,
        name="Pipe Pros Plumbing, contractor",
        currency="USD",
        time_zone=ZONE,
        billing_email=f"billing@{CODE}.example",
        as_of=catalogue_at,
    )
    year, month = start_month
    start = datetime(year, month, 1, tzinfo=ZoneInfo(ZONE)).astimezone(UTC)
    create_subscription(session, account=account, plan=plan, start=start)


def _lead_rows(
    lead_id: str, received: datetime, category: str, answered: bool, phone: str
) -> list[dict[str, str]]:
    rows = [
        {
            "idempotency_key": f"{lead_id}-received",
            "account": CODE,
            "lead_id": lead_id,
            "event_type": "received",
            "occurred_at": _iso(received),
            "phone": phone,
            "source": "phone",
            "category": category,
        }
    ]
    call = received + timedelta(seconds=20)
    rows.append(
        {
            "idempotency_key": f"{lead_id}-call",
            "account": CODE,
            "lead_id": lead_id,
            "event_type": "call_answered" if answered else "call_missed",
            "occurred_at": _iso(call),
            "call_result": "answered" if answered else "no_answer",
            "duration_seconds": "240" if answered else "0",
        }
    )
    if answered:
        rows.append(
            {
                "idempotency_key": f"{lead_id}-recording",
                "account": CODE,
                "lead_id": lead_id,
                "event_type": "recording_available",
                "occurred_at": _iso(call + timedelta(minutes=5)),
            }
        )
    return rows


def contractor_events(months: list[tuple[int, int]]) -> list[dict[str, str]]:
    """About 20 calls a month (one in five about water heaters), and the disputed leads."""
    rng = random.Random(20260902)
    rows: list[dict[str, str]] = []
    number = 0
    for year, month in months:
        start = datetime(year, month, 1, tzinfo=ZoneInfo(ZONE)).astimezone(UTC)
        for n in range(20 + rng.randint(-3, 3)):
            number += 1
            received = start + timedelta(days=rng.uniform(0, 27), hours=rng.uniform(0, 10))
            category = "water_heater" if rng.random() < 0.2 else "plumbing"
            answered = rng.random() < 0.85
            rows += _lead_rows(
                f"pp-{year}{month:02d}-{n:03d}",
                received,
                category,
                answered,
                f"+1312555{number:04d}",
            )
    for offset, dispute in enumerate(DISPUTES):
        rows += _lead_rows(
            dispute.lead_id,
            dispute.received,
            dispute.category,
            dispute.answered,
            f"+1773555{offset:04d}",
        )
    return rows


# November so far (the portal's period in progress): leads the contractor's login
# (dana@pipe-pros.example) finds in its call report on the portal's evening of
# November 22, one it may dispute and three that R13 refuses, each saying why.
DISPUTABLE = "pp-202611-leak"
NOVEMBER = (
    # lead id, received, category, answered (and recorded)
    (DISPUTABLE, _utc(2026, 11, 20, 16), "plumbing", True),
    ("pp-202611-missed", _utc(2026, 11, 21, 15), "plumbing", False),
    ("pp-202611-heater", _utc(2026, 11, 10, 17), "water_heater", True),
    ("pp-202611-drain", _utc(2026, 11, 18, 14), "plumbing", True),
)


def november_events() -> list[dict[str, str]]:
    """The contractor's November leads so far: one disputable on November 22 (R13).

    `pp-202611-leak` was answered and recorded on November 20; `pp-202611-missed`
    was missed; `pp-202611-heater` is older than 7 days; `pp-202611-drain` was
    answered when call recording was off (no recording event).
    """
    rows: list[dict[str, str]] = []
    for number, (lead_id, received, category, answered) in enumerate(NOVEMBER):
        lead = _lead_rows(lead_id, received, category, answered, f"+1872555{number:04d}")
        if lead_id == "pp-202611-drain":
            lead = [row for row in lead if row["event_type"] != "recording_available"]
        rows += lead
    return rows


def run_disputes(sessions: sessionmaker[Session]) -> list[tuple[str, str]]:
    """The contractor's reviews through October, each its own transaction; what happened."""
    config = review_config()
    happened: list[tuple[str, str]] = []
    by_lead = {dispute.lead_id: dispute for dispute in DISPUTES}

    def submit(lead_id: str, at: datetime) -> int | None:
        dispute = by_lead[lead_id]
        try:
            with sessions.begin() as session:
                review = submit_review(
                    session,
                    CODE,
                    lead_id,
                    reason=dispute.reason,
                    explanation=dispute.explanation,
                    submitted_by=CUSTOMER,
                    as_of=at,
                    config=config,
                )
                return review.id
        except LeadbillError as error:
            happened.append((lead_id, f"refused: {error.detail}"))
            return None

    def decide(review_id: int, decision: str, at: datetime, note: str | None = None) -> str:
        with sessions.begin() as session:
            result = decide_review(
                session, review_id, decision, decided_by=REVIEWER, as_of=at, note=note
            )
            return f"review {review_id} {result.review.status}: {result.effect}"

    after = submit("pp-dispute-after", _utc(2026, 10, 1, 14))
    rejected = submit("pp-dispute-rejected", _utc(2026, 10, 13, 15))
    assert after is not None and rejected is not None
    happened.append(("pp-dispute-after", decide(after, "approve", _utc(2026, 10, 5, 16))))
    decide(
        rejected,
        "request-info",
        _utc(2026, 10, 14, 15),
        "When did you last work for this caller? We find no earlier lead from her number.",
    )
    with sessions.begin() as session:
        reply_to_review(
            session,
            rejected,
            message="We think it was last spring, but we cannot find the job ticket.",
            replied_by=CUSTOMER,
            as_of=_utc(2026, 10, 15, 13),
            config=config,
        )
    happened.append(
        (
            "pp-dispute-rejected",
            decide(
                rejected,
                "reject",
                _utc(2026, 10, 16, 15),
                "The recording shows a new leak at a new address: a new potential customer.",
            ),
        )
    )
    submit("pp-dispute-missed", _utc(2026, 10, 19, 14))
    before = submit("pp-dispute-before", _utc(2026, 10, 21, 14))
    assert before is not None
    happened.append(("pp-dispute-before", decide(before, "approve", _utc(2026, 10, 23, 15))))
    still_open = submit("pp-dispute-open", _utc(2026, 10, 27, 15))
    happened.append(("pp-dispute-open", f"review {still_open} open, due 2026-10-30"))
    return happened


def print_disputes(
    sessions: sessionmaker[Session], happened: list[tuple[str, str]], as_of: datetime
) -> None:
    """What became of each disputed lead, the queue, and the credit notes."""
    out.rule(bold(f"Lead reviews of {CODE}"))
    table = Table("lead", "what happened", show_edge=False)
    for lead_id, text in happened:
        table.add_row(lead_id, text)
    out.print(table)
    with sessions() as session:
        queue = review_queue(session, as_of=as_of, account_code=CODE)
        out.print(
            f"Queue at {as_of:%Y-%m-%d %H:%M} UTC: {queue.open} open, {queue.overdue} overdue, "
            f"{queue.waiting} waiting for the customer"
        )
        for note in list_credit_notes(session):
            view = get_credit_note(session, note.number)
            applied = ", ".join(
                f"{format_money(amount, note.currency, code=False)} on {number}"
                for number, amount, _at in view.applications
            )
            out.print(
                f"Credit note {note.number}: {format_money(note.total, note.currency)} for lead "
                f"{view.lead_id} against {view.invoice_number}; applied {applied or 'not yet'}"
            )
    out.print()
