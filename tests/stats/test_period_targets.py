"""Multi-year targets: a cumulative amount and a ratio against a bureau-entered GDP, hand-worked; roles."""

from market.accounts.roles import Role
from market.contracts.service import today
from market.core.vocab import OrgKind
from market.stats import rules
from tests.contracts.payloads import contract_body

API = "/api/v1/stats"


def test_rules_by_hand():
    from decimal import Decimal as D

    r = rules.cumulative({2023: D("150000000"), 2024: D("250000000"), 2025: D("200000000")}, D("800000000"))
    # 1.5亿 + 2.5亿 + 2亿 = 6亿 of 8亿 = 75 %, 2亿 to go
    assert (r["achieved"], r["progress_pct"], r["remaining"], r["met"]) == (
        D("600000000"),
        D("75.00"),
        D("200000000"),
        False,
    )
    assert [s["cumulative"] for s in r["years"]] == [D("150000000"), D("400000000"), D("600000000")]
    # 成交额 5亿 / GDP 560亿 = 0.8929 % ≥ 0.8 %
    r = rules.ratio(D("500000000"), D("56000000000"), D("0.80"))
    assert (r["ratio_pct"], r["met"]) == (D("0.8929"), True)
    assert rules.ratio(D("1"), None, D("0.8"))["met"] is None


def test_cumulative_and_ratio_targets_through_the_api(client, world):
    seller = world.member(OrgKind.university, region_code="330205")
    buyer = world.member(OrgKind.enterprise, region_code="310104")
    registrar, admin = world.bureau(Role.registrar), world.bureau(Role.bureau_admin)
    for _ in range(2):  # 2 × 1,200,000 成交额 this year, sellers in 宁波
        cid = client.post(
            "/api/v1/contracts", json=contract_body(seller.org_id, buyer.org_id), headers=seller.headers
        ).json()["id"]
        assert client.post(f"/api/v1/contracts/{cid}/register", headers=registrar.headers).status_code == 200
    year = today().year
    body = {
        "name": "技术合同成交额累计",
        "kind": "cumulative",
        "region": "330200",
        "first_year": year - 1,
        "last_year": year + 1,
        "target_amount": "4800000.00",
    }
    assert client.post(f"{API}/period-targets", json=body, headers=registrar.headers).status_code == 403
    r = client.post(f"{API}/period-targets", json=body, headers=admin.headers)
    assert r.status_code == 201, r.text
    p = client.get(f"{API}/period-targets/{r.json()['id']}/progress", headers=registrar.headers).json()
    # last year 0, this year 2,400,000 → 2,400,000 of 4,800,000 = 50 %; next year not begun
    assert (p["achieved"], p["progress_pct"], p["remaining"], p["met"]) == ("2400000.00", "50.00", "2400000.00", False)
    assert [s["year"] for s in p["years"]] == [year - 1, year] and p["region_name"] == "宁波市"

    body = {
        "name": "成交额/GDP",
        "kind": "ratio",
        "region": "3302",
        "first_year": year - 1,
        "last_year": year,
        "target_pct": "0.80",
        "denominator": "gdp",
    }
    tid = client.post(f"{API}/period-targets", json=body, headers=admin.headers).json()["id"]
    assert (
        client.put(
            f"{API}/denominators/gdp/3302/{year}", json={"amount": "300000000.00"}, headers=registrar.headers
        ).status_code
        == 403
    )
    r = client.put(f"{API}/denominators/gdp/3302/{year}", json={"amount": "300000000.00"}, headers=admin.headers)
    assert r.status_code == 200 and r.json()["region_name"] == "宁波市"
    p = client.get(f"{API}/period-targets/{tid}/progress", headers=registrar.headers).json()
    last, this = p["years"]
    assert (last["ratio_pct"], last["met"], last["working"]) == (None, None, f"no gdp entered for {year - 1}")
    # 2,400,000 / 300,000,000 × 100 = 0.8000 % ≥ 0.80 %
    assert (this["ratio_pct"], this["met"]) == ("0.8000", True)

    bad = {**body, "target_pct": None}
    r = client.post(f"{API}/period-targets", json=bad, headers=admin.headers)
    assert r.status_code == 422 and r.json()["error"]["code"] == "ratio_target_incomplete"
    r = client.post(
        f"{API}/period-targets", json={**body, "first_year": year, "last_year": year - 1}, headers=admin.headers
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "years_out_of_order"
    assert client.get(f"{API}/period-targets/999999/progress", headers=registrar.headers).status_code == 404
    assert client.get(f"{API}/period-targets/{tid}/progress", headers=seller.headers).status_code == 403
