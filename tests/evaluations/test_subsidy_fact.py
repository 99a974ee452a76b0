"""A finished evaluation is a verified subsidy fact: a policy can require an evaluated TRL (issue 19), via the API.

Policy `trl-transfer` (bureau-made): sellers of transfer contracts in 3302, flat 2 % of 成交额, min_evaluated_trl 6.
University U sells three transfers in 2026, each with a confirmed achievement link:
- A1 evaluated (agency report) at TRL 7, contract 1,000,000 → 2 % = 20,000;
- A2 evaluated at TRL 4, contract 500,000 → excluded (`evaluated_trl`);
- A3 never evaluated (its listing may say anything), contract 300,000 → excluded (`evaluated_trl`).
U is paid 20,000.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

from market.accounts.roles import Role
from market.core.db import utcnow
from market.core.vocab import OrgKind
from tests.listings.payloads import achievement_body
from tests.subsidies.helpers import run_year
from tests.subsidies.ledger import add_contract

API = "/api/v1/evaluations"
POLICY = {
    "code": "trl-transfer",
    "name": "成果转化补助(评价TRL≥6)",
    "beneficiary": "seller",
    "basis": "total",
    "aggregation": "per_contract",
    "brackets": [{"rate": "0.02", "upto": None}],
    "contract_types": ["transfer", "licence"],
    "seller_regions": ["3302"],
    "min_evaluated_trl": 6,
}


def test_a_policy_pays_only_on_a_finished_evaluation_at_the_required_trl(client, world):
    officer, admin = world.bureau(Role.programme_officer), world.bureau(Role.bureau_admin)
    uni = world.member(OrgKind.university, region_code="330203")
    buyer = world.member(OrgKind.enterprise, region_code="330206")
    agency = world.member(OrgKind.intermediary)
    expert = world.expert()
    assert client.post(f"{API}/agencies", json={"hide_evaluators": True}, headers=agency.headers).status_code == 201
    decision = client.post(f"{API}/agencies/{agency.org_id}/decision", json={"approve": True}, headers=admin.headers)
    assert decision.status_code == 200

    def achievement() -> int:
        r = client.post("/api/v1/achievements", json=achievement_body(), headers=uni.headers)
        assert r.status_code == 201, r.text
        return r.json()["id"]

    def evaluated(achievement_id: int, trl: int) -> None:
        body = {"achievement_id": achievement_id, "agency_org_id": agency.org_id}
        eid = client.post(API, json=body, headers=uni.headers).json()["id"]
        assigned = {"evaluator_ids": [expert.user_id]}
        assert client.post(f"{API}/{eid}/evaluators", json=assigned, headers=agency.headers).status_code == 200
        report = {"trl": trl, "innovation_grade": "domestic_first", "advancement_grade": "domestic_leading"}
        r = client.post(
            f"{API}/{eid}/report", json={**report, "report_reference": f"评价 {eid}"}, headers=agency.headers
        )
        assert r.status_code == 200, r.text

    a1, a2, a3 = achievement(), achievement(), achievement()
    evaluated(a1, 7)
    evaluated(a2, 4)

    def sold(achievement_id: int, amount: int) -> int:
        return add_contract(
            uni.org_id,
            buyer.org_id,
            amount,
            on=dt.date(2026, 5, 1),
            achievement_id=achievement_id,
            achievement_link_confirmed_at=utcnow(),
        )

    c1, c2, c3 = sold(a1, 1_000_000), sold(a2, 500_000), sold(a3, 300_000)
    refused = client.post(
        "/api/v1/subsidies/policies", json={**POLICY, "min_evaluated_trl": 10}, headers=officer.headers
    )
    assert refused.status_code == 422, refused.text
    r = client.post("/api/v1/subsidies/policies", json=POLICY, headers=officer.headers)
    assert r.status_code == 201, r.text
    assert client.post("/api/v1/subsidies/policies", json=POLICY, headers=uni.headers).status_code == 403

    run = run_year(client, officer, 2026, ["trl-transfer"])
    items = client.get(f"/api/v1/subsidies/runs/{run}/results", headers=officer.headers).json()["items"]
    assert [(r["beneficiary_org_id"], D(r["total"])) for r in items] == [(uni.org_id, D("20000.00"))]
    for contract_id in (c2, c3):
        why = client.get(f"/api/v1/subsidies/runs/{run}/exclusions?contract_id={contract_id}", headers=officer.headers)
        assert [e["reason"] for e in why.json()] == ["evaluated_trl"]
    assert client.get(f"/api/v1/subsidies/runs/{run}/exclusions?contract_id={c1}", headers=officer.headers).json() == []
