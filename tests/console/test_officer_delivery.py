"""The programme officer's pages after the award and before it ends: cancel a call, a failed milestone's decision,
acceptance (验收), and the 赛马制 mid-term review and down-selection — each form the same flow the API calls, refused
with the API's codes next to the field, audited, and closed to every other role."""

from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from market.accounts.roles import Role
from market.calls.models import Call, Milestone, Project
from market.core.audit import AuditEntry
from market.core.db import session_scope
from market.core.vocab import OrgKind
from tests.calls.conftest import Kit
from tests.console.conftest import sign_in
from tests.factories import Member

CALLS = "/console/officer/calls"
PROJECTS = "/console/officer/projects"


def _audit_count(entity_type: str, entity_id: int, action: str, actor: Member) -> int:
    with session_scope() as s:
        return (
            s.scalar(
                sa.select(sa.func.count()).where(
                    AuditEntry.entity_type == entity_type,
                    AuditEntry.entity_id == entity_id,
                    AuditEntry.action == action,
                    AuditEntry.actor_user_id == actor.user_id,
                )
            )
            or 0
        )


def _others(kit: Kit) -> list[Member]:
    return [kit.world.bureau(Role.registrar), kit.world.expert(), kit.firm]


def _signed_project(kit: Kit) -> tuple[dict, Member]:
    call = kit.published_call(experts_per_bid=1)
    uni = kit.bidder()
    bid = kit.bid(uni, call["id"])
    experts = kit.experts(1)
    kit.close_and_check(call["id"], [bid])
    (project,) = kit.to_award(call["id"], [bid["id"]], experts)
    return kit.sign(project), uni


def test_cancel_a_call_from_its_page(client: TestClient, kit: Kit) -> None:
    call = kit.published_call()
    url = f"{CALLS}/{call['id']}"
    for member in _others(kit):
        csrf = sign_in(client, member)
        assert client.post(f"{url}/cancel", data={"csrf_token": csrf, "reason": "x"}).status_code == 403
    csrf = sign_in(client, kit.officer)
    page = client.get(url)
    assert page.status_code == 200 and 'id="cancel-form"' in page.text
    r = client.post(f"{url}/cancel", data={"csrf_token": csrf, "reason": "  "})
    assert r.status_code == 422 and 'id="reason-error"' in r.text and 'id="cancel-reason"' in r.text
    r = client.post(f"{url}/cancel", data={"csrf_token": csrf, "reason": "需求方撤回"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    page = client.get(r.headers["location"])
    assert "榜单已取消" in page.text and "已取消" in page.text and 'id="cancel-form"' not in page.text
    with session_scope() as s:
        cancelled = s.get(Call, call["id"])
        assert cancelled is not None and cancelled.state == "cancelled"
    assert _audit_count("call", call["id"], "cancel", kit.officer) == 1
    # cancelled already: the flow refuses again with the API's code, nothing more is written
    r = client.post(f"{url}/cancel", data={"csrf_token": csrf, "reason": "再次取消"})
    assert r.status_code == 409 and "invalid_state" in r.text
    assert _audit_count("call", call["id"], "cancel", kit.officer) == 1


def test_failed_milestone_decision_then_acceptance(client: TestClient, kit: Kit) -> None:
    project, uni = _signed_project(kit)
    pid, first = project["id"], project["milestones"][0]
    api = f"/api/v1/calls/projects/{pid}/milestones/{first['id']}"
    kit.post(uni, f"{api}/submit", {"note": "小试样品"})
    kit.post(kit.officer, f"{api}/review", {"passed": False, "note": "电导率未达标"})
    decision = f"{PROJECTS}/{pid}/milestones/{first['id']}/decision"
    for member in _others(kit):
        csrf = sign_in(client, member)
        r = client.post(decision, data={"csrf_token": csrf, "decision": "continue", "reason": "x"})
        assert r.status_code == 403, member
    csrf = sign_in(client, kit.officer)
    page = client.get(f"{PROJECTS}/{pid}")
    assert f'id="decision-form-{first["id"]}"' in page.text and 'id="acceptance-form"' not in page.text  # suspended
    # no decision chosen, no reason: the API's codes beside the fields
    r = client.post(decision, data={"csrf_token": csrf, "decision": "", "reason": ""})
    assert r.status_code == 422 and 'id="reason-error"' in r.text
    r = client.post(decision, data={"csrf_token": csrf, "decision": "give_up", "reason": "进度滞后"})
    assert r.status_code == 422 and 'id="decision-error"' in r.text and "decision_invalid" in r.text
    r = client.post(
        decision, data={"csrf_token": csrf, "decision": "continue", "reason": "其余指标达标"}, follow_redirects=False
    )
    assert r.status_code == 303, r.text
    page = client.get(r.headers["location"])
    assert "处理决定已记录" in page.text and "继续实施：其余指标达标" in page.text
    with session_scope() as s:
        m = s.get(Milestone, first["id"])
        p = s.get(Project, pid)
        assert m is not None and m.decision == "continue" and p is not None and p.state == "in_progress"
    assert _audit_count("call_project", pid, "milestone_continue", kit.officer) == 1

    # 验收: running again, the acceptance form is there; its refusals stand next to their fields
    acceptance = f"{PROJECTS}/{pid}/acceptance"
    assert 'id="acceptance-form"' in page.text
    for member in _others(kit):
        other_csrf = sign_in(client, member)
        r = client.post(acceptance, data={"csrf_token": other_csrf, "result": "failed", "note": "x"})
        assert r.status_code == 403, member
    csrf = sign_in(client, kit.officer)
    r = client.post(acceptance, data={"csrf_token": csrf, "result": "failed", "note": ""})
    assert r.status_code == 422 and 'id="note-error"' in r.text
    r = client.post(acceptance, data={"csrf_token": csrf, "result": "failed", "note": "未达标", "unspent_amount": "多"})
    assert r.status_code == 422 and 'id="unspent_amount-error"' in r.text
    r = client.post(acceptance, data={"csrf_token": csrf, "result": "maybe", "note": "未达标"})
    assert r.status_code == 422 and 'id="result-error"' in r.text and "result_invalid" in r.text
    # nothing was paid yet: more than that to recover is refused by the flow, beside the amount
    r = client.post(
        acceptance,
        data={"csrf_token": csrf, "result": "failed", "note": "关键指标未达到", "unspent_amount": "12000.50"},
    )
    assert r.status_code == 422 and 'id="unspent_amount-error"' in r.text and "unspent_amount_range" in r.text
    r = client.post(
        acceptance,
        data={"csrf_token": csrf, "result": "failed", "note": "关键指标未达到", "unspent_amount": "0.00"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    page = client.get(r.headers["location"])
    assert "验收结论已记录" in page.text and "验收不通过" in page.text and 'id="acceptance-form"' not in page.text
    with session_scope() as s:
        p = s.get(Project, pid)
        assert p is not None and p.state == "failed" and p.recovery_amount == Decimal("0.00")
    with session_scope() as s:
        actions = set(
            s.scalars(
                sa.select(AuditEntry.action).where(
                    AuditEntry.entity_type == "call_project",
                    AuditEntry.entity_id == pid,
                    AuditEntry.actor_user_id == kit.officer.user_id,
                )
            )
        )
    assert {"milestone_continue"} < actions and len(actions) >= 3, actions  # review, decision and acceptance


@pytest.fixture
def horse_race(kit: Kit) -> tuple[dict, list[dict], list[dict]]:
    call = kit.published_call(experts_per_bid=1, winners_count=2)
    bids = [kit.bid(kit.bidder(), call["id"]), kit.bid(kit.bidder(OrgKind.institute), call["id"])]
    experts = kit.experts(1)
    kit.close_and_check(call["id"], bids)
    projects = [kit.sign(p) for p in kit.to_award(call["id"], [b["id"] for b in bids], experts)]
    return call, bids, projects


def test_horse_race_midterm_review_and_down_selection(
    client: TestClient, kit: Kit, horse_race: tuple[dict, list[dict], list[dict]]
) -> None:
    call, bids, projects = horse_race
    url = f"{CALLS}/{call['id']}"
    keep = {"keep_bid_ids": str(bids[0]["id"]), "disposition": "returned", "reason": "中期评估排名第一"}
    for member in _others(kit):
        csrf = sign_in(client, member)
        assert client.post(f"{url}/midterm-review", data={"csrf_token": csrf, "conclusion": "x"}).status_code == 403
        assert client.post(f"{url}/down-select", data={"csrf_token": csrf, **keep}).status_code == 403
    csrf = sign_in(client, kit.officer)
    page = client.get(url)
    assert 'id="midterm-form"' in page.text and 'id="down-select-form"' not in page.text  # no review yet
    # down-selection rests on a recorded mid-term review: the flow refuses it, as the API does
    r = client.post(f"{url}/down-select", data={"csrf_token": csrf, **keep})
    assert r.status_code == 409 and "midterm_review_required" in r.text
    r = client.post(f"{url}/midterm-review", data={"csrf_token": csrf, "conclusion": ""})
    assert r.status_code == 422 and 'id="conclusion-error"' in r.text
    r = client.post(
        f"{url}/midterm-review", data={"csrf_token": csrf, "conclusion": "第二组进度滞后"}, follow_redirects=False
    )
    assert r.status_code == 303, r.text
    page = client.get(r.headers["location"])
    assert "中期评估已记录" in page.text and "第二组进度滞后" in page.text and 'id="down-select-form"' in page.text
    assert _audit_count("call", call["id"], "midterm_review", kit.officer) == 1
    # nobody kept, no disposition: the API's codes next to those fields
    r = client.post(f"{url}/down-select", data={"csrf_token": csrf, "disposition": "", "reason": "x"})
    assert r.status_code == 422 and 'id="keep_bid_ids-error"' in r.text
    r = client.post(f"{url}/down-select", data={"csrf_token": csrf, **keep, "disposition": "kept"})
    assert r.status_code == 422 and 'id="disposition-error"' in r.text
    r = client.post(f"{url}/down-select", data={"csrf_token": csrf, **keep}, follow_redirects=False)
    assert r.status_code == 303, r.text
    page = client.get(r.headers["location"])
    assert "择优保留已决定" in page.text and "未保留（赛马）" in page.text
    with session_scope() as s:
        states = {p.bid_id: p.state for p in s.scalars(sa.select(Project).where(Project.call_id == call["id"]))}
    assert states == {bids[0]["id"]: "in_progress", bids[1]["id"]: "dropped"}
    assert _audit_count("call", call["id"], "down_select", kit.officer) == 1
    assert projects
