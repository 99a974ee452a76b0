"""Listing lifecycle through the API, on PostgreSQL and SQLite."""

from decimal import Decimal

from market.accounts.roles import Role
from market.core.vocab import OrgKind
from tests.listings.payloads import achievement_body, demand_body


def test_create_publish_and_read_publicly(client, world):
    uni = world.member(OrgKind.university)
    r = client.post("/api/v1/achievements", json=achievement_body(), headers=uni.headers)
    assert r.status_code == 201, r.text
    a = r.json()
    assert a["status"] == "draft" and a["asking_price"] == "1500000.00"
    assert a["patent_numbers"] == ["201710601862.3"]
    assert client.get(f"/api/v1/achievements/{a['id']}").status_code == 404  # draft hidden from the public

    r = client.post(f"/api/v1/achievements/{a['id']}/transitions", json={"action": "publish"}, headers=uni.headers)
    assert r.status_code == 200 and r.json()["status"] == "published"
    assert client.get(f"/api/v1/achievements/{a['id']}").json()["title"] == achievement_body()["title"]


def test_negotiable_is_its_own_value(client, world):
    firm = world.member(OrgKind.enterprise)
    r = client.post("/api/v1/demands", json=demand_body(budget="面议"), headers=firm.headers)
    assert r.status_code == 201 and r.json()["budget"] == "面议"
    r = client.post("/api/v1/demands", json=demand_body(budget="0"), headers=firm.headers)
    assert r.json()["budget"] == "0.00"
    r = client.post("/api/v1/demands", json=demand_body(budget=None), headers=firm.headers)
    assert r.status_code == 422 and r.json()["error"]["code"] == "budget_required"


def test_unverified_org_cannot_publish(client, world):
    firm = world.member(OrgKind.enterprise, verified=False)
    d = client.post("/api/v1/demands", json=demand_body(), headers=firm.headers).json()
    r = client.post(f"/api/v1/demands/{d['id']}/transitions", json={"action": "publish"}, headers=firm.headers)
    assert r.status_code == 403 and r.json()["error"]["code"] == "organisation_not_verified"


def test_closed_listing_needs_explicit_reopen(client, world):
    firm = world.member(OrgKind.enterprise)
    d = client.post("/api/v1/demands", json=demand_body(), headers=firm.headers).json()
    url = f"/api/v1/demands/{d['id']}"
    for action in ("publish", "close"):
        assert client.post(f"{url}/transitions", json={"action": action}, headers=firm.headers).status_code == 200
    r = client.patch(url, json={"title": "重新打开这个需求吧"}, headers=firm.headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "listing_not_editable"
    r = client.post(f"{url}/transitions", json={"action": "publish"}, headers=firm.headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "invalid_state"
    assert (
        client.post(f"{url}/transitions", json={"action": "reopen"}, headers=firm.headers).json()["status"] == "draft"
    )
    r = client.patch(url, json={"title": "重新打开这个需求吧"}, headers=firm.headers)
    assert r.status_code == 200 and r.json()["title"] == "重新打开这个需求吧" and r.json()["version"] > d["version"]


def test_history_records_every_state_change(client, world):
    firm = world.member(OrgKind.enterprise)
    d = client.post("/api/v1/demands", json=demand_body(), headers=firm.headers).json()
    url = f"/api/v1/demands/{d['id']}"
    for action in ("publish", "mark_negotiating", "withdraw"):
        client.post(f"{url}/transitions", json={"action": action}, headers=firm.headers)
    client.patch(url, json={"keywords": ["x"]}, headers=firm.headers)  # refused: withdrawn
    h = client.get(f"{url}/history", headers=firm.headers).json()
    assert [(e["action"], e["from_state"], e["to_state"]) for e in h] == [
        ("create", None, "draft"),
        ("publish", "draft", "published"),
        ("mark_negotiating", "published", "negotiating"),
        ("withdraw", "negotiating", "withdrawn"),
    ]
    assert all(e["actor_user_id"] == firm.user_id for e in h)


def test_filters_and_pagination(client, world):
    uni = world.member(OrgKind.university, region_code="330206")
    prices = ["100000", "500000", "面议", "2000000"]
    fields = ["new_energy", "new_energy", "new_energy", "agriculture"]
    for i, (price, field) in enumerate(zip(prices, fields, strict=True)):
        a = client.post(
            "/api/v1/achievements",
            json=achievement_body(
                title=f"成果样例{i}号技术",
                asking_price=price,
                technical_field=field,
                transfer_modes=["license"] if i == 1 else ["transfer"],
            ),
            headers=uni.headers,
        ).json()
        client.post(f"/api/v1/achievements/{a['id']}/transitions", json={"action": "publish"}, headers=uni.headers)

    def titles(**params):
        r = client.get("/api/v1/achievements", params=params)
        assert r.status_code == 200, r.text
        return sorted(i["title"] for i in r.json()["items"])

    assert titles(technical_field="new_energy", max_price="600000") == ["成果样例0号技术", "成果样例1号技术"]
    assert titles(min_price="400000", include_negotiable=True) == [
        "成果样例1号技术",
        "成果样例2号技术",
        "成果样例3号技术",
    ]
    assert titles(negotiable=True) == ["成果样例2号技术"]
    assert titles(mode="license") == ["成果样例1号技术"]
    assert titles(region_code="330200") == titles() and titles(region_code="310000") == []
    page = client.get("/api/v1/achievements", params={"page_size": 3, "page": 2, "sort": "price"}).json()
    assert page["total"] == 4 and page["page"] == 2 and len(page["items"]) == 1
    assert page["items"][0]["asking_price"] == "面议"  # nulls last
    r = client.get("/api/v1/achievements", params={"min_price": "5", "max_price": "1"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_range"


def test_money_is_exact_decimal(client, world):
    firm = world.member(OrgKind.enterprise)
    r = client.post("/api/v1/demands", json=demand_body(budget="12345678901.23"), headers=firm.headers)
    assert r.json()["budget"] == "12345678901.23"
    assert Decimal(r.json()["budget"]) == Decimal("12345678901.23")
    r = client.post("/api/v1/demands", json=demand_body(budget=1.5), headers=firm.headers)
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_amount"


def test_member_role_can_post_bureau_member_cannot(client, world):
    org = world.org(OrgKind.enterprise)
    member = world.user(org, Role.member)
    assert client.post("/api/v1/demands", json=demand_body(), headers=member.headers).status_code == 201
    officer = world.bureau(Role.programme_officer)
    r = client.post("/api/v1/demands", json=demand_body(), headers=officer.headers)
    assert r.status_code == 403 and r.json()["error"]["code"] == "role_required"
