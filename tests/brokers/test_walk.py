"""A scripted year of a broker, through the HTTP API, with hand-worked figures.

李明 (broker L) is employed by I1 from 2026-01-01 and moves to I2 from 2026-07-01 (I1 ends 2026-06-30).
王芳 (broker W) works for I2 all year.
- C1 signed 2026-03-10 through I1: 成交额 1,200,000, 技术交易额 1,000,000, registered — L.
- C2 signed 2026-08-15 through I2: 800,000 / 600,000, registered — L. It transfers the achievement L brought in
  while at I1 (proposed by I1, confirmed by its owner on 2026-05-01): one listing brought in, one match → contract.
- C3 signed 2026-11-20 through I2: 500,000 / 500,000, submitted only (no 技术交易额 counted) — L.
- C4 signed 2026-08-01 through I1: I1 may not put L on it any more (broker_not_employed_on_signing_date).
- C5 signed 2026-05-05 through I2: 3,000,000 / 2,500,000, registered — W.
- C6 signed 2026-04-01 through I1, L proposed but the filer rejects: counts nowhere.

Performance 2026, default weights (10 per deal, 1 per 万元 成交额, 2 per 万元 技术交易额):
- L: 3 deals → 30; 成交额 2,500,000 = 250万 → 250; 技术交易额 1,600,000 = 160万 → 320; value 600.00, rank 2.
- W: 1 deal → 10; 300万 → 300; 250万 → 500; value 810.00, rank 1.
Per intermediary: I1 = C1: 10 + 120 + 200 = 330.00 (rank 2); I2 = C2, C3, C5: 30 + 430 + 620 = 1080.00 (rank 1).
Bureau weights for 2026 then 20 / 0 / 1 and 5 per listing, 10 per match: L = 60 + 0 + 160 + 5 + 10 = 235.00,
W = 20 + 0 + 250 = 270.00.

Rewards earned (shown in the performance table too): L 24,000, W 30,000; I1 15,000, I2 39,000.
Rewards 2026 (1.5 % of 技术交易额, ≤ 30,000 per contract), paid through the intermediary of each contract:
- L via I1: C1 1.5 % × 1,000,000 = 15,000.   L via I2: C2 1.5 % × 600,000 = 9,000 (C3 is not registered).
- W via I2: C5 1.5 % × 2,500,000 = 37,500 → capped at 30,000.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

from market.accounts.roles import Role
from market.brokers.models import BrokerListing
from market.core.db import session_scope
from tests.brokers.conftest import API, contract, decide, link, ok, refused, register
from tests.listings.payloads import achievement_body
from tests.subsidies.helpers import enable, run_year

D_ = dt.date


def _rows(table: dict) -> dict[str, dict]:
    return {r["name"]: r for r in table["rows"]}


def test_a_brokers_year(client, parties, world):
    p = parties
    li = register(client, p.agency, name="李明", user_id=p.broker_user.user_id)
    wang = register(client, p.agency_b, name="王芳")
    c1 = contract(p, p.agency, D_(2026, 3, 10), 1_200_000, 1_000_000)
    c6 = contract(p, p.agency, D_(2026, 4, 1), 400_000, 400_000)
    c5 = contract(p, p.agency_b, D_(2026, 5, 5), 3_000_000, 2_500_000)
    for broker, c, agency in [(li, c1, p.agency), (wang, c5, p.agency_b)]:
        ok(decide(client, p.seller, ok(link(client, agency, broker["id"], c), 201)["id"]))
    ok(decide(client, p.seller, ok(link(client, p.agency, li["id"], c6), 201)["id"], accept=False))
    # L brings in the seller's achievement; I2 may not record it for I1's broker, a stranger may not confirm it.
    achievement = ok(client.post("/api/v1/achievements", json=achievement_body(), headers=p.seller.headers), 201)
    brought = {"broker_id": li["id"], "listing_type": "achievement", "listing_id": achievement["id"]}
    refused(client.post(f"{API}/listings", json=brought, headers=p.agency_b.headers), 403, "not_broker_manager")
    row = ok(client.post(f"{API}/listings", json=brought, headers=p.agency.headers), 201)
    refused(
        client.post(f"{API}/listings/{row['id']}/decision", json={"accept": True}, headers=p.buyer.headers),
        403,
        "not_listing_owner",
    )
    assert (
        ok(client.post(f"{API}/listings/{row['id']}/decision", json={"accept": True}, headers=p.seller.headers))[
            "status"
        ]
        == "confirmed"
    )
    with session_scope() as s:  # confirmed on 2026-05-01 (the service dates it today; the walk is set in 2026)
        s.get(BrokerListing, row["id"]).decided_on = D_(2026, 5, 1)

    # Mid-year move, recorded by the new employer.
    ok(
        client.post(
            f"{API}/{li['id']}/moves",
            json={"intermediary_org_id": p.agency_b.org_id, "start_date": "2026-07-01"},
            headers=p.agency_b.headers,
        ),
        201,
    )
    c4 = contract(p, p.agency, D_(2026, 8, 1), 700_000, 700_000)
    refused(link(client, p.agency, li["id"], c4), 422, "broker_not_employed_on_signing_date")
    c2 = contract(p, p.agency_b, D_(2026, 8, 15), 800_000, 600_000, achievement_id=achievement["id"])
    c3 = contract(p, p.agency_b, D_(2026, 11, 20), 500_000, 500_000, status="submitted")
    for c in (c2, c3):
        ok(decide(client, p.seller, ok(link(client, p.agency_b, li["id"], c), 201)["id"]))
    # The broker sees their own links (three confirmed, one rejected).
    mine = ok(client.get(f"{API}/links", params={"broker_id": li["id"]}, headers=p.broker_user.headers))["items"]
    assert sorted(x["status"] for x in mine) == ["confirmed", "confirmed", "confirmed", "rejected"]

    # The bureau turns the broker reward on (shipped off: its figures are the bureau's): earnings show from now.
    enable(client, p.officer, "broker-reward")
    year = {"start": "2026-01-01", "end": "2026-12-31"}
    brokers = _rows(ok(client.get(f"{API}/performance", params=year, headers=p.officer.headers)))
    li_row = {
        "rank": 2,
        "deals": 3,
        "total_amount": "2500000.00",
        "technical_transaction_amount": "1600000.00",
        "performance_value": "600.00",
        "points_deals": "30.00",
        "points_total_amount": "250.00",
        "points_technical_amount": "320.00",
        "listings": 1,
        "matches": 1,
        "rewards": "24000.00",
    }
    assert {k: brokers["李明"][k] for k in li_row} == li_row
    assert (brokers["王芳"]["rank"], brokers["王芳"]["performance_value"], brokers["王芳"]["rewards"]) == (
        1,
        "810.00",
        "30000.00",
    )
    agencies = {
        r["id"]: r
        for r in ok(client.get(f"{API}/performance", params={**year, "by": "intermediary"}, headers=p.officer.headers))[
            "rows"
        ]
    }
    assert (agencies[p.agency.org_id]["performance_value"], agencies[p.agency.org_id]["rank"]) == ("330.00", 2)
    assert (agencies[p.agency_b.org_id]["performance_value"], agencies[p.agency_b.org_id]["deals"]) == ("1080.00", 3)
    i1_row, i2_row = agencies[p.agency.org_id], agencies[p.agency_b.org_id]
    assert (i1_row["listings"], i1_row["matches"], i1_row["rewards"]) == (1, 0, "15000.00")
    assert (i2_row["listings"], i2_row["matches"], i2_row["rewards"]) == (0, 1, "39000.00")
    # First half only: L has C1 alone.
    half = _rows(
        ok(
            client.get(
                f"{API}/performance", params={"start": "2026-01-01", "end": "2026-06-30"}, headers=p.officer.headers
            )
        )
    )
    assert (half["李明"]["deals"], half["李明"]["total_amount"]) == (1, "1200000.00")

    # Who sees which rows: the broker their own, I1 nothing of W, a stranger nothing.
    assert set(_rows(ok(client.get(f"{API}/performance", params=year, headers=p.broker_user.headers)))) == {"李明"}
    assert set(_rows(ok(client.get(f"{API}/performance", params=year, headers=p.agency_b.headers)))) == {"李明", "王芳"}
    assert set(_rows(ok(client.get(f"{API}/performance", params=year, headers=p.agency.headers)))) == {"李明"}
    assert ok(client.get(f"{API}/performance", params=year, headers=p.other.headers))["rows"] == []
    refused(client.get(f"{API}/performance", params=year), 401, "not_authenticated")
    refused(
        client.get(
            f"{API}/performance", params={"start": "2026-12-31", "end": "2026-01-01"}, headers=p.officer.headers
        ),
        422,
        "invalid_period",
    )

    # The bureau sets the year's weights and exports the ranking.
    weights = {"deals": "20", "total_amount_wan": "0", "technical_amount_wan": "1", "listings": "5", "matches": "10"}
    refused(client.put(f"{API}/performance-weights/2026", json=weights, headers=p.agency.headers), 403, "role_required")
    ok(client.put(f"{API}/performance-weights/2026", json=weights, headers=p.officer.headers))
    reweighted = _rows(ok(client.get(f"{API}/performance", params=year, headers=p.officer.headers)))
    assert (reweighted["李明"]["performance_value"], reweighted["王芳"]["performance_value"]) == ("235.00", "270.00")
    csv = client.get(f"{API}/performance", params={**year, "format": "csv"}, headers=p.officer.headers)
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    lines = csv.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("rank,id,name,deals") and lines[1].startswith("1,") and "王芳" in lines[1]
    xlsx = client.get(f"{API}/performance", params={**year, "format": "xlsx"}, headers=p.officer.headers)
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"

    # Rewards are paid by the bureau's subsidy run, through the intermediary that employed the broker on the
    # signing date (the contract's, checked when the link was confirmed), each with the engine's working.
    run_id = run_year(client, p.officer, 2026, ["broker-reward"])
    rows = ok(client.get(f"/api/v1/subsidies/runs/{run_id}/results", headers=p.officer.headers))["items"]
    i1, i2 = f"org:{p.agency.org_id}", f"org:{p.agency_b.org_id}"
    expected = {
        (f"{i1}/broker:李明 #{li['id']}", p.agency.org_id): D("15000.00"),
        (f"{i2}/broker:李明 #{li['id']}", p.agency_b.org_id): D("9000.00"),
        (f"{i2}/broker:王芳 #{wang['id']}", p.agency_b.org_id): D("30000.00"),
    }
    assert {(r["beneficiary_key"], r["beneficiary_org_id"]): D(r["total"]) for r in rows} == expected
    wang_row = next(r for r in rows if "王芳" in r["beneficiary_key"])
    working = ok(client.get(f"/api/v1/subsidies/results/{wang_row['id']}", headers=p.officer.headers))["working"]
    assert (D(working["before_caps"]), D(working["contract_cap_cut"]), working["paid_through_org_id"]) == (
        D("37500.00"),
        D("7500.00"),
        p.agency_b.org_id,
    )
    # The intermediary sees its brokers' rewards once the run is approved; the other intermediary only its own.
    admin = world.bureau(Role.bureau_admin)
    for action, who in (("review", p.officer), ("approve", admin)):
        ok(client.post(f"/api/v1/subsidies/runs/{run_id}/{action}", headers=who.headers))
    mine = {r["beneficiary_key"] for r in ok(client.get("/api/v1/subsidies/my-results", headers=p.agency.headers))}
    assert mine == {f"{i1}/broker:李明 #{li['id']}"}
    assert ok(client.get("/api/v1/subsidies/my-results", headers=p.other.headers)) == []
