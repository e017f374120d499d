"""Dunning on both databases, with the clock passed in: reminders on the schedule's days,
a payment stopping them, the final action, a changed schedule, the overdue webhook."""

from __future__ import annotations

import json
import threading
from datetime import date, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from leadbill.accounts.models import Account
from leadbill.billing.models import Invoice
from leadbill.dunning.service import in_dunning, run_dunning
from leadbill.entities.service import EntityFields, update_entity
from leadbill.errors import InvalidInput
from leadbill.leads.service import ingest_events
from leadbill.mail.models import MailMessage
from leadbill.plans.service import create_plan
from leadbill.subscriptions.models import Subscription
from leadbill.subscriptions.pausing import resume_service
from leadbill.subscriptions.service import create_subscription
from leadbill.webhooks.models import WebhookEvent
from leadbill.webhooks.service import create_endpoint
from tests.conftest import utc
from tests.integration.dunning_world import (
    DUE,
    START,
    at_ten,
    days,
    pay,
    run_days,
    sent_steps,
    world,
)


def _reminders(sessions: sessionmaker[Session]) -> list[MailMessage]:
    with sessions() as session:
        return list(
            session.scalars(
                select(MailMessage)
                .where(MailMessage.kind == "invoice.reminder")
                .order_by(MailMessage.id)
            )
        )


def _invoice(sessions: sessionmaker[Session], number: str) -> Invoice:
    with sessions() as session:
        return session.scalars(select(Invoice).where(Invoice.number == number)).one()


def test_default_schedule_over_20_days_sends_4_reminders_on_their_days(
    sessions: sessionmaker[Session],
) -> None:
    number = world(sessions)
    result = run_days(sessions, days(DUE - timedelta(days=3), 20))
    assert result.reminders == 4
    assert sent_steps(sessions, number) == {
        0: date(2026, 3, 16),
        3: date(2026, 3, 19),
        7: date(2026, 3, 23),
        14: date(2026, 3, 30),
    }
    messages = _reminders(sessions)
    assert [m.recipient for m in messages] == ["billing@acme.test"] * 4
    assert [m.next_attempt_at for m in messages] == [
        at_ten(date(2026, 3, 16)),
        at_ten(date(2026, 3, 19)),
        at_ten(date(2026, 3, 23)),
        at_ten(date(2026, 3, 30)),
    ]
    assert {m.status for m in messages} == {"pending"}


def test_a_payment_in_the_middle_stops_the_remaining_reminders(
    sessions: sessionmaker[Session],
) -> None:
    number = world(sessions)
    run_days(sessions, days(DUE, 5))  # to March 20: steps 0 and 3
    pay(sessions, number, "1234.50", at_ten(date(2026, 3, 21)))
    run_days(sessions, days(date(2026, 3, 21), 20))
    assert sent_steps(sessions, number) == {0: date(2026, 3, 16), 3: date(2026, 3, 19)}
    with sessions() as session:
        assert in_dunning(session, at_ten(date(2026, 3, 25))) == []


def test_a_partial_payment_leaves_the_reminders_going_with_the_balance(
    sessions: sessionmaker[Session],
) -> None:
    number = world(sessions)
    pay(sessions, number, "1000.00", at_ten(date(2026, 3, 10)))
    run_days(sessions, days(DUE, 4))
    assert sent_steps(sessions, number) == {0: DUE, 3: date(2026, 3, 19)}
    with sessions() as session:
        (item,) = in_dunning(session, at_ten(date(2026, 3, 20)))
        assert str(item.amount_due) == "234.50"
        assert item.days_overdue == 4
        following = item.next()
        assert following is not None and (following.step, following.on) == (7, date(2026, 3, 23))


def test_an_invoice_long_overdue_when_dunning_starts_gets_only_the_latest_step(
    sessions: sessionmaker[Session],
) -> None:
    number = world(sessions)
    run_days(sessions, [DUE + timedelta(days=10)])
    assert sent_steps(sessions, number) == {7: date(2026, 3, 26)}
    run_days(sessions, days(DUE + timedelta(days=11), 10))
    assert sent_steps(sessions, number) == {7: date(2026, 3, 26), 14: date(2026, 3, 30)}


def test_a_step_missed_while_the_worker_was_down_is_sent_late_once(
    sessions: sessionmaker[Session],
) -> None:
    number = world(sessions)
    run_days(sessions, [DUE])
    # Down from March 17 to 19; back on the 20th: step 3 goes out late, once.
    run_days(sessions, days(date(2026, 3, 20), 3))
    assert sent_steps(sessions, number) == {0: DUE, 3: date(2026, 3, 20)}
    run_days(sessions, [date(2026, 3, 23)])
    assert sent_steps(sessions, number)[7] == date(2026, 3, 23)


def test_days_count_on_the_account_local_date(sessions: sessionmaker[Session]) -> None:
    number = world(sessions, time_zone="America/New_York")
    # 03:00 UTC on March 16 is still 23:00 on March 15 in New York: not due yet.
    run_dunning(sessions, utc(2026, 3, 16, 3))
    assert sent_steps(sessions, number) == {}
    # 05:00 UTC is 01:00 on March 16 in New York: the due date there.
    run_dunning(sessions, utc(2026, 3, 16, 5))
    assert sent_steps(sessions, number) == {0: DUE}


def test_an_invoice_without_a_due_date_counts_from_issue_date_plus_terms(
    sessions: sessionmaker[Session],
) -> None:
    number = world(sessions)
    with sessions() as session, session.begin():
        # As an invoice finalized before due dates were stored.
        session.execute(Invoice.__table__.update().values(due_on=None))
    run_days(sessions, days(date(2026, 3, 14), 4))
    assert sent_steps(sessions, number) == {0: date(2026, 3, 16)}


def test_the_overdue_webhook_is_emitted_once_the_day_after_the_due_date(
    sessions: sessionmaker[Session],
) -> None:
    number = world(sessions)
    with sessions() as session, session.begin():
        create_endpoint(
            session, url="https://crm.example/hooks", event_types=["invoice.overdue"], as_of=START
        )
    result = run_days(sessions, days(DUE, 20))
    assert result.overdue == 1
    with sessions() as session:
        (event,) = session.scalars(
            select(WebhookEvent).where(WebhookEvent.event_type == "invoice.overdue")
        )
    body = json.loads(event.body)
    assert body["timestamp"] == "2026-03-17T10:00:00Z"
    data = body["data"]
    assert (data["number"], data["due_on"], data["days_overdue"]) == (number, "2026-03-16", 1)
    assert data["amount_due"] == {"amount": "1234.50", "currency": "USD"}
    assert data["account"] == "acme"


def test_the_final_action_marks_the_invoice_uncollectible_the_day_after_the_last_step(
    sessions: sessionmaker[Session],
) -> None:
    number = world(sessions, action="uncollectible")
    run_days(sessions, days(DUE, 15))  # to March 30: the last step
    assert _invoice(sessions, number).status == "open"
    result = run_days(sessions, days(date(2026, 3, 31), 5))
    assert result.uncollectible == 1
    invoice = _invoice(sessions, number)
    assert invoice.status == "uncollectible"
    assert invoice.uncollectible_at == at_ten(date(2026, 3, 31))
    assert invoice.uncollectible_reason == (
        "dunning: unpaid 15 days after its due date 2026-03-16, after the last reminder (day 14)"
    )
    assert len(sent_steps(sessions, number)) == 4


def _lead(day: str, key: str) -> dict[str, str]:
    return {
        "idempotency_key": key,
        "account": "acme",
        "lead_id": key,
        "event_type": "received",
        "occurred_at": f"{day}T09:00:00Z",
    }


def test_the_final_action_pauses_the_service_and_refuses_new_lead_events_until_resumed(
    sessions: sessionmaker[Session],
) -> None:
    number = world(sessions, action="pause_service", steps=(0, 2))
    account_id = _invoice(sessions, number).account_id
    with sessions() as session, session.begin():
        plan = create_plan(
            session,
            code="ppl",
            name="Pay per lead",
            currency="USD",
            interval="month",
            fee="0.00",
            included_leads=0,
            per_lead_rate="45.00",
            seat_fee="57.00",
            counting_policy="received_unless_excluded",
            as_of=START,
        )
        create_subscription(
            session, account=session.get_one(Account, account_id), plan=plan, start=START
        )
    run_days(sessions, days(DUE, 3))  # steps on March 16 and 18
    with sessions() as session, session.begin():
        before = ingest_events(
            session, [_lead("2026-03-18", "L1")], as_of=at_ten(date(2026, 3, 18))
        )
    assert before.rejections == [] and before.accepted == 1
    result = run_days(sessions, [date(2026, 3, 19)])
    assert result.paused == 1
    assert _invoice(sessions, number).status == "open"
    with sessions() as session, session.begin():
        refused = ingest_events(
            session, [_lead("2026-03-19", "L2")], as_of=at_ten(date(2026, 3, 19))
        )
        (rejection,) = refused.rejections
        assert rejection.field == "account"
        assert rejection.reason is not None
        assert rejection.reason.startswith("the account's service is paused since 2026-03-19")
        assert "leadbill subscriptions resume" in rejection.reason
        subscription = session.scalars(select(Subscription)).one()
        assert subscription.status == "active"
        resume_service(session, subscription)
    with sessions() as session, session.begin():
        again = ingest_events(session, [_lead("2026-03-19", "L2")], as_of=at_ten(date(2026, 3, 19)))
    assert again.accepted == 1
    # The action is taken once: resuming does not pause it again on the next runs.
    assert run_days(sessions, days(date(2026, 3, 20), 3)).paused == 0


def test_a_changed_schedule_applies_to_the_next_steps(sessions: sessionmaker[Session]) -> None:
    number = world(sessions)
    run_days(sessions, [DUE])
    with sessions() as session, session.begin():
        update_entity(session, "us", EntityFields(dunning_steps=(0, 1, 5, 30)), at_ten(DUE))
    run_days(sessions, days(DUE + timedelta(days=1), 40))
    assert sent_steps(sessions, number) == {
        0: date(2026, 3, 16),
        1: date(2026, 3, 17),
        5: date(2026, 3, 21),
        30: date(2026, 4, 15),
    }


@pytest.mark.parametrize(
    ("steps", "reason"),
    [
        ((0, 3, 3), "repeats 3; steps are distinct"),
        ((0, 366), "366 is not a whole number of days from 0 to 365"),
        ((-1,), "-1 is not a whole number of days from 0 to 365"),
        (tuple(range(11)), "has 11 steps; at most 10"),
        ((), "needs at least one step (days after the due date)"),
    ],
)
def test_a_bad_schedule_is_refused_naming_the_field(
    sessions: sessionmaker[Session], steps: tuple[int, ...], reason: str
) -> None:
    world(sessions)
    with sessions() as session, session.begin(), pytest.raises(InvalidInput) as refused:
        update_entity(session, "us", EntityFields(dunning_steps=steps), START)
    assert (refused.value.field, refused.value.reason) == ("dunning_steps", reason)


def test_an_unknown_final_action_is_refused(sessions: sessionmaker[Session]) -> None:
    world(sessions)
    with sessions() as session, session.begin(), pytest.raises(InvalidInput) as refused:
        update_entity(session, "us", EntityFields(dunning_action="suspend"), START)
    assert refused.value.field == "dunning_action"


def test_two_workers_at_once_queue_each_step_once(
    sessions: sessionmaker[Session], database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite serialises writers; the race needs PostgreSQL")
    number = world(sessions)
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            run_dunning(sessions, at_ten(DUE + timedelta(days=1)))
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sent_steps(sessions, number) == {0: DUE + timedelta(days=1)}
    assert len(_reminders(sessions)) == 1
    with sessions() as session:
        overdue = session.scalars(
            select(WebhookEvent).where(WebhookEvent.event_type == "invoice.overdue")
        ).all()
    assert len(overdue) <= 1


def test_rule_times_are_utc(sessions: sessionmaker[Session]) -> None:
    world(sessions)
    with pytest.raises(InvalidInput) as refused:
        run_dunning(sessions, utc(2026, 3, 16).replace(tzinfo=None))
    assert refused.value.field == "as_of"
