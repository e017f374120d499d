"""Staff pages: the figures of the world to the cent, and each staff action end to end."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

import leadbill.console
from leadbill.accounts.service import get_account
from leadbill.api import create_app
from leadbill.billing.invoices import get_invoice, list_invoices
from leadbill.billing.models import Invoice, Payment
from leadbill.billing.service import run_billing
from leadbill.plans.commands import app as plans_app
from leadbill.portal.web import money
from leadbill.reports.service import billing_summary
from leadbill.reviews.flows import decide_review
from leadbill.reviews.models import Review
from leadbill.reviews.service import submit_review
from leadbill.settings import Settings
from leadbill.webhooks.models import WebhookDelivery
from tests.conftest import utc
from tests.portal.conftest import sign_in
from tests.portal.staff_world import (
    HOOK_ATTEMPTS,
    HOOK_ERROR,
    HOOK_URL,
    REVIEWS,
    STAFF_USERS,
    StaffWorld,
    build_staff_world,
)
from tests.portal.world import AS_OF, CALLED_LEADS, build_pay_per_lead, when

# After January ends: each account's January overage (2 leads x 10.00) and February's fee.
RUN_AS_OF = utc(2026, 2, 1, 0, 30)
QUEUE_CLOCK = utc(2026, 1, 21, 12)


@pytest.fixture
def clock() -> list[datetime]:
    """The portal's clock, moved by the test."""
    return [AS_OF]


@pytest.fixture
def staff_client(
    sessions: sessionmaker[Session], database_url: str, clock: list[datetime]
) -> Iterator[TestClient]:
    """A client whose portal clock is `clock[0]`."""
    app = create_app(sessions)
    app.state.portal_clock = lambda: clock[0]
    app.state.portal_settings = Settings(database_url=database_url)
    with TestClient(
        app, base_url="https://testserver", raise_server_exceptions=False, follow_redirects=False
    ) as client:
        yield client


@pytest.fixture
def staff_world(sessions: sessionmaker[Session]) -> StaffWorld:
    """The portal's world with staff users and a failed webhook delivery."""
    return build_staff_world(sessions)


def _figure(html: str, name: str) -> str:
    found = re.search(rf'data-figure="{name}">([^<]+)<', html)
    assert found, name
    return found.group(1)


def _row(html: str, row_id: str) -> str:
    found = re.search(rf'<tr id="{row_id}">(.*?)</tr>', html, re.S)
    assert found, row_id
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(1))).strip()


def test_plans_show_their_terms(staff_client: TestClient, staff_world: StaffWorld) -> None:
    sign_in(staff_client, STAFF_USERS["viewer"])
    page = staff_client.get("/portal/staff/plans").text
    assert _row(page, "plan-pkg-5") == (
        "pkg-5 Package 5 month 500.00 USD 5 10.00 USD 57.00 USD — called USD"
    )


def test_accounts_list_plan_status_and_current_period(
    staff_client: TestClient, staff_world: StaffWorld
) -> None:
    sign_in(staff_client, STAFF_USERS["viewer"])
    page = staff_client.get("/portal/staff/accounts").text
    assert _row(page, "account-acme") == "acme Acme Realty pkg-5 active 2026-01-01 – 2026-01-31"
    assert _row(page, "account-other") == (
        "other Other Realty pkg-5 active 2026-01-01 – 2026-01-31"
    )


def test_accounts_come_a_page_at_a_time_by_code(
    staff_client: TestClient, staff_world: StaffWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("leadbill.portal.paging.PAGE_SIZE", 1)
    sign_in(staff_client, STAFF_USERS["viewer"])
    first = staff_client.get("/portal/staff/accounts").text
    assert _ids(first, "account") == ["acme"]
    assert _row(first, "account-acme") == "acme Acme Realty pkg-5 active 2026-01-01 – 2026-01-31"
    link = _older(first)
    assert link == "/portal/staff/accounts?after=acme"
    second = staff_client.get(link).text
    assert _ids(second, "account") == ["other"] and _older(second) is None
    assert _row(second, "account-other") == (
        "other Other Realty pkg-5 active 2026-01-01 – 2026-01-31"
    )
    too_long = staff_client.get("/portal/staff/accounts", params={"after": "x" * 65})
    assert too_long.status_code == 422 and "after: " in too_long.text


def test_r4_account_page_shows_usage_subscription_seats_invoices_and_open_reviews(
    staff_client: TestClient, staff_world: StaffWorld, sessions: sessionmaker[Session]
) -> None:
    sign_in(staff_client, STAFF_USERS["billing"])
    page = staff_client.get("/portal/staff/accounts/acme").text
    with sessions() as session:
        summary = billing_summary(session, get_account(session, "acme"), AS_OF)
    assert _figure(page, "counted_leads") == str(CALLED_LEADS) == "7"
    assert _figure(page, "included_leads") == "5"
    assert _figure(page, "overage_leads") == "2"
    assert _figure(page, "overage_so_far") == "20.00 USD"
    assert _figure(page, "projected_cost") == money(summary.projected_cost)
    assert "2026-01-01 – 2026-01-31 on pkg-5" in page
    assert "acme-seat" in page and "Pat Primary &lt;pat@acme.test&gt;" in page
    # The plan fee invoiced at the start (R1) and the seat fee (R8).
    fee, seat = staff_world.portal.invoices["acme"]
    assert re.search(rf"{fee}</a>.*?500\.00 USD", page, re.S)
    assert re.search(rf"{seat}</a>.*?57\.00 USD", page, re.S)
    assert 'href="/portal/staff/accounts/acme/calls"' in page
    assert "OTHER-" not in page and "pat@other.test" not in page
    assert "No open reviews." in page
    assert staff_client.get("/portal/staff/accounts/ghost").status_code == 404


def test_r14_review_queue_is_oldest_due_first_and_flags_overdue(
    staff_client: TestClient, sessions: sessionmaker[Session], clock: list[datetime]
) -> None:
    build_staff_world(sessions, reviews=True)
    # Three business days after the first submission (Jan 19 is a US holiday): one is late.
    clock[0] = QUEUE_CLOCK
    sign_in(staff_client, STAFF_USERS["reviewer"])
    page = staff_client.get("/portal/staff/reviews").text
    with sessions() as session:
        due = {r.id: r.due_at for r in session.scalars(select(Review))}
    shown = [
        (int(review_id), classes)
        for classes, review_id in re.findall(r'<li class="([^"]*)" id="review-(\d+)"', page)
    ]
    assert [review_id for review_id, _ in shown] == sorted(due, key=lambda i: (due[i], i))
    # Submitted in REVIEWS order, so the order above is not the order they came in.
    assert [review_id for review_id, _ in shown] != sorted(due)
    overdue = {review_id for review_id, classes in shown if "overdue" in classes.split()}
    assert overdue == {i for i, at in due.items() if at < QUEUE_CLOCK}
    assert len(overdue) == 1 and len(REVIEWS) == 3
    assert "1 overdue" in page
    # The account page lists the same open reviews, the overdue one flagged.
    account = staff_client.get("/portal/staff/accounts/acme").text
    assert account.count("Review ") >= len(REVIEWS) and "status-overdue" in account


def test_r16_reviewer_marks_a_lead_non_billable_from_the_staff_call_report(
    staff_client: TestClient,
    staff_world: StaffWorld,
    sessions: sessionmaker[Session],
    clock: list[datetime],
) -> None:
    token = sign_in(staff_client, STAFF_USERS["reviewer"])
    calls = staff_client.get("/portal/staff/accounts/acme/calls")
    assert calls.status_code == 200
    assert calls.text.count('class="lead"') == CALLED_LEADS + 1
    assert "OTHER-000" not in calls.text
    decided = staff_client.post(
        "/portal/staff/accounts/acme/calls/ACME-000/decision",
        data={"reason": "wrong_number", "period": "0", "csrf_token": token},
    )
    assert decided.status_code == 303
    assert decided.headers["location"].endswith("/calls?period=0#lead-ACME-000")
    after = staff_client.get("/portal/staff/accounts/acme/calls").text
    assert "Lead ACME-000 is now not billable: wrong number." in after  # the flash
    assert "Wrong number by rosa@operator.test, " + when(AS_OF) in after
    account = staff_client.get("/portal/staff/accounts/acme").text
    assert _figure(account, "counted_leads") == "6"
    assert _figure(account, "overage_so_far") == "10.00 USD"
    # A reason outside the vocabulary is refused, naming the field.
    bad = staff_client.post(
        "/portal/staff/accounts/acme/calls/ACME-001/decision",
        data={"reason": "too_expensive", "csrf_token": token},
    )
    assert bad.status_code == 422 and "reason: " in bad.text
    # Another account's lead id is not found on this account.
    other = staff_client.post(
        "/portal/staff/accounts/acme/calls/OTHER-001/decision",
        data={"reason": "wrong_number", "csrf_token": token},
    )
    assert other.status_code == 404
    # Once January is invoiced, a decision there takes a review and a credit note instead.
    run_billing(sessions, RUN_AS_OF)
    clock[0] = RUN_AS_OF
    staff_client.cookies.clear()  # the session of January 20 has expired
    token = sign_in(staff_client, STAFF_USERS["reviewer"])
    late = staff_client.post(
        "/portal/staff/accounts/acme/calls/ACME-001/decision",
        data={"reason": "wrong_number", "period": "0", "csrf_token": token},
    )
    assert late.status_code == 409 and "already invoiced" in late.text


def test_billing_user_runs_billing_and_running_again_changes_nothing(
    staff_client: TestClient,
    staff_world: StaffWorld,
    sessions: sessionmaker[Session],
    clock: list[datetime],
) -> None:
    clock[0] = utc(2026, 2, 1, 9)
    token = sign_in(staff_client, STAFF_USERS["billing"])
    form = staff_client.get("/portal/staff/billing-runs").text
    # The clock, as the default as_of, in the operator's time zone (New York) as labelled.
    assert 'value="2026-02-01T04:00"' in form and "As of (America/New_York)" in form
    first = staff_client.post(
        "/portal/staff/billing-runs", data={"as_of": "2026-02-01T00:30", "csrf_token": token}
    )
    assert first.status_code == 200, first.text
    with sessions() as session:
        issued = [
            invoice
            for invoice in list_invoices(session)
            if invoice.kind == "period" and (invoice.boundary_index or 0) > 0
        ]
    # Each account: January's 2 overage leads at 10.00 and February's 500.00 fee (R1, R4).
    assert len(issued) == 2 and {i.total for i in issued} == {520}
    assert _figure(first.text, "invoices_issued") == "2"
    for invoice in issued:
        assert f'data-invoice-total="{invoice.number}">520.00 USD<' in first.text
    assert _figure(first.text, "run_total_USD") == "1,040.00 USD"
    assert "Running the same as of again changes nothing." in first.text
    again = staff_client.post(
        "/portal/staff/billing-runs", data={"as_of": "2026-02-01T00:30Z", "csrf_token": token}
    )
    assert again.status_code == 200
    assert 'data-result="nothing"' in again.text and "This run changed nothing." in again.text
    assert "run_total_USD" not in again.text
    with sessions() as session:
        assert len(list_invoices(session)) == len(staff_world.portal.invoices["acme"]) * 2 + 2
    # The page lists what runs issued, since runs themselves are not logged.
    listing = staff_client.get("/portal/staff/billing-runs").text
    for invoice in issued:
        assert f">{invoice.number}</a>" in listing


@pytest.mark.parametrize(
    ("as_of", "problem"),
    [
        ("2026-02-03T00:00", "as_of: must not be more than a day ahead of the clock"),
        ("next tuesday", "as_of: &#39;next tuesday&#39; is not an RFC 3339 instant"),
        ("", "as_of: is required"),
    ],
)
def test_a_billing_run_with_a_bad_as_of_is_refused_naming_the_field(
    staff_client: TestClient,
    staff_world: StaffWorld,
    sessions: sessionmaker[Session],
    as_of: str,
    problem: str,
) -> None:
    token = sign_in(staff_client, STAFF_USERS["admin"])
    response = staff_client.post(
        "/portal/staff/billing-runs", data={"as_of": as_of, "csrf_token": token}
    )
    assert response.status_code == 422
    assert problem in response.text
    with sessions() as session:
        assert len(list_invoices(session)) == 4  # nothing was run


def test_billing_user_records_a_payment_and_the_balance_follows(
    staff_client: TestClient, staff_world: StaffWorld, sessions: sessionmaker[Session]
) -> None:
    token = sign_in(staff_client, STAFF_USERS["billing"])
    fee = staff_world.portal.invoices["acme"][0]
    form = staff_client.get(f"/portal/staff/payments?invoice={fee}").text
    # The invoice chooses its account; issued 2026-01-01 00:00 UTC, 2025-12-31 in New York.
    assert 'name="account" value="acme"' in form
    assert f'<option value="{fee}" selected>{fee} · 2025-12-31 · 500.00 USD due</option>' in form
    paid = staff_client.post(
        "/portal/staff/payments",
        data={"invoice": fee, "amount": "120.50", "reference": "wire-1", "csrf_token": token},
    )
    assert paid.status_code == 303, paid.text
    page = staff_client.get("/portal/staff/payments").text
    assert f"Payment wire-1 of 120.50 USD recorded against {fee}; the invoice is open." in page
    with sessions() as session:
        payment = session.scalars(select(Payment)).one()
    # Staff read instants in the operator's time zone (New York): AS_OF is 10:00 there.
    assert _row(page, f"payment-{payment.id}") == (f"2026-01-20 10:00 acme {fee} wire-1 120.50 USD")
    listing = staff_client.get("/portal/staff/invoices?account=acme").text
    assert f'data-balance="{fee}">379.50 USD<' in listing
    detail = staff_client.get(f"/portal/invoices/{fee}").text
    assert _figure(detail, "balance_due") == "379.50 USD"
    # The rest pays the invoice.
    rest = staff_client.post(
        "/portal/staff/payments",
        data={
            "invoice": fee,
            "amount": "379.50",
            "reference": "wire-2",
            "received_at": "2026-01-20T10:00",
            "csrf_token": token,
        },
    )
    assert rest.status_code == 303
    with sessions() as session:
        invoice = get_invoice(session, fee)
        # 10:00 in New York (the field's label) is 15:00 UTC.
        assert invoice.status == "paid" and invoice.paid_at == utc(2026, 1, 20, 15)
    paid_only = staff_client.get("/portal/staff/invoices?status=paid").text
    assert f'id="invoice-{fee}"' in paid_only and 'id="invoice-INV' in paid_only
    assert paid_only.count('<tr id="invoice-') == 1


@pytest.mark.parametrize(
    ("amount", "reference", "problem"),
    [
        ("abc", "w", "amount: "),
        ("", "w", "amount: is required"),
        ("0", "w", "amount: 0 must be greater than zero"),
        ("-5.00", "w", "amount: -5.00 must be greater than zero"),
        ("1.234", "w", "amount: 1.234 has more than 2 decimal places for USD"),
        ("500.01", "w", "amount: 500.01 USD exceeds the remaining balance 500.00 USD"),
        ("10.00", "  ", "reference: must not be empty"),
    ],
)
def test_a_bad_payment_is_refused_naming_the_field(
    staff_client: TestClient,
    staff_world: StaffWorld,
    sessions: sessionmaker[Session],
    amount: str,
    reference: str,
    problem: str,
) -> None:
    token = sign_in(staff_client, STAFF_USERS["admin"])
    fee = staff_world.portal.invoices["acme"][0]
    response = staff_client.post(
        "/portal/staff/payments",
        data={"invoice": fee, "amount": amount, "reference": reference, "csrf_token": token},
    )
    assert response.status_code == 422
    assert problem in response.text
    assert f'value="{amount}"' in response.text  # the form keeps what was typed
    with sessions() as session:
        assert session.scalars(select(Payment)).first() is None


def test_invoices_filter_by_account_and_status(
    staff_client: TestClient, staff_world: StaffWorld
) -> None:
    sign_in(staff_client, STAFF_USERS["viewer"])
    every = staff_client.get("/portal/staff/invoices").text
    for code in ("acme", "other"):
        for number in staff_world.portal.invoices[code]:
            assert f'id="invoice-{number}"' in every
    other = staff_client.get("/portal/staff/invoices?account=other").text
    assert all(f'id="invoice-{n}"' in other for n in staff_world.portal.invoices["other"])
    assert not any(f'id="invoice-{n}"' in other for n in staff_world.portal.invoices["acme"])
    fee = staff_world.portal.invoices["other"][0]
    assert _row(other, f"invoice-{fee}").endswith("open 500.00 USD 500.00 USD")
    assert "Record a payment" not in other  # a viewer records nothing
    assert staff_client.get("/portal/staff/invoices?status=paid").text.count("<tr id=") == 0
    bad = staff_client.get("/portal/staff/invoices?status=late")
    assert bad.status_code == 422 and "status: " in bad.text
    assert staff_client.get("/portal/staff/invoices?account=ghost").status_code == 404


def test_r15_credit_notes_list_shows_the_correction_and_its_invoice(
    staff_client: TestClient, sessions: sessionmaker[Session], clock: list[datetime]
) -> None:
    build_pay_per_lead(sessions)
    with sessions() as session, session.begin():
        review = submit_review(
            session,
            "pipe",
            "PIPE-1",
            reason="solicitor",
            explanation="A van leasing sales call.",
            submitted_by="dana@pipe.test",
            as_of=utc(2026, 2, 2, 15),
        )
        result = decide_review(
            session, review.id, "approve", decided_by="qa@op.test", as_of=utc(2026, 2, 2, 16)
        )
        assert result.credit_note is not None
        invoice = session.get_one(Invoice, result.credit_note.invoice_id)
        number, invoice_number = result.credit_note.number, invoice.number
    clock[0] = utc(2026, 2, 3)
    sign_in(staff_client, "qa@op.test")
    page = staff_client.get("/portal/staff/credit-notes").text
    assert _row(page, f"credit-note-{number}") == (
        f"{number} pipe {invoice_number} The caller was soliciting 2026-02-02 11:00 40.00 USD"
    )


def test_credit_notes_come_a_page_at_a_time_newest_first(
    staff_client: TestClient,
    sessions: sessionmaker[Session],
    clock: list[datetime],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    build_pay_per_lead(sessions)
    numbers = []
    with sessions() as session, session.begin():
        for hour, lead in ((15, "PIPE-1"), (17, "PIPE-2")):
            review = submit_review(
                session,
                "pipe",
                lead,
                reason="solicitor",
                explanation="A sales call, not a customer.",
                submitted_by="dana@pipe.test",
                as_of=utc(2026, 2, 2, hour),
            )
            result = decide_review(
                session, review.id, "approve", decided_by="qa@op.test", as_of=utc(2026, 2, 2, hour)
            )
            assert result.credit_note is not None
            numbers.append(result.credit_note.number)
    clock[0] = utc(2026, 2, 3)
    monkeypatch.setattr("leadbill.portal.paging.PAGE_SIZE", 1)
    sign_in(staff_client, "qa@op.test")
    first = staff_client.get("/portal/staff/credit-notes").text
    assert _ids(first, "credit-note") == [numbers[1]]
    link = _older(first)
    assert link is not None
    second = staff_client.get(link).text
    assert _ids(second, "credit-note") == [numbers[0]] and _older(second) is None
    bad = staff_client.get("/portal/staff/credit-notes?before=AAAA")
    assert bad.status_code == 422 and "before: is not a link this page gave" in bad.text


def test_webhook_log_shows_the_failed_delivery_and_admin_redelivers_it(
    staff_client: TestClient, staff_world: StaffWorld, sessions: sessionmaker[Session]
) -> None:
    token = sign_in(staff_client, STAFF_USERS["admin"])
    page = staff_client.get("/portal/staff/webhooks").text
    assert HOOK_URL in _row(page, f"endpoint-{staff_world.endpoint_id}")
    assert "invoice.paid" in _row(page, f"endpoint-{staff_world.endpoint_id}")
    row = _row(page, f"delivery-{staff_world.delivery_id}")
    assert row.startswith(f"{staff_world.delivery_id} invoice.paid acme")
    assert f"failed {HOOK_ATTEMPTS} 2025-12-31 20:00 {HOOK_ERROR} Redeliver" in row
    failed_only = staff_client.get("/portal/staff/webhooks?status=delivered").text
    assert f'id="delivery-{staff_world.delivery_id}"' not in failed_only
    sent = staff_client.post(
        f"/portal/staff/webhooks/deliveries/{staff_world.delivery_id}/redeliver",
        data={"csrf_token": token},
    )
    assert sent.status_code == 303
    detail = staff_client.get(sent.headers["location"]).text
    assert f"Delivery {staff_world.delivery_id} is queued to be sent again." in detail
    with sessions() as session:
        delivery = session.get_one(WebhookDelivery, staff_world.delivery_id)
        assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == (
            "pending",
            0,
            AS_OF,
        )
    assert staff_client.get("/portal/staff/webhooks/deliveries/999999").status_code == 404


def _ids(html: str, prefix: str) -> list[str]:
    return re.findall(rf'<tr id="{prefix}-([^"]+)"', html)


def _older(html: str) -> str | None:
    found = re.search(r'<a rel="next" href="([^"]+)"', html)
    return found.group(1).replace("&amp;", "&") if found else None


def test_invoices_and_payments_come_a_page_at_a_time_newest_first(
    staff_client: TestClient,
    staff_world: StaffWorld,
    sessions: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Keyset pages: every row once, in order, filters kept; a bad link names its field."""
    monkeypatch.setattr("leadbill.portal.paging.PAGE_SIZE", 2)
    with sessions() as session:
        numbers = [
            invoice.number
            for invoice in sorted(list_invoices(session), key=lambda i: i.id, reverse=True)
            if invoice.number is not None
        ]
        acme = [n for n in numbers if n in staff_world.portal.invoices["acme"]]
    assert len(numbers) > 2 and len(acme) > 1
    token = sign_in(staff_client, STAFF_USERS["billing"])
    seen: list[str] = []
    link: str | None = "/portal/staff/invoices"
    while link:
        page = staff_client.get(link).text
        assert len(_ids(page, "invoice")) <= 2
        seen += _ids(page, "invoice")
        link = _older(page)
    assert seen == numbers
    monkeypatch.setattr("leadbill.portal.paging.PAGE_SIZE", 1)  # acme has two invoices
    filtered: list[str] = []
    link = "/portal/staff/invoices?account=acme"
    while link:
        page = staff_client.get(link).text
        filtered += _ids(page, "invoice")
        link = _older(page)
        assert link is None or link.startswith("/portal/staff/invoices?account=acme&status=&")
    assert filtered == acme
    monkeypatch.setattr("leadbill.portal.paging.PAGE_SIZE", 2)
    # Payments: three against one invoice, the same instant for two of them.
    fee = staff_world.portal.invoices["acme"][0]
    for amount, reference, received in (
        ("10.00", "p-1", "2026-01-20T09:00"),
        ("20.00", "p-2", "2026-01-20T09:00"),
        ("30.00", "p-3", "2026-01-20T08:00"),
    ):
        done = staff_client.post(
            "/portal/staff/payments",
            data={
                "invoice": fee,
                "amount": amount,
                "reference": reference,
                "received_at": received,
                "csrf_token": token,
            },
        )
        assert done.status_code == 303, done.text
    with sessions() as session:
        by_reference = {p.reference: str(p.id) for p in session.scalars(select(Payment))}
    first = staff_client.get("/portal/staff/payments").text
    assert _ids(first, "payment") == [by_reference["p-2"], by_reference["p-1"]]
    link = _older(first)
    assert link is not None
    second = staff_client.get(link).text
    assert _ids(second, "payment") == [by_reference["p-3"]] and _older(second) is None
    bad = staff_client.get("/portal/staff/payments?before=nonsense")
    assert bad.status_code == 422 and "before: is not a link this page gave" in bad.text


def test_the_payment_form_chooses_the_account_first_and_lists_only_its_open_invoices(
    staff_client: TestClient, staff_world: StaffWorld, sessions: sessionmaker[Session]
) -> None:
    token = sign_in(staff_client, STAFF_USERS["billing"])
    blank = staff_client.get("/portal/staff/payments").text
    assert 'name="invoice"' not in blank and "Choose the account first" in blank
    other = staff_client.get("/portal/staff/payments?account=other").text
    listed = re.findall(r'<option value="(INV-[^"]+)"', other)
    assert listed == staff_world.portal.invoices["other"]  # none of acme's
    assert "Open invoice of other" in other
    ghost = staff_client.get("/portal/staff/payments?account=ghost")
    assert ghost.status_code == 422 and "account: &#39;ghost&#39; is not an account code" in (
        ghost.text
    )
    # An invoice of another account than the one chosen is refused, naming the field.
    acme_fee = staff_world.portal.invoices["acme"][0]
    wrong = staff_client.post(
        "/portal/staff/payments",
        data={
            "account": "other",
            "invoice": acme_fee,
            "amount": "10.00",
            "reference": "w-1",
            "csrf_token": token,
        },
    )
    assert wrong.status_code == 422
    assert f"invoice: {acme_fee} is not an invoice of other" in wrong.text
    with sessions() as session:
        assert session.scalars(select(Payment)).first() is None
    # Paid in full, the account has nothing left to choose.
    for number in staff_world.portal.invoices["other"]:
        with sessions() as session:
            total = get_invoice(session, number).total
        done = staff_client.post(
            "/portal/staff/payments",
            data={
                "account": "other",
                "invoice": number,
                "amount": str(total),
                "reference": f"full-{number}",
                "csrf_token": token,
            },
        )
        assert done.status_code == 303, done.text
    with sessions() as session:
        payments = list(session.scalars(select(Payment).order_by(Payment.id)))
        assert [(p.amount, p.currency, p.received_at) for p in payments] == [
            (Decimal("500.00"), "USD", AS_OF),
            (Decimal("57.00"), "USD", AS_OF),
        ]
    settled = staff_client.get("/portal/staff/payments?account=other").text
    assert "other has no open invoice waiting for a payment." in settled


@pytest.fixture
def berlin_client(
    sessions: sessionmaker[Session], database_url: str, clock: list[datetime]
) -> Iterator[TestClient]:
    """A client of a portal whose operator works in Berlin (CET, CEST from March 29)."""
    app = create_app(sessions)
    app.state.portal_clock = lambda: clock[0]
    app.state.portal_settings = Settings(
        database_url=database_url, operator_time_zone="Europe/Berlin"
    )
    with TestClient(
        app, base_url="https://testserver", raise_server_exceptions=False, follow_redirects=False
    ) as client:
        yield client


# A payment's received-at as typed in Berlin, and the UTC instant recorded: CET (+01:00)
# before the DST change of March 29, CEST (+02:00) after; an offset or Z is kept as given.
BERLIN_RECEIVED = [
    ("2026-03-28T12:00", utc(2026, 3, 28, 11), "2026-03-28 12:00"),
    ("2026-03-29T03:30", utc(2026, 3, 29, 1, 30), "2026-03-29 03:30"),
    ("2026-03-30T12:00", utc(2026, 3, 30, 10), "2026-03-30 12:00"),
    ("2026-03-30T12:00Z", utc(2026, 3, 30, 12), "2026-03-30 14:00"),
    ("2026-10-25T02:30+01:00", utc(2026, 10, 25, 1, 30), "2026-10-25 02:30"),
]


def test_staff_instants_are_typed_and_shown_in_the_operator_time_zone_across_dst(
    berlin_client: TestClient,
    staff_world: StaffWorld,
    sessions: sessionmaker[Session],
    clock: list[datetime],
) -> None:
    clock[0] = utc(2026, 2, 1, 9)
    token = sign_in(berlin_client, STAFF_USERS["billing"])
    fee = staff_world.portal.invoices["acme"][0]
    form = berlin_client.get(f"/portal/staff/payments?invoice={fee}").text
    assert "Received at (Europe/Berlin; empty means now)" in form
    for n, (typed, _at, _shown) in enumerate(BERLIN_RECEIVED):
        done = berlin_client.post(
            "/portal/staff/payments",
            data={
                "invoice": fee,
                "amount": "1.00",
                "reference": f"b-{n}",
                "received_at": typed,
                "csrf_token": token,
            },
        )
        assert done.status_code == 303, (typed, done.text)
    page = berlin_client.get("/portal/staff/payments").text
    with sessions() as session:
        recorded = {p.reference: p for p in session.scalars(select(Payment))}
    for n, (typed, at, shown) in enumerate(BERLIN_RECEIVED):
        payment = recorded[f"b-{n}"]
        assert payment.received_at == at, typed
        assert _row(page, f"payment-{payment.id}").startswith(f"{shown} acme"), typed
    # A wall time the clocks skip (spring forward) or repeat (fall back) is refused.
    for typed, problem in (
        ("2026-03-29T02:30", "received_at: 2026-03-29T02:30 does not exist in Europe/Berlin"),
        (
            "2026-10-25T02:30",
            "received_at: 2026-10-25T02:30 happens twice in Europe/Berlin; "
            "add its offset (+02:00 or +01:00)",
        ),
    ):
        refused = berlin_client.post(
            "/portal/staff/payments",
            data={
                "invoice": fee,
                "amount": "1.00",
                "reference": "b-refused",
                "received_at": typed,
                "csrf_token": token,
            },
        )
        assert refused.status_code == 422 and problem in refused.text, typed
    with sessions() as session:
        assert len(session.scalars(select(Payment)).all()) == len(BERLIN_RECEIVED)

    # Billing: January ends at 00:00 UTC, 01:00 in Berlin. The default as_of is the clock.
    runs = berlin_client.get("/portal/staff/billing-runs").text
    assert 'value="2026-02-01T10:00"' in runs and "As of (Europe/Berlin)" in runs
    early = berlin_client.post(
        "/portal/staff/billing-runs", data={"as_of": "2026-02-01T00:30", "csrf_token": token}
    )
    assert early.status_code == 200 and 'data-result="nothing"' in early.text  # 23:30 UTC
    assert _figure(early.text, "run_as_of") == "2026-02-01 00:30"
    late = berlin_client.post(
        "/portal/staff/billing-runs", data={"as_of": "2026-02-01T01:30", "csrf_token": token}
    )
    assert _figure(late.text, "invoices_issued") == "2"  # 00:30 UTC: January has ended
    skipped = berlin_client.post(
        "/portal/staff/billing-runs", data={"as_of": "2026-03-29T02:00", "csrf_token": token}
    )
    assert skipped.status_code == 422
    assert "as_of: 2026-03-29T02:00 does not exist in Europe/Berlin" in skipped.text


def test_money_read_back_from_the_database_prints_at_the_minor_unit(
    staff_client: TestClient,
    staff_world: StaffWorld,
    sessions: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """PostgreSQL reads a money column back at its scale (120.500000): no message, page or
    command prints that."""
    token = sign_in(staff_client, STAFF_USERS["billing"])
    fee = staff_world.portal.invoices["acme"][0]
    first = {"invoice": fee, "amount": "120.50", "reference": "wire-1", "csrf_token": token}
    assert staff_client.post("/portal/staff/payments", data=first).status_code == 303
    # The same reference with other details: the stored payment is named, read back.
    replay = staff_client.post("/portal/staff/payments", data={**first, "amount": "100.00"})
    assert replay.status_code == 409
    assert "was already recorded with different details (120.50 USD on invoice" in replay.text
    over = staff_client.post(
        "/portal/staff/payments", data={**first, "amount": "379.51", "reference": "wire-2"}
    )
    assert "amount: 379.51 USD exceeds the remaining balance 379.50 USD of" in over.text
    page = staff_client.get("/portal/staff/payments").text
    assert "120.50 USD" in page and "120.5000" not in page
    # The command line reads the same columns.
    monkeypatch.setattr(leadbill.console, "sessions", lambda: sessions)
    monkeypatch.setattr(leadbill.console.out, "width", 200)
    listed = CliRunner().invoke(plans_app, ["list"])
    assert listed.exit_code == 0, listed.output
    assert "500.00 USD" in listed.output and "57.00" in listed.output
    assert "0000" not in listed.output
