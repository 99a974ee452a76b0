"""Indicators the market computes from its own records (contracts, filings, evaluations), with their working and
source; an entered value is never overwritten, the bureau chooses; the monthly monitoring view (月度监测) against
last year and the targets, its exports, and who may see and do what. Figures worked by hand in the comments."""

import csv
import datetime as dt
import io

import sqlalchemy as sa
from openpyxl import load_workbook

from market.accounts.roles import Role
from market.brokers.models import Broker, BrokerEmployment
from market.core.audit import AuditEntry
from market.core.db import session_scope
from market.core.vocab import OrgKind
from market.evaluations.models import Evaluation
from market.filings.models import IntermediaryFiling
from tests.contracts.history import import_contract
from tests.contracts.payloads import contract_body
from tests.listings.payloads import achievement_body

API = "/api/v1/monitoring"
SET = "seed000-pian4"
D = dt.date


def register_on(world, seller, buyer, amount: str, day: dt.date) -> int:
    signed = (day - dt.timedelta(days=3)).isoformat()
    body = contract_body(
        seller.org_id,
        buyer.org_id,
        total_amount=amount,
        deductions=[],
        technical_transaction_amount=None,
        signing_date=signed,
        valid_from=signed,
    )
    return import_contract(world, body, day)


def file(org_id: int, level: str, filed_on: dt.date, revoked_on: dt.date | None = None) -> None:
    with session_scope() as s:
        s.add(
            IntermediaryFiling(
                org_id=org_id,
                level=level,
                status="revoked" if revoked_on else "recorded",
                filing_number=f"F-{org_id}-{level}",
                filed_on=filed_on,
                revoked_on=revoked_on,
            )
        )


def market_world(client, world):
    """鄞州区 (330212): 500,000 registered 2024-03-05; 1,200,000 on 2025-03-10 and 800,000 on 2025-06-15.
    江北区 (330205): 300,000 on 2025-03-20. Filings in 鄞州区: provincial since 2024-01-01 (in force), provincial
    2024-06-01 revoked 2025-05-01, city-level (not 省级以上). One evaluation completed 2025-03-12 for a 鄞州 holder.
    Brokers of a 鄞州 intermediary: from 2024-02-01, from 2025-01-01, and 2023-01-01 to 2024-12-31."""
    yinzhou = world.member(OrgKind.university, region_code="330212")
    jiangbei = world.member(OrgKind.enterprise, region_code="330205")
    buyer = world.member(OrgKind.enterprise, region_code="310104")
    register_on(world, yinzhou, buyer, "500000.00", D(2024, 3, 5))
    register_on(world, yinzhou, buyer, "1200000.00", D(2025, 3, 10))
    register_on(world, yinzhou, buyer, "800000.00", D(2025, 6, 15))
    register_on(world, jiangbei, buyer, "300000.00", D(2025, 3, 20))
    file(world.org(OrgKind.intermediary, region_code="330212"), "provincial", D(2024, 1, 1))
    file(world.org(OrgKind.intermediary, region_code="330212"), "provincial", D(2024, 6, 1), D(2025, 5, 1))
    file(world.org(OrgKind.intermediary, region_code="330212"), "city", D(2024, 1, 1))
    file(world.org(OrgKind.intermediary, region_code="330205"), "national", D(2026, 1, 1))  # later than 2025
    broker_firm = world.org(OrgKind.intermediary, region_code="330212")
    with session_scope() as s:
        for n, (start, end) in enumerate(
            [(D(2024, 2, 1), None), (D(2025, 1, 1), None), (D(2023, 1, 1), D(2024, 12, 31))]
        ):
            b = Broker(
                name=f"经纪人{n}",
                id_number_masked="3302**********1234",
                id_number_digest=f"d-{broker_firm}-{n}",
                level="junior_broker",
            )
            s.add(b)
            s.flush()
            s.add(BrokerEmployment(broker_id=b.id, intermediary_org_id=broker_firm, start_date=start, end_date=end))
    achievement = client.post("/api/v1/achievements", json=achievement_body(), headers=yinzhou.headers).json()["id"]
    agency = world.org(OrgKind.intermediary, region_code="330212")
    with session_scope() as s:
        s.add(
            Evaluation(
                achievement_id=achievement,
                holder_org_id=yinzhou.org_id,
                agency_org_id=agency,
                status="completed",
                completed_at=dt.datetime(2025, 3, 12, 2, 0, tzinfo=dt.UTC),
            )
        )
    return yinzhou, jiangbei


TURNOVER_SET = {
    "dimensions": [
        {
            "code": "market",
            "name": "技术市场",
            "weight": "15",
            "indicators": [
                {
                    "code": "turnover",
                    "name": "技术合同成交额",
                    "weight": "10",
                    "unit": "元",
                    "department": "科技大市场",
                    "market": "contract_turnover",
                    "rule": {
                        "kind": "bands",
                        "bands": [
                            {"from": "0", "to": "1000000", "score_from": "0", "score_to": "5"},
                            {"from": "1000000", "to": "4000000", "score_from": "5", "score_to": "10"},
                            {"from": "4000000", "to": None, "score_from": "10", "score_to": "10"},
                        ],
                    },
                },
                {
                    "code": "turnover_gdp",
                    "name": "技术合同成交额占GDP比重",
                    "weight": "5",
                    "unit": "%",
                    "department": "科技大市场",
                    "market": "turnover_gdp_pct",
                    "rule": {
                        "kind": "bands",
                        "bands": [
                            {"from": "0", "to": "0.8", "score_from": "0", "score_to": "4"},
                            {"from": "0.8", "to": "2", "score_from": "4", "score_to": "5"},
                            {"from": "2", "to": None, "score_from": "5", "score_to": "5"},
                        ],
                    },
                },
            ],
        }
    ]
}


def test_market_computed_indicators_and_the_bureaus_choice(client, world):
    yinzhou, _ = market_world(client, world)
    officer, admin = world.bureau(Role.programme_officer), world.bureau(Role.bureau_admin)
    h = officer.headers

    # 篇四: 省级以上技术转移机构 counted from the filings in force on 2025-12-31: the one provincial filing
    # (the other was revoked on 2025-05-01, the third is city-level) → 1 × 1 point
    r = client.post(f"{API}/sets/{SET}/values/330212/2025/compute", headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["computed"]["service_bodies"]["value"] == {"tech_transfer_institution": "1"}
    assert "national or provincial filing" in r.json()["computed"]["service_bodies"]["working"]
    got = client.get(f"{API}/sets/{SET}/values/330212/2025", headers=h).json()
    assert [(v["indicator_code"], v["source"]) for v in got["values"]] == [("service_bodies", "market")]
    assert got["market_indicators"] == ["service_bodies"]
    ind = client.get(f"{API}/sets/{SET}/scores/2025", headers=h).json()["regions"][0]["dimensions"][2]["indicators"][2]
    assert (ind["code"], ind["score"], ind["source"]) == ("service_bodies", "1.00", "market")
    assert "computed by the market" in ind["working"]

    # a department enters the indicator: 1 国家级孵化器 (2) + 3 技术转移机构 (3) = 5; a recompute keeps it
    r = client.put(
        f"{API}/sets/{SET}/values/330212/2025",
        headers=h,
        json={"values": {"service_bodies": {"national_incubator": 1, "tech_transfer_institution": 3}}},
    )
    assert r.status_code == 200
    r = client.post(f"{API}/sets/{SET}/values/330212/2025/compute", headers=h)
    assert r.json()["computed"] == {} and r.json()["kept_entered"]["service_bodies"]["market"] == {
        "tech_transfer_institution": "1"
    }
    got = client.get(f"{API}/sets/{SET}/values/330212/2025", headers=h).json()["values"][0]
    assert got["source"] == "entered" and got["value"] == {"national_incubator": "1", "tech_transfer_institution": "3"}
    assert got["market"]["value"] == {"tech_transfer_institution": "1"}
    scores = client.get(f"{API}/sets/{SET}/scores/2025", headers=h).json()["regions"][0]
    assert scores["dimensions"][2]["indicators"][2]["score"] == "5.00"

    # the bureau takes the market's count: the incubator stays, 技术转移机构 becomes 1 → 2 + 1 = 3
    url = f"{API}/sets/{SET}/values/330212/2025/service_bodies/choice"
    assert client.post(url, headers=yinzhou.headers, json={"use": "market"}).status_code == 403
    assert client.post(url, headers=h, json={"use": "both"}).status_code == 422
    r = client.post(url, headers=h, json={"use": "market"})
    assert r.status_code == 200, r.text
    assert r.json()["source"] == "entered+market"
    assert r.json()["value"] == {"national_incubator": "1", "tech_transfer_institution": "1"}
    assert r.json()["replaced"]["value"] == {"national_incubator": "1", "tech_transfer_institution": "3"}
    scores = client.get(f"{API}/sets/{SET}/scores/2025", headers=h).json()["regions"][0]
    assert scores["dimensions"][2]["indicators"][2]["score"] == "3.00"
    r = client.post(url, headers=h, json={"use": "market"})  # nothing waiting any more
    assert r.status_code == 409 and r.json()["error"]["code"] == "no_market_figure"
    with session_scope() as s:
        actions = list(
            s.scalars(
                sa.select(AuditEntry.action)
                .where(AuditEntry.entity_type == "monitoring_values")
                .order_by(AuditEntry.id)
            )
        )
    assert actions == ["compute", "entered", "compute", "choose_market"]

    # a set with 技术合同成交额 and its ratio to GDP (seed 000's targets) as market indicators
    r = client.post(
        f"{API}/sets/market-demo/versions", headers=admin.headers, json={"name": "技术市场", "definition": TURNOVER_SET}
    )
    assert r.status_code == 201, r.text
    r = client.post(f"{API}/sets/market-demo/values/330212/2025/compute", headers=h)
    assert r.json()["computed"]["turnover"]["value"] == "2000000"
    assert "2 contracts" in r.json()["computed"]["turnover"]["working"]
    assert "no GDP" in r.json()["not_computed"]["turnover_gdp"]
    # GDP 250,000,000: 2,000,000 / 250,000,000 = 0.8 % → on the band edge → 4 points
    client.put("/api/v1/stats/denominators/gdp/330212/2025", headers=admin.headers, json={"amount": "250000000.00"})
    r = client.post(f"{API}/sets/market-demo/values/330212/2025/compute", headers=h)
    assert r.json()["computed"]["turnover_gdp"]["value"] == "0.8"
    assert "2000000.00 / GDP 250000000.00 × 100 = 0.8000 %" in r.json()["computed"]["turnover_gdp"]["working"]
    # 2,000,000 in [1,000,000, 4,000,000): 5 + 1,000,000 / 3,000,000 × 5 = 6.67; + 4 = 10.67
    region = client.get(f"{API}/sets/market-demo/scores/2025", headers=h).json()["regions"][0]
    assert region["total"] == "10.67"

    # recomputed when asked: a new contract moves the market's own value (no choice needed)
    buyer = world.member(OrgKind.enterprise, region_code="310104")
    register_on(world, yinzhou, buyer, "1000000.00", D(2025, 9, 1))
    r = client.post(f"{API}/sets/market-demo/values/330212/2025/compute", headers=h)
    assert r.json()["computed"]["turnover"]["value"] == "3000000"
    # an entered turnover is held against the market's; keeping it sets the market's figure aside
    client.put(f"{API}/sets/market-demo/values/330212/2025", headers=h, json={"values": {"turnover": "5000000"}})
    r = client.post(f"{API}/sets/market-demo/values/330212/2025/compute", headers=h)
    assert r.json()["kept_entered"]["turnover"] == {"entered": "5000000", "source": "entered", "market": "3000000"}
    r = client.post(f"{API}/sets/market-demo/values/330212/2025/turnover/choice", headers=h, json={"use": "entered"})
    assert r.status_code == 200 and (r.json()["value"], r.json()["source"], r.json()["market"]) == (
        "5000000",
        "entered",
        None,
    )

    # monthly periods: a month's turnover; the GDP ratio is yearly
    r = client.post(f"{API}/sets/market-demo/values/330205/2025-03/compute", headers=h)
    assert r.json()["computed"]["turnover"]["value"] == "300000"
    assert "yearly" in r.json()["not_computed"]["turnover_gdp"]


def test_compute_bad_input_and_roles(client, world):
    officer, admin = world.bureau(Role.registrar), world.bureau(Role.bureau_admin)
    member = world.member(OrgKind.enterprise)
    url = f"{API}/sets/{SET}/values/330212/2025/compute"
    assert client.post(url).status_code == 401
    assert client.post(url, headers=member.headers).status_code == 403
    assert client.get(f"{API}/sets/{SET}/values/330212/2025", headers=member.headers).status_code == 403
    r = client.post(f"{API}/sets/{SET}/values/990000/2025/compute", headers=officer.headers)
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_region_code"
    assert client.post(f"{API}/sets/nope/values/330212/2025/compute", headers=officer.headers).status_code == 404
    r = client.post(
        f"{API}/sets/{SET}/values/330212/2025/fiscal_st_share/choice", headers=officer.headers, json={"use": "market"}
    )
    assert r.status_code == 404 and r.json()["error"]["code"] == "indicator_value_not_found"
    # a set linking an unknown figure, or an item the rule does not have, is refused
    bad = {**TURNOVER_SET}
    bad["dimensions"] = [{**TURNOVER_SET["dimensions"][0]}]
    bad["dimensions"][0]["indicators"] = [dict(i) for i in TURNOVER_SET["dimensions"][0]["indicators"]]
    bad["dimensions"][0]["indicators"][0]["market"] = "moon_landings"
    r = client.post(f"{API}/sets/bad/versions", headers=admin.headers, json={"name": "x", "definition": bad})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"].endswith(".market")
    # a set with nothing the market computes
    plain = {
        **bad,
        "dimensions": [{**bad["dimensions"][0], "indicators": [dict(i) for i in bad["dimensions"][0]["indicators"]]}],
    }
    for i in plain["dimensions"][0]["indicators"]:
        i.pop("market")
    assert (
        client.post(
            f"{API}/sets/plain/versions", headers=admin.headers, json={"name": "x", "definition": plain}
        ).status_code
        == 201
    )
    r = client.post(f"{API}/sets/plain/values/330212/2025/compute", headers=officer.headers)
    assert r.status_code == 422 and r.json()["error"]["code"] == "no_market_indicators"


def test_monthly_view_against_last_year_and_targets(client, world):
    market_world(client, world)
    officer, admin = world.bureau(Role.programme_officer), world.bureau(Role.bureau_admin)
    # 鄞州区 targets: 4,000,000 成交额 in 2025; 10,000,000 cumulative 2024–2026
    assert (
        client.put(
            "/api/v1/stats/targets/2025", headers=admin.headers, json={"region": "330212", "total_amount": "4000000.00"}
        ).status_code
        == 200
    )
    body = {
        "name": "鄞州累计",
        "kind": "cumulative",
        "region": "330212",
        "first_year": 2024,
        "last_year": 2026,
        "target_amount": "10000000.00",
    }
    assert client.post("/api/v1/stats/period-targets", json=body, headers=admin.headers).status_code == 201

    r = client.get(f"{API}/monthly/2025/3", params={"region": "330200"}, headers=officer.headers)
    assert r.status_code == 200, r.text
    view = r.json()
    assert [(x["region_code"], x["region_name"]) for x in view["regions"]] == [
        ("330200", "宁波市"),
        ("330205", "江北区"),
        ("330212", "鄞州区"),
    ]
    city = {f["metric"]: f for f in view["regions"][0]["figures"]}
    assert city["contract_turnover"]["month"] == "1500000.00"  # 1,200,000 + 300,000
    yz = {f["metric"]: f for f in view["regions"][2]["figures"]}
    t = yz["contract_turnover"]
    # March 2025 1,200,000 against March 2024 500,000: +140 %; the year to date the same; 1.2 / 4 million = 30 %
    assert (t["month"], t["same_month_last_year"], t["month_growth_pct"]) == ("1200000.00", "500000.00", "140.00")
    assert (t["year_to_date"], t["year_to_date_last_year"], t["year_target"], t["year_target_progress_pct"]) == (
        "1200000.00",
        "500000.00",
        "4000000.00",
        "30.00",
    )
    assert "1200000.00 / 4000000.00 × 100 = 30.00 %" in t["working"]["year_target"]
    assert (yz["contracts_registered"]["month"], yz["contracts_registered"]["same_month_last_year"]) == ("1", "1")
    # filings in force on 2025-03-31: both provincial (the revocation comes in May) = 2; on 2024-03-31: 1
    f = yz["filed_intermediaries"]
    assert (f["month"], f["same_month_last_year"], f["month_growth_pct"]) == ("2", "1", "100.00")
    # brokers employed on 2025-03-31: two (the third left at the end of 2024); on 2024-03-31: the first and third
    assert (yz["brokers_employed"]["month"], yz["brokers_employed"]["same_month_last_year"]) == ("2", "2")
    assert (yz["evaluations_completed"]["month"], yz["evaluations_completed"]["same_month_last_year"]) == ("1", "0")
    # the cumulative target as of 2025-03-31: 500,000 (2024) + 1,200,000 (2025) = 1,700,000 of 10,000,000 = 17 %
    (target,) = view["regions"][2]["targets"]
    assert (target["achieved"], target["progress_pct"]) == ("1700000.00", "17.00")

    # one district on its own; exports through the one exporter
    r = client.get(f"{API}/monthly/2025/3", params={"region": "330205"}, headers=officer.headers)
    assert [x["region_code"] for x in r.json()["regions"]] == ["330205"]
    r = client.get(f"{API}/monthly/2025/3", params={"region": "330200", "format": "csv"}, headers=officer.headers)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["region_code", "region_name", "metric"] and len(rows) == 1 + 3 * 7
    yz_turnover = next(row for row in rows if row[0] == "330212" and row[2] == "contract_turnover")
    assert yz_turnover[5:8] == ["1200000.00", "500000.00", "140.00"]
    r = client.get(f"{API}/monthly/2025/3", params={"region": "330200", "format": "xlsx"}, headers=officer.headers)
    wb = load_workbook(io.BytesIO(r.content))
    assert wb.sheetnames == ["月度监测 2025-03", "目标"]
    assert [c.value for c in wb["目标"][2]][:3] == ["330212", "鄞州区", "鄞州累计"]


def test_monthly_view_roles_and_bad_input(client, world):
    member = world.member(OrgKind.enterprise, region_code="330212")
    officer = world.bureau(Role.registrar)
    url = f"{API}/monthly/2025/3"
    assert client.get(url).status_code == 401
    assert client.get(url, headers=member.headers).status_code == 403  # organisations do not see regional figures
    assert client.get(url, headers=officer.headers).status_code == 200
    assert client.get(f"{API}/monthly/2025/13", headers=officer.headers).status_code == 422
    r = client.get(url, params={"format": "pdf"}, headers=officer.headers)
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_format"
    assert client.get(url, params={"region": "33x"}, headers=officer.headers).status_code == 422
