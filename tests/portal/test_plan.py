"""The plan page: R7 changes previewed then confirmed, plan advice, cancellation (R6)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from leadbill.accounts.service import get_account
from leadbill.billing.models import Invoice
from leadbill.plans.advice import advise_account
from leadbill.plans.models import Plan
from leadbill.plans.service import create_plan, get_plan
from leadbill.portal.web import money
from leadbill.subscriptions.models import Subscription
from leadbill.subscriptions.service import current_subscription, preview_plan_change
from tests.conftest import utc
from tests.portal.account_world import AGENT_AS_OF, AGENT_USER, build_agent, portal_client
from tests.portal.conftest import sign_in
from tests.portal.world import csrf_of


@pytest.fixture
def clock() -> list[datetime]:
    """The portal's clock: April 11, 2/3 of the agent's April left."""
    return [AGENT_AS_OF]


@pytest.fixture
def agent_client(
    sessions: sessionmaker[Session], database_url: str, clock: list[datetime]
) -> Iterator[TestClient]:
    """A client on the agent's data."""
    build_agent(sessions)
    with portal_client(sessions, database_url, clock) as client:
        yield client


def _figure(html: str, name: str) -> str:
    found = re.search(rf'data-figure="{name}">([^<]+)<', html)
    assert found, name
    return found.group(1).strip()


def _hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, name
    return found.group(1)


def _text(html: str) -> str:
    return " ".join(html.split())


def _subscription(sessions: sessionmaker[Session]) -> tuple[Subscription, str, str | None]:
    """The agent's subscription, its plan code and its scheduled plan code."""
    with sessions() as session:
        subscription = current_subscription(session, get_account(session, "agent"))
        plan = session.get_one(Plan, subscription.plan_id).code
        scheduled = (
            session.get_one(Plan, subscription.scheduled_plan_id).code
            if subscription.scheduled_plan_id
            else None
        )
        session.expunge(subscription)
        return subscription, plan, scheduled


def _invoice_count(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(Invoice)) or 0)


def _confirm(client: TestClient, preview_html: str) -> dict[str, str]:
    return {
        "plan": _hidden(preview_html, "plan"),
        "expected": _hidden(preview_html, "expected"),
        "key": _hidden(preview_html, "key"),
        "csrf_token": csrf_of(preview_html),
    }


def test_r7_an_upgrade_is_previewed_then_invoiced_at_once_prorated(
    agent_client: TestClient, sessions: sessionmaker[Session]
) -> None:
    client = agent_client
    token = sign_in(client, AGENT_USER)
    page = client.get("/portal/plan")
    assert page.status_code == 200
    assert 'data-plan="pkg-200"' in page.text and 'data-plan="pkg-50"' in page.text
    assert 'aria-label="Upgrade to pkg-200"' in page.text
    assert 'aria-label="Downgrade to pkg-50"' in page.text
    invoices_before = _invoice_count(sessions)

    preview = client.post("/portal/plan/preview", data={"plan": "pkg-200", "csrf_token": token})
    assert preview.status_code == 200
    with sessions() as session:
        expected = preview_plan_change(
            session,
            _subscription(sessions)[0],
            get_plan(session, "pkg-200"),
            AGENT_AS_OF,
        )
    assert expected.immediate and expected.upgrade and expected.fee_difference is not None
    # (1800.00 - 1000.00) x 2/3 = 533.33; 200 x 2/3 = 133 leads (docs/plan-changes.md)
    assert _figure(preview.text, "due_now") == money(expected.fee_difference) == "533.33 USD"
    assert _figure(preview.text, "allowance") == str(expected.allowance) == "133"
    assert _figure(preview.text, "effective_at") == "2026-04-11 00:00"
    assert _figure(preview.text, "next_fee") == "1,800.00 USD"
    assert "takes effect now" in _text(preview.text)
    assert _invoice_count(sessions) == invoices_before  # a preview changes nothing

    form = _confirm(client, preview.text)
    assert form["expected"] == "533.33"
    confirmed = client.post("/portal/plan/change", data=form)
    assert confirmed.status_code == 303 and confirmed.headers["location"] == "/portal/plan"
    _subscription_now, plan, scheduled = _subscription(sessions)
    assert (plan, scheduled) == ("pkg-200", None)
    with sessions() as session:
        change_invoice = session.scalars(select(Invoice).where(Invoice.kind == "change")).one()
    assert change_invoice.total == Decimal("533.33") and change_invoice.issued_at == AGENT_AS_OF
    after = _text(client.get("/portal/plan").text)
    assert (
        f"Your plan is Package 200 from now (2026-04-11 00:00, UTC). Invoice "
        f"{change_invoice.number} charges 533.33 USD for the rest of the period." in after
    )
    assert 'data-plan="pkg-100"' in after  # the other plans of the ladder are offered now
    # The same confirmation again changes nothing and charges nothing more.
    again = client.post("/portal/plan/change", data=form)
    assert again.status_code == 303
    assert _invoice_count(sessions) == invoices_before + 1


def test_r7_a_downgrade_takes_effect_at_the_period_end_and_charges_nothing_now(
    agent_client: TestClient, sessions: sessionmaker[Session]
) -> None:
    client = agent_client
    token = sign_in(client, AGENT_USER)
    invoices_before = _invoice_count(sessions)
    preview = client.post("/portal/plan/preview", data={"plan": "pkg-50", "csrf_token": token})
    assert preview.status_code == 200
    assert _figure(preview.text, "effective_at") == "2026-05-01 00:00"
    assert _figure(preview.text, "due_now") == "0.00 USD"
    assert _figure(preview.text, "allowance") == "50"
    assert "takes effect at the end of the current period, on 2026-05-01 00:00" in _text(
        preview.text
    )
    confirmed = client.post("/portal/plan/change", data=_confirm(client, preview.text))
    assert confirmed.status_code == 303
    _sub, plan, scheduled = _subscription(sessions)
    assert (plan, scheduled) == ("pkg-100", "pkg-50")
    assert _invoice_count(sessions) == invoices_before
    page = _text(client.get("/portal/plan").text)
    assert (
        "Your plan changes to Package 50 at the end of the period, on 2026-05-01 00:00 (UTC). "
        "Nothing is charged now." in page
    )
    assert "to Package 50 (pkg-50) on 2026-05-01 00:00" in page


def test_r7_a_confirmation_at_a_stale_cost_changes_nothing(
    agent_client: TestClient, sessions: sessionmaker[Session], clock: list[datetime]
) -> None:
    client = agent_client
    token = sign_in(client, AGENT_USER)
    preview = client.post("/portal/plan/preview", data={"plan": "pkg-200", "csrf_token": token})
    clock[0] = utc(2026, 4, 11, 6)  # six hours later: (800.00 x 474/720) = 526.67
    stale = client.post("/portal/plan/change", data=_confirm(client, preview.text))
    assert stale.status_code == 409
    assert "Nothing was changed" in stale.text
    assert _figure(stale.text, "due_now") == "526.67 USD"
    assert _subscription(sessions)[1] == "pkg-100"


def test_r7_a_plan_off_the_ladder_is_refused_with_the_reason(
    agent_client: TestClient, sessions: sessionmaker[Session]
) -> None:
    client = agent_client
    token = sign_in(client, AGENT_USER)
    with sessions() as session, session.begin():
        create_plan(
            session,
            code="solo",
            name="Solo",
            currency="USD",
            interval="month",
            fee="500.00",
            included_leads=10,
            per_lead_rate="5.00",
            as_of=AGENT_AS_OF,
        )
    refused = client.post("/portal/plan/preview", data={"plan": "solo", "csrf_token": token})
    assert refused.status_code == 422
    assert "plan: solo is not on the ladder of pkg-100 (agent)" in _text(refused.text)
    unknown = client.post("/portal/plan/preview", data={"plan": "nope", "csrf_token": token})
    assert unknown.status_code == 404


def test_plan_advice_table_shows_the_services_figures(
    agent_client: TestClient, sessions: sessionmaker[Session]
) -> None:
    client = agent_client
    sign_in(client, AGENT_USER)
    page = client.get("/portal/plan").text
    with sessions() as session:
        advice = advise_account(
            session, get_account(session, "agent"), as_of=AGENT_AS_OF, periods=3
        ).advice
    assert advice.recommended.plan.code == "pkg-200"
    totals = {option.plan.code: money(option.total) for option in advice.options}
    # March, 190 leads: pkg-50 500.00 + 140 x 12.00; pkg-100 1000.00 + 90 x 9.50; pkg-200 1800.00
    assert totals == {
        "pkg-50": "2,180.00 USD",
        "pkg-100": "1,855.00 USD",
        "pkg-200": "1,800.00 USD",
    }
    for code, shown in totals.items():
        row = page.split(f'data-advice="{code}"', 1)[1].split("</tr>", 1)[0]
        assert f'data-figure="advice_total">{shown}<' in row
    assert "Mar 2026 (190 leads)" in page
    row = page.split('data-advice="pkg-200"', 1)[1].split("</tr>", 1)[0]
    assert "recommended" in row and "your plan" not in row
    assert "your plan" in page.split('data-advice="pkg-100"', 1)[1].split("</tr>", 1)[0]
    assert advice.reasoning in _text(page)


def test_r6_cancelling_asks_for_confirmation_and_shows_the_end_date(
    agent_client: TestClient, sessions: sessionmaker[Session]
) -> None:
    client = agent_client
    sign_in(client, AGENT_USER)
    confirm = client.get("/portal/plan/cancel")
    assert confirm.status_code == 200
    assert _figure(confirm.text, "ends_at") == "2026-05-01 00:00"
    assert _subscription(sessions)[0].cancel_at_period_end is False  # asking changes nothing
    cancelled = client.post("/portal/plan/cancel", data={"csrf_token": csrf_of(confirm.text)})
    assert cancelled.status_code == 303
    subscription = _subscription(sessions)[0]
    assert subscription.cancel_at_period_end and subscription.status == "active"
    assert subscription.cancel_requested_at == AGENT_AS_OF
    page = client.get("/portal/plan").text
    assert (
        "Your subscription is cancelled. It ends at the end of the current period, on "
        "2026-05-01 00:00 (UTC)." in page
    )
    assert _figure(page, "ends_at") == "2026-05-01 00:00"
    assert "Cancelled" in page and "/portal/plan/preview" not in page
    # A cancelled subscription cannot change plan.
    refused = client.post(
        "/portal/plan/preview", data={"plan": "pkg-200", "csrf_token": csrf_of(page)}
    )
    assert refused.status_code == 409 and "is cancelled at its period end" in refused.text


def test_r6_when_billing_lags_the_clock_cancelling_says_the_real_end_and_the_renewal(
    agent_client: TestClient, sessions: sessionmaker[Session], clock: list[datetime]
) -> None:
    # The agent's April period ended on May 1, but no billing run has closed it yet.
    clock[0] = utc(2026, 5, 20)
    client = agent_client
    sign_in(client, AGENT_USER)
    confirm = client.get("/portal/plan/cancel")
    assert _figure(confirm.text, "ends_at") == "2026-06-01 00:00"
    assert "still renews on 2026-05-01 00:00" in _text(confirm.text)
    assert "Cancelling takes effect at the end of the current period, on 2026-06-01" in _text(
        client.get("/portal/plan").text
    )
    client.post("/portal/plan/cancel", data={"csrf_token": csrf_of(confirm.text)})
    page = client.get("/portal/plan").text
    assert (
        "Your subscription is cancelled. It ends at the end of the current period, on "
        "2026-06-01 00:00 (UTC). Billing has not closed every past period yet: it still "
        "renews on 2026-05-01 00:00 and invoices that fee before it ends." in page
    )
    assert _figure(page, "ends_at") == "2026-06-01 00:00"


def test_plan_forms_without_the_csrf_token_are_refused(
    agent_client: TestClient, sessions: sessionmaker[Session]
) -> None:
    client = agent_client
    sign_in(client, AGENT_USER)
    for path, data in (
        ("/portal/plan/preview", {"plan": "pkg-200"}),
        ("/portal/plan/change", {"plan": "pkg-200", "expected": "533.33", "key": "k" * 24}),
        ("/portal/plan/cancel", {}),
    ):
        response = client.post(path, data=data)
        assert response.status_code == 403, path
        assert "This form has expired" in response.text
    subscription, plan, scheduled = _subscription(sessions)
    assert (plan, scheduled, subscription.cancel_at_period_end) == ("pkg-100", None, False)
