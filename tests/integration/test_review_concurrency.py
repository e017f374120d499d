"""A review credits at most once (R15): double and concurrent approvals, concurrent runs.

The guarantees are the database's: the approval is one conditional UPDATE of an
undecided review, `credit_notes.review_id` is unique, and each application of a
credit note has a sequence number unique per note.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from leadbill.accounts.models import Account
from leadbill.billing.models import Invoice
from leadbill.billing.service import run_billing
from leadbill.credit_notes.models import CreditApplication, CreditNote
from leadbill.credit_notes.service import issue_credit_note
from leadbill.errors import Conflict
from leadbill.reviews.flows import decide_review, rerate
from leadbill.reviews.models import Review
from leadbill.reviews.repository import lead_period
from leadbill.reviews.service import submit_review
from tests.conftest import utc
from tests.integration.review_fixtures import (
    APRIL,
    CONFIG,
    EXPLANATION,
    MAY,
    account_on,
    add_lead,
    ppl_plan,
)

LEADBILL = Path(sys.executable).parent / "leadbill"


def _invoiced_review(sessions: sessionmaker[Session]) -> int:
    """A pay-per-lead account whose March is invoiced, and a review of a March lead."""
    with sessions.begin() as session:
        account_on(session, ppl_plan(session))
        add_lead(session, "pipes", "L1", utc(2026, 3, 30))
        add_lead(session, "pipes", "L2", utc(2026, 3, 30, 1))
    run_billing(sessions, APRIL)
    with sessions.begin() as session:
        add_lead(session, "pipes", "A1", utc(2026, 4, 10))
        add_lead(session, "pipes", "A2", utc(2026, 4, 11))
        review = submit_review(
            session,
            "pipes",
            "L1",
            reason="wrong_number",
            explanation=EXPLANATION,
            submitted_by="pat",
            as_of=utc(2026, 4, 1, 12),
            config=CONFIG,
        )
        return review.id


def test_r15_credit_notes_are_unique_per_review_in_the_database(
    sessions: sessionmaker[Session],
) -> None:
    review_id = _invoiced_review(sessions)
    with sessions.begin() as session:
        decide_review(session, review_id, "approve", decided_by="qa", as_of=utc(2026, 4, 2))
    # Bypassing every check in Python, a second credit note for the review is refused.
    with sessions() as session, session.begin():
        review = session.get_one(Review, review_id)
        account = session.get_one(Account, review.account_id)
        invoice = session.scalars(select(Invoice).where(Invoice.boundary_index == 1)).one()
        period = lead_period(session, account.id, utc(2026, 3, 30))
        assert period is not None
        lines = rerate(session, account, period)
        with pytest.raises(Conflict, match="already been credited"):
            issue_credit_note(
                session,
                account_id=account.id,
                review_id=review_id,
                invoice=invoice,
                lead_id=review.lead_id,
                reason="wrong_number",
                lines=lines,
                issued_at=utc(2026, 4, 3),
            )
        session.rollback()
    with sessions() as session:
        assert session.scalar(select(func.count(CreditNote.id))) == 1


def _approve(sessions: sessionmaker[Session], review_id: int, barrier: Any, out: list[str]) -> None:
    try:
        barrier.wait(timeout=30)
        with sessions.begin() as session:
            result = decide_review(
                session, review_id, "approve", decided_by="qa", as_of=utc(2026, 4, 2)
            )
            out.append(result.credit_note.number if result.credit_note else "none")
    except Conflict as error:
        out.append(f"conflict: {error.detail}")


def test_r15_concurrent_approvals_credit_once(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("concurrent transactions need PostgreSQL; SQLite serialises writers")
    review_id = _invoiced_review(sessions)
    barrier = threading.Barrier(4)
    outcomes: list[str] = []
    threads = [
        threading.Thread(target=_approve, args=(sessions, review_id, barrier, outcomes))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert [o for o in outcomes if not o.startswith("conflict")] == ["CN-000001"]
    assert sum(1 for o in outcomes if o.startswith("conflict")) == 3
    with sessions() as session:
        notes = session.scalars(select(CreditNote)).all()
        assert [(n.number, n.total) for n in notes] == [("CN-000001", Decimal("40.00"))]

    # Two billing runs at once apply the credit exactly once.
    results: list[int] = []

    def bill() -> None:
        barrier.wait(timeout=30)
        results.append(run_billing(sessions, MAY).invoices_issued)

    barrier = threading.Barrier(2)
    runs = [threading.Thread(target=bill) for _ in range(2)]
    for run in runs:
        run.start()
    for run in runs:
        run.join(timeout=60)
    assert sorted(results) == [0, 1]
    with sessions() as session:
        assert session.scalar(select(func.count(CreditApplication.id))) == 1
        april = session.scalars(select(Invoice).where(Invoice.boundary_index == 2)).one()
        assert april.total == Decimal("40.00")  # 2 x 40.00 - 40.00


def test_r15_two_processes_approving_at_once_credit_once(
    engine: Engine, sessions: sessionmaker[Session], database_url: str
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("concurrent processes need PostgreSQL; SQLite serialises writers")
    review_id = _invoiced_review(sessions)
    env = {**os.environ, "LEADBILL_DATABASE_URL": database_url}
    command = [
        str(LEADBILL),
        "reviews",
        "decide",
        str(review_id),
        "approve",
        "--by",
        "qa",
        "--as-of",
        "2026-04-02T00:00:00Z",
    ]
    processes = [
        subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = [process.communicate(timeout=120) for process in processes]
    assert sorted(process.returncode for process in processes) == [0, 5], outputs
    assert any("CN-000001" in stdout for stdout, _ in outputs)
    assert any("a decided review is final" in stderr for _, stderr in outputs)
    with sessions() as session:
        assert session.scalar(select(func.count(CreditNote.id))) == 1
