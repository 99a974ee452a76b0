"""Each policy carries its jurisdiction: a deployment runs only its own city's rules."""

from __future__ import annotations

import datetime as dt

from market.accounts.roles import Role
from market.core.vocab import OrgKind
from market.subsidies import flows
from market.subsidies.presets import all_presets
from tests.subsidies.helpers import adopt
from tests.subsidies.ledger import add_contract


def test_presets_for_other_cities_ship_disabled_and_a_run_over_all_active_policies_never_applies_them(client, world):
    officer = world.bureau(Role.programme_officer)
    listed = {
        p["code"]: (p["active"], p["spec"]["jurisdiction"])
        for p in client.get("/api/v1/subsidies/policies", headers=officer.headers).json()
    }
    assert {code for code, (active, _) in listed.items() if not active} == {
        p.code for p in all_presets() if p.jurisdiction == "3715"
    } | {"broker-reward"}  # 聊城's, and the broker reward whose figures the bureau sets first
    assert all(j == "3302" for active, j in listed.values() if active)
    uni = world.org(OrgKind.university, region_code="330203")
    add_contract(uni, world.org(OrgKind.enterprise, region_code="330206"), 10_000_000, on=dt.date(2024, 3, 1))
    r = client.post(
        "/api/v1/subsidies/runs",
        headers=officer.headers,
        json={"period_start": "2024-01-01", "period_end": "2024-12-31"},
    )
    assert r.status_code == 202
    codes = {p["code"] for p in r.json()["policies"]}
    assert codes and not any(c.startswith("lc2020") for c in codes)
    named = client.post(
        "/api/v1/subsidies/runs",
        headers=officer.headers,
        json={
            "period_start": "2024-01-01",
            "period_end": "2024-12-31",
            "policy_codes": ["lc2020-seller-development-transfer"],
        },
    )
    assert named.status_code == 422 and named.json()["error"]["code"] == "policy_not_enabled"
    # Adopted as a version for this city, it runs (on Ningbo's sellers, not 聊城's).
    adopt(client, officer, "lc2020-seller-development-transfer")
    r = client.post(
        "/api/v1/subsidies/runs",
        headers=officer.headers,
        json={
            "period_start": "2024-01-01",
            "period_end": "2024-12-31",
            "policy_codes": ["lc2020-seller-development-transfer"],
        },
    )
    assert r.status_code == 202, r.text
    flows.compute_run(r.json()["id"])
    assert (
        client.get(f"/api/v1/subsidies/runs/{r.json()['id']}", headers=officer.headers).json()["total"] == "150000.00"
    )
