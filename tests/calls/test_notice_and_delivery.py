"""Public notice and objections; 赛马制 award and down-selection; extensions; acceptance outcomes."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa

from market.calls import flows
from market.calls.models import Call
from market.core.db import session_scope
from market.core.vocab import OrgKind


def _to_notice(kit, **terms):
    call = kit.published_call(experts_per_bid=1, **terms)
    bids = [kit.bid(kit.bidder(OrgKind.university), call["id"]) for _ in range(3)]
    experts = kit.experts(1)
    kit.close_and_check(call["id"], bids)
    kit.post(kit.officer, f"/api/v1/calls/{call['id']}/review")
    kit.score_all(call["id"], experts)
    return call, bids


def _advance(kit, days: float) -> None:
    kit.clock.now = kit.clock.now + dt.timedelta(days=days)
    with session_scope() as s:
        flows.advance_deadlines(s, kit.clock.now)


def test_objection_blocks_award_until_resolved(kit):
    call, bids = _to_notice(kit)
    notice = kit.post(kit.officer, f"/api/v1/calls/{call['id']}/notice", {"bid_ids": [bids[0]["id"]]})
    assert notice["state"] == "notice" and [n["bid_id"] for n in notice["notice"]] == [bids[0]["id"]]
    # The notice names the proposed winner publicly, but the bid itself stays sealed.
    public = kit.ok(kit.client.get(f"/api/v1/calls/{call['id']}"))
    assert public["notice"][0]["bid_id"] == bids[0]["id"] and "price" not in public["notice"][0]
    assert kit.client.get(f"/api/v1/calls/{call['id']}/bids/{bids[0]['id']}").status_code == 404
    # Anyone logged in may object; anonymous may not.
    r = kit.client.post(f"/api/v1/calls/{call['id']}/objections", json={"text": "成果造假"})
    assert r.status_code == 401
    citizen = kit.bidder(OrgKind.other)
    obj = kit.post(
        citizen, f"/api/v1/calls/{call['id']}/objections", {"bid_id": bids[0]["id"], "text": "论文数据存疑"}, 201
    )
    # Objecting to a bid that is not a proposed winner: not found.
    r = kit.client.post(
        f"/api/v1/calls/{call['id']}/objections", json={"bid_id": bids[1]["id"], "text": "x"}, headers=citizen.headers
    )
    assert r.status_code == 404
    # Too early to award; then the beat ends the notice, but the objection is still open.
    r = kit.client.post(f"/api/v1/calls/{call['id']}/award", headers=kit.officer.headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "invalid_state"
    _advance(kit, 5)
    r = kit.client.post(f"/api/v1/calls/{call['id']}/objections", json={"text": "晚了"}, headers=citizen.headers)
    assert r.status_code == 409
    r = kit.client.post(f"/api/v1/calls/{call['id']}/award", headers=kit.officer.headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "objections_open"
    # The objector sees their own objection; a bidder sees none; a non-officer cannot resolve.
    assert [
        o["id"] for o in kit.ok(kit.client.get(f"/api/v1/calls/{call['id']}/objections", headers=citizen.headers))
    ] == [obj["id"]]
    assert kit.ok(kit.client.get(f"/api/v1/calls/{call['id']}/objections", headers=kit.firm.headers)) == []
    r = kit.client.post(
        f"/api/v1/calls/{call['id']}/objections/{obj['id']}/resolve",
        json={"upheld": False, "resolution": "x"},
        headers=citizen.headers,
    )
    assert r.status_code == 403
    kit.post(
        kit.officer,
        f"/api/v1/calls/{call['id']}/objections/{obj['id']}/resolve",
        {"upheld": False, "resolution": "经核查数据真实"},
    )
    projects = kit.post(kit.officer, f"/api/v1/calls/{call['id']}/award")
    assert [p["bid_id"] for p in projects] == [bids[0]["id"]]


def test_upheld_objection_disqualifies_and_reopens_review(kit):
    call, bids = _to_notice(kit)
    kit.post(kit.officer, f"/api/v1/calls/{call['id']}/notice", {"bid_ids": [bids[0]["id"]]})
    obj = kit.post(
        kit.firm, f"/api/v1/calls/{call['id']}/objections", {"bid_id": bids[0]["id"], "text": "团队负责人失信"}, 201
    )
    kit.post(
        kit.officer,
        f"/api/v1/calls/{call['id']}/objections/{obj['id']}/resolve",
        {"upheld": True, "resolution": "属实"},
    )
    assert kit.ok(kit.client.get(f"/api/v1/calls/{call['id']}", headers=kit.officer.headers))["state"] == "reviewing"
    assert (
        kit.ok(kit.client.get(f"/api/v1/calls/{call['id']}/bids/{bids[0]['id']}", headers=kit.officer.headers))["state"]
        == "disqualified"
    )
    r = kit.client.post(
        f"/api/v1/calls/{call['id']}/notice", json={"bid_ids": [bids[0]["id"]]}, headers=kit.officer.headers
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "bid_not_eligible"
    renewed = kit.post(kit.officer, f"/api/v1/calls/{call['id']}/notice", {"bid_ids": [bids[1]["id"]]})
    assert dt.datetime.fromisoformat(renewed["notice_ends_at"]) == kit.clock.now + dt.timedelta(days=5)
    assert [n["bid_id"] for n in renewed["notice"]] == [bids[1]["id"]]


def test_horse_race_down_selection_extension_and_acceptance_outcomes(kit):
    call, bids = _to_notice(kit, winners_count=3, first_tranche_pct=70)
    r = kit.client.post(
        f"/api/v1/calls/{call['id']}/notice",
        json={"bid_ids": [b["id"] for b in bids] + [999]},
        headers=kit.officer.headers,
    )
    assert r.status_code == 422
    kit.post(kit.officer, f"/api/v1/calls/{call['id']}/notice", {"bid_ids": [b["id"] for b in bids]})
    _advance(kit, 5)
    projects = kit.post(kit.officer, f"/api/v1/calls/{call['id']}/award")
    # 1,000,000 of government support in three parallel grants, fen-exact; 70 % first tranche.
    grants = [Decimal(p["gov_grant"]) for p in projects]
    assert sum(grants) == Decimal("1000000.00") and grants[0] == Decimal("333333.34")
    assert Decimal(projects[0]["tranches"][0]["amount"]) == Decimal("233333.34")
    assert len({p["contract_id"] for p in projects}) == 3
    for p in projects:
        kit.sign(p)
    keep = {"keep_bid_ids": [bids[0]["id"], bids[1]["id"]], "disposition": "reallocated", "reason": "中期评估排名前二"}
    # Down-selection rests on a recorded mid-term review.
    r = kit.client.post(f"/api/v1/calls/{call['id']}/down-select", json=keep, headers=kit.officer.headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "midterm_review_required"
    kit.post(kit.officer, f"/api/v1/calls/{call['id']}/midterm-review", {"conclusion": "第三组进度滞后"})
    dropped = kit.post(kit.officer, f"/api/v1/calls/{call['id']}/down-select", keep)
    assert [(d["bid_id"], d["state"]) for d in dropped] == [(bids[2]["id"], "dropped")]
    # The first tranche fell due on signing and stays owed; what was not yet due is freed ...
    assert [t["state"] for t in dropped[0]["tranches"]] == ["due", "cancelled", "cancelled", "cancelled"]
    # ... and, as decided, reallocated evenly to the two kept teams (333,333.33 − 233,333.33 = 100,000.00).
    shown = kit.ok(kit.client.get(f"/api/v1/calls/{call['id']}")).get("down_selection")
    assert (shown["disposition"], shown["amount"]) == ("reallocated", "100000.00")
    kept = kit.ok(kit.client.get(f"/api/v1/calls/projects/{projects[0]['id']}", headers=kit.officer.headers))
    assert Decimal(kept["gov_grant"]) == Decimal("383333.34")
    assert [(t["kind"], t["amount"]) for t in kept["tranches"] if t["kind"] == "reallocated"] == [
        ("reallocated", "50000.00")
    ]

    p0, p1 = projects[0]["id"], projects[1]["id"]
    ext = kit.post(kit.officer, f"/api/v1/calls/projects/{p0}/extension", {"months": 6, "reason": "设备到货延迟"})
    assert ext["end_date"] == "2028-10-30" and ext["milestones"][0]["due_date"] == "2027-06-30"
    r = kit.client.post(
        f"/api/v1/calls/projects/{p0}/extension", json={"months": 1, "reason": "再延"}, headers=kit.officer.headers
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "extension_used"
    # A failed milestone review needs a reason; it suspends the project until the officer decides.
    m = ext["milestones"][0]
    winner = kit.world.user(bids[0]["lead_org_id"])
    kit.post(winner, f"/api/v1/calls/projects/{p0}/milestones/{m['id']}/submit", {"note": "小试样品"})
    r = kit.client.post(
        f"/api/v1/calls/projects/{p0}/milestones/{m['id']}/review", json={"passed": False}, headers=kit.officer.headers
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "reason_required"
    reviewed = kit.post(
        kit.officer,
        f"/api/v1/calls/projects/{p0}/milestones/{m['id']}/review",
        {"passed": False, "note": "电导率未达标"},
    )
    assert reviewed["milestones"][0]["state"] == "failed" and reviewed["state"] == "suspended"
    kit.post(
        kit.officer,
        f"/api/v1/calls/projects/{p0}/milestones/{m['id']}/decision",
        {"decision": "continue", "reason": "专家认为可继续"},
    )
    # 尽职免责 only on an expert panel's recorded conclusion; nothing is recovered.
    body = {"result": "diligent", "note": "技术路线受限，勤勉尽责"}
    r = kit.client.post(f"/api/v1/calls/projects/{p0}/acceptance", json=body, headers=kit.officer.headers)
    assert r.status_code == 422 and r.json()["error"]["code"] == "expert_panel_required"
    diligent = kit.post(
        kit.officer,
        f"/api/v1/calls/projects/{p0}/acceptance",
        {**body, "expert_panel": ["王", "李", "赵"], "expert_panel_conclusion": "勤勉尽责，予以免责"},
    )
    assert diligent["state"] == "diligent" and diligent["tranches"][-1]["state"] == "cancelled"
    assert diligent["recovery_amount"] == "0.00"
    first = kit.ok(kit.client.get(f"/api/v1/calls/projects/{p1}", headers=kit.officer.headers))["tranches"][0]
    kit.post(kit.officer, f"/api/v1/calls/projects/{p1}/tranches/{first['id']}/pay")
    failed = kit.post(
        kit.officer,
        f"/api/v1/calls/projects/{p1}/acceptance",
        {"result": "failed", "note": "未达指标", "unspent_amount": "100000.00"},
    )
    assert failed["state"] == "failed" and failed["recovery_amount"] == "100000.00"
    closed = kit.post(kit.officer, f"/api/v1/calls/{call['id']}/close")
    assert closed["state"] == "closed"


def test_project_visible_to_team_poser_and_bureau_only(kit):
    call, bids = _to_notice(kit)
    kit.post(kit.officer, f"/api/v1/calls/{call['id']}/notice", {"bid_ids": [bids[0]["id"]]})
    _advance(kit, 5)
    (p,) = kit.post(kit.officer, f"/api/v1/calls/{call['id']}/award")
    with session_scope() as s:
        assert s.scalar(sa.select(Call.state).where(Call.id == call["id"])) == "awarded"
    outsider = kit.bidder()
    assert kit.client.get(f"/api/v1/calls/projects/{p['id']}", headers=outsider.headers).status_code == 404
    assert kit.client.get(f"/api/v1/calls/projects/{p['id']}", headers=kit.firm.headers).status_code == 200
    # Only the winning team hands in deliverables, and only once signed.
    kit.sign(p)
    m = p["milestones"][0]
    r = kit.client.post(
        f"/api/v1/calls/projects/{p['id']}/milestones/{m['id']}/submit", json={"note": "x"}, headers=kit.firm.headers
    )
    assert r.status_code == 404
