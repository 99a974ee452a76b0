"""Expert review: assignment by field, recusal, scoring once, trimmed aggregate, disagreement flag."""

from __future__ import annotations

import sqlalchemy as sa

from market.calls.models import ReviewAssignment
from market.core.db import session_scope
from market.core.vocab import OrgKind
from tests.calls.conftest import FIELD


def _assigned(bid_id: int) -> set[int]:
    with session_scope() as s:
        rows = s.scalars(
            sa.select(ReviewAssignment).where(ReviewAssignment.bid_id == bid_id, ReviewAssignment.state != "recused")
        )
        return {a.expert_user_id for a in rows}


def test_assignment_by_field_never_own_org_or_declared_conflict(pg_kit):
    kit = pg_kit
    call = kit.published_call(experts_per_bid=2)
    uni, member = kit.bidder(OrgKind.university), kit.bidder(OrgKind.enterprise)
    bid = kit.consortium_bid(uni, call["id"], [member])
    own = kit.world.expert(affiliation_org_id=uni.org_id, fields=[FIELD])
    from_member = kit.world.expert(affiliation_org_id=member.org_id, fields=[FIELD])
    other_field = kit.world.expert(fields=["agriculture"])
    declared = kit.world.expert(fields=[FIELD])
    kit.post(declared, "/api/v1/calls/conflicts", {"org_id": member.org_id, "reason": "曾任该公司顾问"}, 201)
    ok1, ok2 = kit.experts(2)
    kit.close_and_check(call["id"], [bid])
    kit.post(kit.officer, f"/api/v1/calls/{call['id']}/review")
    assert _assigned(bid["id"]) == {ok1.user_id, ok2.user_id}
    assert not _assigned(bid["id"]) & {own.user_id, from_member.user_id, other_field.user_id, declared.user_id}


def test_not_enough_experts_blocks_review(kit):
    call = kit.published_call(experts_per_bid=3)
    bid = kit.bid(kit.bidder(), call["id"])
    kit.experts(2)
    kit.close_and_check(call["id"], [bid])
    r = kit.client.post(f"/api/v1/calls/{call['id']}/review", headers=kit.officer.headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "not_enough_experts"


def test_review_waits_for_formal_check_and_failed_bids_are_not_reviewed(kit):
    call = kit.published_call(experts_per_bid=1)
    a, b = kit.bid(kit.bidder(), call["id"]), kit.bid(kit.bidder(), call["id"])
    kit.experts(1)
    kit.clock.now = kit.clock.now.replace(year=2027)
    kit.post(kit.officer, f"/api/v1/calls/{call['id']}/close-bidding")
    kit.post(kit.officer, f"/api/v1/calls/{call['id']}/bids/{a['id']}/formal-check", {"passed": True})
    r = kit.client.post(f"/api/v1/calls/{call['id']}/review", headers=kit.officer.headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "formal_check_pending"
    r = kit.client.post(
        f"/api/v1/calls/{call['id']}/bids/{b['id']}/formal-check", json={"passed": False}, headers=kit.officer.headers
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "reason_required"
    failed = kit.post(
        kit.officer,
        f"/api/v1/calls/{call['id']}/bids/{b['id']}/formal-check",
        {"passed": False, "reason": "缺少单位承诺书"},
    )
    assert failed["state"] == "formal_failed" and failed["formal_check_reason"] == "缺少单位承诺书"
    kit.post(kit.officer, f"/api/v1/calls/{call['id']}/review")
    assert len(_assigned(a["id"])) == 1 and _assigned(b["id"]) == set()


def test_recusal_on_a_bid_reassigns_and_scores_only_once(pg_kit):
    kit = pg_kit
    call = kit.published_call(experts_per_bid=1)
    bid = kit.bid(kit.bidder(), call["id"])
    e1, e2 = kit.experts(2)
    kit.close_and_check(call["id"], [bid])
    kit.post(kit.officer, f"/api/v1/calls/{call['id']}/review")
    first = _assigned(bid["id"])
    (who,) = [e for e in (e1, e2) if e.user_id in first]
    (spare,) = [e for e in (e1, e2) if e is not who]
    kit.post(who, "/api/v1/calls/conflicts", {"bid_id": bid["id"], "reason": "与团队负责人有合作"}, 201)
    assert _assigned(bid["id"]) == {spare.user_id}
    # The recused expert no longer sees the bid.
    assert kit.client.get(f"/api/v1/calls/{call['id']}/bids/{bid['id']}", headers=who.headers).status_code == 404
    scores = {"scores": {"技术方案": 80, "团队实力": 80, "报价": 80}}
    kit.post(spare, f"/api/v1/calls/{call['id']}/bids/{bid['id']}/scores", scores)
    r = kit.client.post(f"/api/v1/calls/{call['id']}/bids/{bid['id']}/scores", json=scores, headers=spare.headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "already_scored"
    bad = kit.client.post(
        f"/api/v1/calls/{call['id']}/bids/{bid['id']}/scores", json={"scores": {"技术方案": 80}}, headers=who.headers
    )
    assert bad.status_code == 404


def test_five_experts_trimmed_and_disagreement_flagged(pg_kit):
    kit = pg_kit
    call = kit.published_call(experts_per_bid=5)
    bid = kit.bid(kit.bidder(), call["id"])
    experts = kit.experts(5)
    kit.close_and_check(call["id"], [bid])
    kit.post(kit.officer, f"/api/v1/calls/{call['id']}/review")
    # All criteria equal, so each weighted total is that number: 20, 70, 75, 80, 95.
    for e, v in zip(experts, (20, 70, 75, 80, 95), strict=True):
        kit.post(
            e,
            f"/api/v1/calls/{call['id']}/bids/{bid['id']}/scores",
            {"scores": {"技术方案": v, "团队实力": v, "报价": v}},
        )
    (row,) = kit.ok(kit.client.get(f"/api/v1/calls/{call['id']}/review", headers=kit.officer.headers))
    assert (row["score"], row["n_scored"], row["trimmed"], row["spread"], row["disagreement"]) == (
        "75.00",
        5,
        True,
        "75.00",
        True,
    )
    # Winners can be proposed only once every review is in — and now they are.
    kit.post(kit.officer, f"/api/v1/calls/{call['id']}/notice", {"bid_ids": [bid["id"]]})


def test_expert_from_posing_firm_is_not_assigned(kit):
    call = kit.published_call(experts_per_bid=1)
    bid = kit.bid(kit.bidder(), call["id"])
    kit.world.expert(affiliation_org_id=kit.firm.org_id, fields=[FIELD])
    kit.close_and_check(call["id"], [bid])
    r = kit.client.post(f"/api/v1/calls/{call['id']}/review", headers=kit.officer.headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "not_enough_experts"
