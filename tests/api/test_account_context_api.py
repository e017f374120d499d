"""Account context over the API: lead policy, campaigns and pauses, service area,
customers and block list; each change is the context service's, so it decides leads."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.conftest import World

BASE = "/v1/accounts/acme"


def test_campaign_pause_windows_and_resume(client: TestClient, world: World) -> None:
    admin = world.auth("admin")
    created = client.post(f"{BASE}/campaigns", json={"code": "spring"}, headers=admin)
    assert created.status_code == 201 and created.json()["paused"] is False
    again = client.post(f"{BASE}/campaigns", json={"code": "spring"}, headers=admin)
    assert again.status_code == 409
    paused = client.post(
        f"{BASE}/campaigns/spring/pauses",
        json={"start": "2026-01-10T00:00:00-05:00"},
        headers=admin,
    )
    assert paused.status_code == 201, paused.text
    assert paused.json()["pauses"] == [{"start": "2026-01-10T05:00:00Z", "end": None}]
    assert paused.json()["paused"] is True
    resumed = client.post(
        f"{BASE}/campaigns/spring/resume", json={"at": "2026-01-12T00:00:00Z"}, headers=admin
    )
    assert resumed.status_code == 200
    assert resumed.json()["pauses"][0]["end"] == "2026-01-12T00:00:00Z"
    bad = client.post(
        f"{BASE}/campaigns/spring/pauses",
        json={"start": "2026-01-20T00:00:00Z", "end": "2026-01-19T00:00:00Z"},
        headers=admin,
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "end"
    missing = client.post(
        f"{BASE}/campaigns/none/pauses", json={"start": "2026-01-20T00:00:00Z"}, headers=admin
    )
    assert missing.status_code == 404
    listed = client.get(f"{BASE}/campaigns", headers=world.auth("customer")).json()
    assert [c["code"] for c in listed["data"]] == ["spring"]


def test_service_area_customers_and_lead_policy_are_normalised(
    client: TestClient, world: World
) -> None:
    admin = world.auth("admin")
    area = client.put(
        f"{BASE}/service-area", json={"postal_codes": ["80202", " 80203 ", "80202"]}, headers=admin
    )
    assert area.json() == {"account": "acme", "postal_codes": 2}
    page = client.get(f"{BASE}/service-area?limit=1", headers=admin).json()
    assert page["data"] == ["80202"] and page["page"]["next_cursor"]
    rest = client.get(
        f"{BASE}/service-area?limit=1&cursor={page['page']['next_cursor']}", headers=admin
    ).json()
    assert rest["data"] == ["80203"]

    added = client.post(
        f"{BASE}/customers",
        json={"customers": [{"phone": "(303) 555-0100"}, {"email": "Pat@Mail.Example"}, {}]},
        headers=admin,
    )
    assert added.json() == {"added": 2, "unusable": 1}
    customers = client.get(f"{BASE}/customers", headers=admin).json()["data"]
    assert [(c["phone"], c["email"]) for c in customers] == [
        ("+13035550100", None),
        (None, "pat@mail.example"),
    ]

    policy = client.put(
        f"{BASE}/lead-policy",
        json={"phone_region": "GB", "duplicate_window_days": 7},
        headers=admin,
    )
    assert policy.json() == {"account": "acme", "phone_region": "GB", "duplicate_window_days": 7}
    bad = client.put(f"{BASE}/lead-policy", json={"phone_region": "ZZ"}, headers=admin)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "phone_region"


def test_r18_block_list_add_list_remove(client: TestClient, world: World) -> None:
    admin = world.auth("admin")
    entry = client.post(
        f"{BASE}/block-list",
        json={"kind": "domain", "value": "https://www.Acme.example/"},
        headers=admin,
    )
    assert entry.status_code == 201
    assert entry.json()["value"] == "acme.example"
    wrong = client.post(f"{BASE}/block-list", json={"kind": "city", "value": "x"}, headers=admin)
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "kind"
    listed = client.get(f"{BASE}/block-list", headers=world.auth("viewer")).json()["data"]
    assert listed == [entry.json()]
    gone = client.delete(f"{BASE}/block-list/{entry.json()['id']}", headers=admin)
    assert gone.status_code == 204
    assert (
        client.delete(f"{BASE}/block-list/{entry.json()['id']}", headers=admin).status_code == 404
    )
    assert client.get(f"{BASE}/block-list", headers=admin).json()["data"] == []
