"""Bid outcomes reach exactly the organisations concerned; 赛马制 decisions are the programme staff's alone."""

from __future__ import annotations

import pytest

from market.accounts.roles import Role
from market.core.vocab import OrgKind


def _events(kit, who) -> list[str]:
    return [
        n["detail"]["event"]
        for n in kit.ok(kit.client.get("/api/v1/inbox?page_size=100", headers=who.headers))["items"]
    ]


def test_formal_check_and_bid_outcomes_reach_each_team_and_nobody_else(kit):
    call = kit.published_call(experts_per_bid=1)
    winner, partner, loser, failed = kit.bidder(), kit.bidder(OrgKind.enterprise), kit.bidder(), kit.bidder()
    b_win = kit.consortium_bid(winner, call["id"], [partner])
    b_lose, b_fail = kit.bid(loser, call["id"]), kit.bid(failed, call["id"])
    experts = kit.experts(1)
    kit.close_and_check(call["id"], [b_win, b_lose])
    kit.post(
        kit.officer,
        f"/api/v1/calls/{call['id']}/bids/{b_fail['id']}/formal-check",
        {"passed": False, "reason": "缺少承诺书"},
    )
    kit.to_award(call["id"], [b_win["id"]], experts)
    for who in (winner, partner):
        assert {"bid.formal_check", "call.propose_winners", "bid.won", "call.award"} <= set(_events(kit, who))
    assert {"bid.formal_check", "bid.not_selected"} <= set(_events(kit, loser)) and "bid.won" not in _events(kit, loser)
    failed_notes = kit.ok(kit.client.get("/api/v1/inbox", headers=failed.headers))["items"]
    check = [n for n in failed_notes if n["detail"]["event"] == "bid.formal_check"]
    assert [(n["detail"]["passed"], n["detail"]["reason"]) for n in check] == [(False, "缺少承诺书")]
    # Another team's formal check is not told to anyone else; an outsider hears nothing at all.
    assert len([e for e in _events(kit, loser) if e == "bid.formal_check"]) == 1
    assert _events(kit, kit.bidder()) == []


@pytest.fixture
def horse_race(kit):
    call = kit.published_call(experts_per_bid=1, winners_count=2)
    a, b = kit.bidder(), kit.bidder(OrgKind.institute)
    bids = [kit.bid(a, call["id"]), kit.bid(b, call["id"])]
    experts = kit.experts(1)
    kit.close_and_check(call["id"], bids)
    kit.to_award(call["id"], [x["id"] for x in bids], experts)
    return kit, call, a, bids


def test_midterm_review_and_down_selection_by_programme_staff_only(horse_race):
    kit, call, lead, bids = horse_race
    url = f"/api/v1/calls/{call['id']}"
    keep = {"keep_bid_ids": [bids[0]["id"]], "disposition": "returned", "reason": "中期评估"}
    for who in (lead, kit.firm, kit.world.expert(), kit.world.bureau(Role.registrar)):
        r = kit.client.post(f"{url}/midterm-review", json={"conclusion": "x"}, headers=who.headers)
        assert r.status_code == 403, who
        r = kit.client.post(f"{url}/down-select", json=keep, headers=who.headers)
        assert r.status_code == 403
    kit.post(kit.world.bureau(Role.bureau_admin), f"{url}/midterm-review", {"conclusion": "B组滞后"})
    r = kit.client.post(f"{url}/down-select", json={**keep, "disposition": "kept"}, headers=kit.officer.headers)
    assert r.status_code == 422 and r.json()["error"]["code"] == "disposition_invalid"
    (dropped,) = kit.post(kit.officer, f"{url}/down-select", keep)
    shown = kit.ok(kit.client.get(url))["down_selection"]
    # Returned: recorded and shown, nothing added to the kept team.
    assert (shown["disposition"], shown["dropped"], shown["per_kept"]) == ("returned", [bids[1]["id"]], {})
    assert dropped["state"] == "dropped"
