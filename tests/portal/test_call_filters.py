"""R9 in the portal: the call report filtered like the API's, as a page, an htmx table and CSV."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from leadbill.accounts.service import get_account
from leadbill.leads.service import ingest_events
from leadbill.reviews.flows import decide_review
from leadbill.reviews.service import submit_review
from leadbill.seats.service import create_seat
from tests.conftest import utc
from tests.portal.conftest import sign_in
from tests.portal.world import AS_OF, PortalWorld

ACME_SEAT = {f"ACME-{n:03d}" for n in range(8)}  # ACME-007 was never called
SOLICITOR = "ACME-002"  # a review approved: excluded from usage (R15/R16)
WEST_CALLED = {"ACME-W1", "ACME-W3"}
WEST_NEVER_CALLED = {"ACME-W2"}
HTMX = {"HX-Request": "true"}


def _ingest(sessions: sessionmaker[Session], rows: list[dict[str, str]]) -> None:
    with sessions() as session, session.begin():
        assert ingest_events(session, rows, as_of=AS_OF).rejected == 0


def _lead(code: str, n: int, called: bool, **contact: str) -> list[dict[str, str]]:
    received = AS_OF - timedelta(days=3, minutes=n)
    kinds = ["received", "call_answered"] if called else ["received"]
    return [
        {
            "idempotency_key": f"{code}-{kind}",
            "account": "acme",
            "lead_id": code,
            "event_type": kind,
            "occurred_at": (received + timedelta(seconds=m)).isoformat(),
            "seat": "acme-west",
            **contact,
        }
        for m, kind in enumerate(kinds)
    ]


@pytest.fixture
def west(world: PortalWorld, sessions: sessionmaker[Session]) -> None:
    """A second seat of acme with two called leads and one never called; ACME-002 excluded."""
    with sessions() as session, session.begin():
        create_seat(
            session,
            account=get_account(session, "acme"),
            code="acme-west",
            primary_name="Wes West",
            primary_email="wes@acme.test",
            as_of=utc(2026, 1, 3),
        )
    with sessions() as session, session.begin():
        review = submit_review(
            session,
            "acme",
            SOLICITOR,
            reason="solicitor",
            explanation="A van leasing sales call.",
            submitted_by="ana@acme.test",
            as_of=AS_OF,
        )
        decide_review(session, review.id, "approve", decided_by="rosa@operator.test", as_of=AS_OF)
    _ingest(
        sessions,
        _lead("ACME-W1", 1, True, email="Sam.Buyer@West.test", phone="+13035559001")
        + _lead("ACME-W2", 2, False, email="kim@west.test")
        + _lead("ACME-W3", 3, True, phone="+13035559003"),
    )


def _leads(html: str) -> set[str]:
    return set(re.findall(r'<li class="lead" id="lead-([^"]+)"', html))


def _csv_leads(client: TestClient, query: str) -> set[str]:
    exported = client.get(f"/portal/calls.csv?{query}")
    assert exported.status_code == 200, exported.text
    return {row["lead_id"] for row in csv.DictReader(io.StringIO(exported.text))}


# Each filter of the form and the leads it keeps (the world's acme seat, then acme-west).
FILTERS = [
    ("", ACME_SEAT | WEST_CALLED | WEST_NEVER_CALLED),
    ("seat=acme-west", WEST_CALLED | WEST_NEVER_CALLED),
    ("seat=acme-seat", ACME_SEAT),
    ("counted=yes", (ACME_SEAT - {"ACME-007", SOLICITOR}) | WEST_CALLED),
    ("counted=no", {"ACME-007", SOLICITOR} | WEST_NEVER_CALLED),
    ("seat=acme-west&counted=yes", WEST_CALLED),
    ("reason=never_called", {"ACME-007", "ACME-W2"}),
    ("reason=called&seat=acme-west", WEST_CALLED),
    ("reason=solicitor", {SOLICITOR}),
    ("reason=solicitor&seat=acme-west", set()),
    ("reason=wrong_number", set()),
    ("q=%2B13035550003", {"ACME-003"}),
    ("q=(303)+555-0003", {"ACME-003"}),  # compared normalised, as the API compares
    ("q=sam.buyer%40west.test", {"ACME-W1"}),  # e-mail: case-insensitive
    ("q=KIM%40WEST.TEST&counted=no", {"ACME-W2"}),
    ("q=nobody%40west.test", set()),
    ("seat=&counted=&reason=&q=", ACME_SEAT | WEST_CALLED | WEST_NEVER_CALLED),  # "any"
]


def test_r9_each_call_report_filter_keeps_exactly_its_leads_on_the_page_and_in_the_csv(
    client: TestClient, west: None
) -> None:
    sign_in(client, "ana@acme.test")
    for query, expected in FILTERS:
        page = client.get(f"/portal/calls?{query}")
        assert page.status_code == 200, (query, page.text)
        assert _leads(page.text) == expected, query
        assert _csv_leads(client, query) == expected, query
        if not expected:
            assert "No leads of this period match the filters." in page.text


def test_r9_the_filter_form_remembers_its_choices_and_links_keep_them(
    client: TestClient, west: None
) -> None:
    sign_in(client, "ana@acme.test")
    page = client.get("/portal/calls?seat=acme-west&counted=no&q=kim%40west.test").text
    assert '<option value="acme-west" selected>' in page
    assert '<option value="no" selected>' in page
    assert 'value="kim@west.test"' in page
    assert (
        'href="/portal/calls.csv?period=0&amp;seat=acme-west&amp;counted=no&amp;q=kim%40west.test"'
        in page
    )


def test_an_htmx_request_gets_the_table_alone_and_a_plain_one_the_whole_page(
    client: TestClient, west: None
) -> None:
    sign_in(client, "ana@acme.test")
    fragment = client.get("/portal/calls?seat=acme-west", headers=HTMX)
    assert fragment.status_code == 200
    assert _leads(fragment.text) == WEST_CALLED | WEST_NEVER_CALLED
    assert "<html" not in fragment.text and '<form method="get"' not in fragment.text
    assert fragment.headers["vary"] == "HX-Request"
    whole = client.get("/portal/calls?seat=acme-west")
    assert whole.text.startswith("<!doctype html>") and 'id="call-table"' in whole.text
    assert _leads(whole.text) == WEST_CALLED | WEST_NEVER_CALLED
    # htmx restoring its history after a reload asks for the URL again: the whole page.
    restored = client.get(
        "/portal/calls?seat=acme-west", headers={**HTMX, "HX-History-Restore-Request": "true"}
    )
    assert restored.text.startswith("<!doctype html>")
    # The review forms of the table keep their CSRF token.
    eligible = client.get("/portal/calls?seat=acme-seat", headers=HTMX).text
    assert "Submit for review" in eligible
    assert re.search(r'name="csrf_token" value="[^"]+"', eligible)


def test_r9_keyset_pages_of_a_filtered_report_hold_every_matching_lead_once(
    client: TestClient, west: None, sessions: sessionmaker[Session]
) -> None:
    rows: list[dict[str, str]] = []
    for n in range(120):  # odd ones never called: 60 leads not counted, over two pages of 50
        rows += _lead(f"ACME-P{n:03d}", 10 + n, called=n % 2 == 0, phone=f"+1720555{n:04d}")
    _ingest(sessions, rows)
    sign_in(client, "ana@acme.test")
    seen: list[str] = []
    url: str | None = "/portal/calls?seat=acme-west&counted=no"
    pages = 0
    while url is not None:
        html = client.get(url, headers=HTMX).text
        pages += 1
        seen += re.findall(r'<li class="lead" id="lead-([^"]+)"', html)
        found = re.search(r'<a href="(/portal/calls\?[^"]+)"[^>]*>Next page</a>', html)
        url = found.group(1).replace("&amp;", "&") if found else None
        if url is not None:
            assert "seat=acme-west" in url and "counted=no" in url  # the filters carry on
    expected = {f"ACME-P{n:03d}" for n in range(1, 120, 2)} | WEST_NEVER_CALLED
    assert pages == 2
    assert len(seen) == len(set(seen)) == 61
    assert set(seen) == expected
    assert _csv_leads(client, "seat=acme-west&counted=no") == expected


def test_an_unknown_seat_or_reason_is_refused_with_the_field_named(
    client: TestClient, west: None
) -> None:
    sign_in(client, "ana@acme.test")
    seat = client.get("/portal/calls?seat=other-seat")  # another account's seat
    assert seat.status_code == 422 and "seat" in seat.text
    assert "not a seat of acme" in seat.text
    reason = client.get("/portal/calls.csv?reason=bogus")
    assert reason.status_code == 422 and "reason" in reason.text
    counted = client.get("/portal/calls?counted=maybe")
    assert counted.status_code == 422 and "counted" in counted.text


STAFF_CALLS = "/portal/staff/accounts/acme/calls"


def test_r9_staff_filter_an_accounts_call_report_as_its_customer_does_page_and_csv(
    client: TestClient, west: None
) -> None:
    sign_in(client, "ana@acme.test")
    customer_csv = {query: client.get(f"/portal/calls.csv?{query}").text for query, _ in FILTERS}
    client.cookies.clear()
    sign_in(client, "vic@operator.test")  # a viewer reads, and decides nothing
    for query, expected in FILTERS:
        page = client.get(f"{STAFF_CALLS}?{query}")
        assert page.status_code == 200, (query, page.text)
        assert _leads(page.text) == expected, query
        exported = client.get(f"{STAFF_CALLS}.csv?{query}")
        assert exported.status_code == 200, exported.text
        assert exported.headers["content-type"] == "text/csv; charset=utf-8"
        # The customer's download, byte for byte: one CSV code for both pages.
        assert exported.text == customer_csv[query], query
        if not expected:
            assert "No leads of this period match the filters." in page.text
    page = client.get(f"{STAFF_CALLS}?seat=acme-west&counted=no&q=kim%40west.test").text
    assert '<option value="acme-west" selected>' in page and 'value="kim@west.test"' in page
    assert (
        f'href="{STAFF_CALLS}.csv?period=0&amp;seat=acme-west&amp;counted=no&amp;q=kim%40west.test"'
        in page
    )
    assert "Mark non-billable" not in page
    seat = client.get(f"{STAFF_CALLS}?seat=other-seat")  # another account's seat
    assert seat.status_code == 422 and "not a seat of acme" in seat.text
    reason = client.get(f"{STAFF_CALLS}.csv?reason=bogus")
    assert reason.status_code == 422 and "reason" in reason.text


def test_r16_a_staff_decision_shows_in_the_filtered_report_and_keeps_its_filters(
    client: TestClient, west: None
) -> None:
    token = sign_in(client, "rosa@operator.test")
    page = client.get(f"{STAFF_CALLS}?seat=acme-west&counted=yes").text
    assert _leads(page) == WEST_CALLED
    shown = re.search(r'name="filters" value="([^"]+)"', page)
    assert shown is not None
    decided = client.post(
        f"{STAFF_CALLS}/ACME-W1/decision",
        data={
            "reason": "wrong_number",
            "period": "0",
            "filters": shown.group(1).replace("&amp;", "&"),
            "csrf_token": token,
        },
    )
    assert decided.status_code == 303
    back = decided.headers["location"]
    assert back == f"{STAFF_CALLS}?period=0&seat=acme-west&counted=yes#lead-ACME-W1"
    after = client.get(back.split("#")[0]).text
    assert _leads(after) == WEST_CALLED - {"ACME-W1"}  # no longer counted (R16)
    excluded = client.get(f"{STAFF_CALLS}?reason=wrong_number").text
    assert _leads(excluded) == {"ACME-W1"}
    assert "Wrong number by rosa@operator.test" in excluded
    # Filters that do not read as filters are dropped, not echoed into the redirect.
    odd = client.post(
        f"{STAFF_CALLS}/ACME-W3/decision",
        data={
            "reason": "job_seeker",
            "period": "0",
            "filters": "counted=maybe",
            "csrf_token": token,
        },
    )
    assert odd.headers["location"] == f"{STAFF_CALLS}?period=0#lead-ACME-W3"
