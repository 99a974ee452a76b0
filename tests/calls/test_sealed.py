"""Sealed bids, per role: bidder, rival, consortium member, posing firm, public, assigned and unassigned expert, bureau."""

from __future__ import annotations

import pytest

from market.accounts.roles import Role
from market.core.vocab import OrgKind
from tests.calls.conftest import FIELD, call_body


@pytest.fixture
def sealed(pg_kit):
    """A call in review: bid A (uni leading a consortium with a firm), bid B (institute); one expert per bid."""
    kit = pg_kit
    call = kit.published_call(experts_per_bid=1)
    uni, partner, inst = kit.bidder(OrgKind.university), kit.bidder(OrgKind.enterprise), kit.bidder(OrgKind.institute)
    a = kit.consortium_bid(uni, call["id"], [partner])
    b = kit.bid(inst, call["id"])
    partner_user = kit.world.user(partner.org_id, Role.member)
    # Two experts; each is assigned exactly one bid (the one not from their affiliation).
    ex_uni = kit.world.expert(affiliation_org_id=uni.org_id, fields=[FIELD])  # cannot review A
    ex_inst = kit.world.expert(affiliation_org_id=inst.org_id, fields=[FIELD])  # cannot review B
    kit.close_and_check(call["id"], [a, b])
    kit.post(kit.officer, f"/api/v1/calls/{call['id']}/review")
    return kit, call, {"uni": uni, "partner": partner_user, "inst": inst, "ex_uni": ex_uni, "ex_inst": ex_inst}, a, b


def _get(kit, who, call, bid):
    return kit.client.get(f"/api/v1/calls/{call['id']}/bids/{bid['id']}", headers=who.headers if who else {})


def _listed(kit, who, call):
    r = kit.client.get(f"/api/v1/calls/{call['id']}/bids", headers=who.headers if who else {})
    assert r.status_code == 200
    return {b["id"] for b in r.json()}


def test_each_role_sees_exactly_what_it_may(sealed):
    kit, call, p, a, b = sealed
    expectations = [
        # who, may read A, may read B
        (p["uni"], True, False),
        (p["partner"], True, False),  # a consortium member co-owns the bid
        (p["inst"], False, True),
        (p["ex_inst"], True, False),  # assigned to A only (B is its own organisation's)
        (p["ex_uni"], False, True),
        (kit.firm, False, False),  # the posing firm sees none before award
        (None, False, False),  # the public neither
        (kit.officer, True, True),
    ]
    for who, see_a, see_b in expectations:
        for bid, expected in ((a, see_a), (b, see_b)):
            r = _get(kit, who, call, bid)
            # Not 403: a sealed bid must not even be known to exist.
            assert r.status_code == (200 if expected else 404), (who, bid["id"], r.text)
            if not expected:
                assert r.json()["error"]["code"] == "bid_not_found"
        assert _listed(kit, who, call) == {x["id"] for x, ok in ((a, see_a), (b, see_b)) if ok}


def test_unknown_bid_id_looks_the_same_as_a_sealed_one(sealed):
    kit, call, p, a, b = sealed
    rival = _get(kit, p["inst"], call, a)
    missing = kit.client.get(f"/api/v1/calls/{call['id']}/bids/999999", headers=p["inst"].headers)
    assert rival.status_code == missing.status_code == 404
    assert rival.json() == missing.json()


def test_expert_cannot_score_or_change_unassigned_bid(sealed):
    kit, call, p, a, b = sealed
    scores = {"scores": {"技术方案": 90, "团队实力": 90, "报价": 90}}
    r = kit.client.post(f"/api/v1/calls/{call['id']}/bids/{b['id']}/scores", json=scores, headers=p["ex_inst"].headers)
    assert r.status_code == 404
    # A rival cannot change or withdraw another's bid either (also 404).
    r = kit.client.patch(f"/api/v1/calls/{call['id']}/bids/{a['id']}", json={"plan": "x"}, headers=p["inst"].headers)
    assert r.status_code == 404
    r = kit.client.post(f"/api/v1/calls/{call['id']}/bids/{a['id']}/withdraw", headers=p["inst"].headers)
    assert r.status_code == 404


def test_expert_does_not_see_other_experts_scores(pg_kit):
    kit = pg_kit
    call = kit.published_call(experts_per_bid=2)
    uni = kit.bidder()
    a = kit.bid(uni, call["id"])
    e1, e2 = kit.experts(2)
    kit.close_and_check(call["id"], [a])
    kit.post(kit.officer, f"/api/v1/calls/{call['id']}/review")
    kit.post(
        e1,
        f"/api/v1/calls/{call['id']}/bids/{a['id']}/scores",
        {"scores": {"技术方案": 90, "团队实力": 80, "报价": 70}},
    )
    mine = kit.ok(kit.client.get("/api/v1/calls/reviews/mine", headers=e2.headers))
    assert [(m["bid_id"], m["scores"], m["state"]) for m in mine] == [(a["id"], None, "assigned")]
    # The bid as the expert reads it carries no scores at all; the review summary is the bureau's.
    assert "scores" not in kit.ok(kit.client.get(f"/api/v1/calls/{call['id']}/bids/{a['id']}", headers=e2.headers))
    r = kit.client.get(f"/api/v1/calls/{call['id']}/review", headers=e2.headers)
    assert r.status_code == 403
    summary = kit.ok(kit.client.get(f"/api/v1/calls/{call['id']}/review", headers=kit.officer.headers))
    assert summary[0]["n_scored"] == 1 and summary[0]["pending"] == 1


def test_unpublished_call_is_hidden_but_poser_and_bureau_see_it(pg_kit):
    kit = pg_kit
    call = kit.post(kit.firm, "/api/v1/calls", call_body(), 201)
    for who, status in ((None, 404), (kit.bidder(), 404), (kit.firm, 200), (kit.officer, 200)):
        assert kit.client.get(f"/api/v1/calls/{call['id']}", headers=who.headers if who else {}).status_code == status
    listed = kit.ok(kit.client.get("/api/v1/calls"))
    assert listed["total"] == 0
    assert kit.ok(kit.client.get("/api/v1/calls", headers=kit.firm.headers))["total"] == 1
