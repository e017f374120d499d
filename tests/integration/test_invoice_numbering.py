"""Invoice numbers do not depend on the batch size, nor on where a run was killed.

A billing run numbers its invoices in one order: subscriptions by the end of
their open period, then id; each subscription's boundaries oldest first (a
catch-up's invoices are consecutive). Each billing entity's prefix has its own
gapless counter, taken in that same order. The world below has catch-up
(three periods behind), two entities (`INV-` and `SE-`) and a cancellation.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker

from leadbill.accounts.billing_details import DetailsChange, set_details
from leadbill.accounts.models import Account
from leadbill.billing.models import Invoice
from leadbill.billing.service import run_billing
from leadbill.db import make_engine, session_factory
from leadbill.entities.service import EntityFields, create_entity
from leadbill.subscriptions.service import cancel_subscription, create_subscription
from tests.conftest import utc
from tests.integration.test_billing_run import make_account, make_plan

AS_OF = utc(2026, 4, 10)
US = EntityFields(  # the first entity: the default, numbering INV-
    legal_name="Leadbill Demo Inc.",
    address_line1="1 Main St",
    city="Denver",
    region="US-CO",
    country="US",
)
NORDIC = EntityFields(
    legal_name="Lead Data Nordic AB",
    address_line1="Sveavägen 44",
    city="Stockholm",
    country="SE",
    invoice_prefix="SE-",
    credit_note_prefix="SECN-",
)
# Account code, subscription start, billed by the Nordic entity (SE-) or the default (INV-).
WORLD = [
    ("a", utc(2026, 1, 1), False),  # open period ends Feb 1: boundaries Feb 1, Mar 1, Apr 1
    ("b", utc(2026, 2, 15), False),  # Mar 15
    ("c", utc(2026, 1, 20), True),  # Feb 20, Mar 20
    ("d", utc(2026, 3, 1), False),  # Apr 1, where its cancellation of Mar 10 takes effect
    ("e", utc(2026, 1, 10), True),  # Feb 10, Mar 10, Apr 10 (as_of itself)
    ("f", utc(2026, 3, 5), False),  # Apr 5
]
# The run's order: open period end (a Feb 1, e Feb 10, c Feb 20, b Mar 15, d Apr 1,
# f Apr 5), each subscription's boundaries in turn. The boundary-0 invoices were
# numbered when the subscriptions were created (INV-1..4, SE-1..2).
EXPECTED = {
    ("a", 0): "INV-000001",
    ("b", 0): "INV-000002",
    ("c", 0): "SE-000001",
    ("d", 0): "INV-000003",
    ("e", 0): "SE-000002",
    ("f", 0): "INV-000004",
    ("a", 1): "INV-000005",
    ("a", 2): "INV-000006",
    ("a", 3): "INV-000007",
    ("e", 1): "SE-000003",
    ("e", 2): "SE-000004",
    ("e", 3): "SE-000005",
    ("c", 1): "SE-000006",
    ("c", 2): "SE-000007",
    ("b", 1): "INV-000008",
    ("d", 1): "INV-000009",
    ("f", 1): "INV-000010",
}


def _load(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        create_entity(session, code="us", fields=US, as_of=utc(2026, 1, 1))
        create_entity(session, code="nordic", fields=NORDIC, as_of=utc(2026, 1, 1))
        plan = make_plan(session)
        for code, start, nordic in WORLD:
            account = make_account(session, code)
            if nordic:
                set_details(session, account, DetailsChange(billing_entity="nordic"), start)
            subscription = create_subscription(session, account=account, plan=plan, start=start)
            if code == "d":
                cancel_subscription(session, subscription, utc(2026, 3, 10))


def _numbers(sessions: sessionmaker[Session]) -> dict[tuple[str, int], str | None]:
    with sessions() as session:
        rows = session.execute(
            select(Account.code, Invoice.boundary_index, Invoice.number).join(
                Account, Account.id == Invoice.account_id
            )
        )
        return {(code, index): number for code, index, number in rows}


@pytest.mark.parametrize("batch_size", [1, 2, 4, 500])
def test_invoice_numbers_do_not_depend_on_the_batch_size(
    sessions: sessionmaker[Session], batch_size: int
) -> None:
    _load(sessions)
    result = run_billing(sessions, AS_OF, batch_size=batch_size)
    assert _numbers(sessions) == EXPECTED
    # The run reports its invoices in that order.
    assert result.invoice_numbers == [
        "INV-000005",
        "INV-000006",
        "INV-000007",
        "SE-000003",
        "SE-000004",
        "SE-000005",
        "SE-000006",
        "SE-000007",
        "INV-000008",
        "INV-000009",
        "INV-000010",
    ]


def _killed_run(url: str, as_of: datetime, batch_size: int, commits: int, done: Any) -> None:
    """Bill, and die by SIGKILL just before the commit that follows `commits` batches."""
    seen = 0

    def before_commit(_session: Session) -> None:
        nonlocal seen
        if seen == commits:
            done.send(seen)  # a pipe's send is written before the kill (a queue's may not be)
            os.kill(os.getpid(), signal.SIGKILL)  # the batch is written but never committed
        seen += 1

    event.listen(Session, "before_commit", before_commit)
    engine = make_engine(url)
    run_billing(session_factory(engine), as_of, batch_size=batch_size)
    done.send(-1)  # not killed: the test asked for a batch the run never reached


# (batch size of the killed run, batches it committed, batch size of the resumed run).
KILLS = [(2, 0, 3), (2, 2, 500), (1, 4, 4), (4, 1, 2)]


@pytest.mark.parametrize(("first_size", "committed", "resumed_size"), KILLS)
def test_a_run_killed_mid_batch_and_resumed_at_another_size_numbers_the_same(
    sessions: sessionmaker[Session],
    database_url: str,
    first_size: int,
    committed: int,
    resumed_size: int,
) -> None:
    _load(sessions)
    context = multiprocessing.get_context("spawn")
    done, sent = context.Pipe(duplex=False)
    worker = context.Process(
        target=_killed_run, args=(database_url, AS_OF, first_size, committed, sent)
    )
    worker.start()
    assert done.poll(120)
    assert done.recv() == committed
    worker.join(timeout=30)
    assert worker.exitcode == -signal.SIGKILL

    # What the killed run committed keeps its numbers; its last batch left nothing.
    before = _numbers(sessions)
    assert all(EXPECTED[key] == number for key, number in before.items())
    assert len(before) - 6 == sum(
        len([key for key in EXPECTED if key[0] == code and key[1] > 0])
        for code in "aecbdf"[: _subscriptions_billed(first_size, committed)]
    )

    run_billing(sessions, AS_OF, batch_size=resumed_size)
    assert _numbers(sessions) == EXPECTED


def _subscriptions_billed(batch_size: int, batches: int) -> int:
    return min(batch_size * batches, len(WORLD))
