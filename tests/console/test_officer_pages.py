"""The programme officer's console pages: vetting, the call editor, sealed bids, formal check, expert
assignment with conflicts, the review board, the notice with objections, award, projects — per role, with CSRF."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from market.accounts.roles import Role
from market.calls import flows
from market.calls.models import Call, Milestone
from market.core.audit import AuditEntry
from market.core.db import session_scope
from tests.calls.conftest import DEADLINE, Kit, call_body
from tests.console.conftest import csrf_tokens, sign_in
from tests.factories import World

CALLS = "/console/officer/calls"


def _state(call_id: int) -> str:
    with session_scope() as s:
        call = s.get(Call, call_id)
        assert call is not None
        return call.state


def _audited(call_id: int, action: str) -> AuditEntry | None:
    with session_scope() as s:
        return s.scalar(
            sa.select(AuditEntry).where(
                AuditEntry.entity_type == "call", AuditEntry.entity_id == call_id, AuditEntry.action == action
            )
        )


@pytest.mark.parametrize("role", [Role.registrar, Role.expert, Role.org_admin])
def test_only_officers_open_the_call_pages(client: TestClient, world: World, kit: Kit, role: Role) -> None:
    call = kit.published_call()
    client.cookies.clear()
    assert client.get(CALLS, follow_redirects=False).status_code == 303
    member = world.expert() if role == Role.expert else world.member() if role == Role.org_admin else world.bureau(role)
    csrf = sign_in(client, member)
    assert client.get(CALLS).status_code == 403
    assert client.get(f"{CALLS}/{call['id']}").status_code == 403
    assert client.post(f"{CALLS}/{call['id']}/close-bidding", data={"csrf_token": csrf}).status_code == 403
    for officer_role in (Role.programme_officer, Role.bureau_admin):
        sign_in(client, world.bureau(officer_role))
        page = client.get(CALLS)
        assert page.status_code == 200 and f'href="{CALLS}"' in page.text and call["title"] in page.text


def test_vet_a_proposal_and_compile_the_call(client: TestClient, kit: Kit) -> None:
    proposal = kit.post(kit.firm, "/api/v1/calls", call_body(title="出题：海水淡化膜"), 201)
    csrf = sign_in(client, kit.officer)
    listing = client.get(CALLS)
    assert "待审核的出题（1）" in listing.text and "出题：海水淡化膜" in listing.text
    url = f"{CALLS}/{proposal['id']}"
    assert client.post(f"{url}/vet", data={"decision": "approve"}).status_code == 403  # no CSRF token
    r = client.post(f"{url}/vet", data={"decision": "reject", "note": "", "csrf_token": csrf})
    assert r.status_code == 422 and 'id="note-error"' in r.text and "reason_required" in r.text
    assert _state(proposal["id"]) == "proposed"
    r = client.post(f"{url}/vet", data={"decision": "approve", "note": "问题清晰", "csrf_token": csrf})
    assert r.status_code == 200 and _state(proposal["id"]) == "vetted"
    entry = _audited(proposal["id"], "vet")
    assert entry is not None and entry.actor_user_id == kit.officer.user_id

    # the editor: criteria weights must sum to 100 — the API's code and message next to the criteria,
    # and nothing of the refused edit is kept (the service had set the terms before it found the problem)
    page = client.get(url)
    assert 'id="terms-form"' in page.text and 'for="f-title"' in page.text
    assert csrf_tokens(page.text) == {csrf}  # the editor, publish and logout forms carry the session's token
    form = {
        "title": "海水淡化反渗透膜",
        "problem": "通量与脱盐率不足。",
        "technical_field": "new_materials",
        "posing_org_id": str(kit.firm.org_id),
        "indicator_name": ["脱盐率", ""],
        "indicator_target": ["≥ 99.8%", ""],
        "indicator_unit": ["", ""],
        "criterion_name": ["技术方案", "团队", "报价"],
        "criterion_weight": ["50", "30", "10"],
        "total_amount": "3000000.00",
        "gov_support_ratio_pct": "30",
        "gov_support_cap": "",
        "duration_months": "18",
        "first_tranche_pct": "60",
        "winners_count": "1",
        "experts_per_bid": "3",
        "notice_days": "7",
        "bid_deadline": "2026-04-30T17:00",
        "consortium_allowed": "on",
        "csrf_token": csrf,
    }
    r = client.post(f"{url}/terms", data=form)
    assert r.status_code == 422
    assert 'id="review_criteria-error"' in r.text and "criteria_weights_sum" in r.text
    assert 'value="海水淡化反渗透膜"' in r.text  # what was typed is shown back
    with session_scope() as s:
        kept = s.get(Call, proposal["id"])
        assert kept is not None and kept.title == "出题：海水淡化膜" and kept.notice_days == 5
    form["criterion_weight"] = ["50", "30", "20"]
    r = client.post(f"{url}/terms", data=form)
    assert r.status_code == 200, r.text
    with session_scope() as s:
        saved = s.get(Call, proposal["id"])
        assert saved is not None and saved.title == "海水淡化反渗透膜" and saved.notice_days == 7
        assert [c["weight"] for c in saved.review_criteria] == [50, 30, 20]
        assert saved.bid_deadline == dt.datetime(2026, 4, 30, 9, 0, tzinfo=dt.UTC)  # typed in Beijing time
    # a non-numeric amount: the schema's refusal, at the field
    r = client.post(f"{url}/terms", data=form | {"total_amount": "三百万"})
    assert r.status_code == 422 and 'id="total_amount-error"' in r.text
    r = client.post(f"{url}/publish", data={"csrf_token": csrf})
    assert r.status_code == 200 and _state(proposal["id"]) == "published"


def test_bids_stay_sealed_until_bidding_closes_then_formal_check(client: TestClient, kit: Kit) -> None:
    call = kit.published_call()
    uni = kit.bidder()
    bid = kit.bid(uni, call["id"], team_leader="封存的负责人")
    csrf = sign_in(client, kit.officer)
    url = f"{CALLS}/{call['id']}"
    page = client.get(url)
    assert "已收到 <strong>1</strong> 份方案" in page.text and "封存的负责人" not in page.text
    # before the deadline the flow refuses to close: its error on the page
    r = client.post(f"{url}/close-bidding", data={"csrf_token": csrf})
    assert r.status_code == 409 and _state(call["id"]) == "published"
    kit.clock.now = DEADLINE
    r = client.post(f"{url}/close-bidding", data={"csrf_token": csrf})
    assert r.status_code == 200 and "封存的负责人" in r.text
    r = client.post(f"{url}/bids/{bid['id']}/formal-check", data={"passed": "no", "reason": "", "csrf_token": csrf})
    assert r.status_code == 422 and 'id="reason-error"' in r.text
    r = client.post(f"{url}/bids/{bid['id']}/formal-check", data={"passed": "yes", "csrf_token": csrf})
    assert r.status_code == 200 and "形式审查通过" in r.text


def test_assignment_shows_conflicts_and_the_board_flags_disagreement(client: TestClient, kit: Kit) -> None:
    call = kit.published_call()
    a, b = kit.bidder(), kit.bidder()
    bid_a, bid_b = kit.bid(a, call["id"]), kit.bid(b, call["id"])
    experts = kit.experts(4)
    # one expert declares a conflict with a bidding organisation: never assigned to it, and listed
    kit.post(experts[3], "/api/v1/calls/conflicts", {"org_id": a.org_id, "reason": "曾在该校任职"}, 201)
    kit.close_and_check(call["id"], [bid_a, bid_b])
    csrf = sign_in(client, kit.officer)
    url = f"{CALLS}/{call['id']}"
    r = client.post(f"{url}/review", data={"csrf_token": csrf})
    assert r.status_code == 200 and _state(call["id"]) == "reviewing"
    assert 'id="conflicts"' in r.text and "曾在该校任职" in r.text
    assert 'id="assignments"' in r.text
    dissent = True  # the first expert scoring bid B scores it far below the others
    for e in experts:
        for row in kit.ok(client.get("/api/v1/calls/reviews/mine", headers=e.headers)):
            low = dissent and row["bid_id"] == bid_b["id"]
            dissent = dissent and not low
            points = 20 if low else 90
            scores = {"技术方案": points, "团队实力": points, "报价": points}
            kit.post(e, f"/api/v1/calls/{call['id']}/bids/{row['bid_id']}/scores", {"scores": scores})
    page = client.get(url)
    assert 'id="board"' in page.text and "分歧较大" in page.text
    api = kit.ok(client.get(f"/api/v1/calls/{call['id']}/review", headers=kit.officer.headers))
    assert [r["disagreement"] for r in api if r["bid_id"] == bid_b["id"]] == [True]
    r = client.post(f"{url}/notice", data={"csrf_token": csrf})
    assert r.status_code == 422 and 'id="bid_ids-error"' in r.text
    r = client.post(f"{url}/notice", data={"bid_ids": [str(bid_a["id"])], "csrf_token": csrf})
    assert r.status_code == 200 and _state(call["id"]) == "notice" and 'id="notice"' in r.text


def test_officer_awards_only_after_the_notice_and_every_objection(client: TestClient, kit: Kit) -> None:
    call = kit.published_call()
    uni, rival = kit.bidder(), kit.bidder()
    bid, other = kit.bid(uni, call["id"]), kit.bid(rival, call["id"])
    experts = kit.experts(3)
    kit.close_and_check(call["id"], [bid, other])
    kit.post(kit.officer, f"/api/v1/calls/{call['id']}/review")
    kit.score_all(call["id"], experts)
    kit.post(kit.officer, f"/api/v1/calls/{call['id']}/notice", {"bid_ids": [bid["id"]]})
    objection = kit.post(
        rival, f"/api/v1/calls/{call['id']}/objections", {"text": "指标承诺不实", "bid_id": bid["id"]}, 201
    )
    csrf = sign_in(client, kit.officer)
    url = f"{CALLS}/{call['id']}"
    # during the notice: the award is refused by the flow, and the page says why
    r = client.post(f"{url}/award", data={"csrf_token": csrf})
    assert r.status_code == 409 and "invalid_state" in r.text and _state(call["id"]) == "notice"
    kit.clock.now += dt.timedelta(days=6)
    with session_scope() as s:
        flows.advance_deadlines(s, kit.clock.now)
    # an open objection still blocks it
    r = client.post(f"{url}/award", data={"csrf_token": csrf})
    assert r.status_code == 409 and _state(call["id"]) == "notice_ended"
    r = client.post(
        f"{url}/objections/{objection['id']}/resolve", data={"upheld": "no", "resolution": "", "csrf_token": csrf}
    )
    assert r.status_code == 422 and f'id="res-{objection["id"]}"' in r.text and 'id="resolution-error"' in r.text
    r = client.post(
        f"{url}/objections/{objection['id']}/resolve",
        data={"upheld": "no", "resolution": "经核查，指标承诺有据", "csrf_token": csrf},
    )
    assert r.status_code == 200 and "不成立" in r.text
    r = client.post(f"{url}/award", data={"csrf_token": csrf})
    assert r.status_code == 200 and _state(call["id"]) == "awarded" and 'id="projects"' in r.text
    entry = _audited(call["id"], "award")
    assert entry is not None and entry.actor_user_id == kit.officer.user_id
    # the project: milestones and tranches, a due tranche paid through the flow
    project_id = int(r.text.split('href="/console/officer/projects/')[1].split('"')[0])
    project = kit.ok(client.get(f"/api/v1/calls/projects/{project_id}", headers=kit.officer.headers))
    kit.sign(project)
    page = client.get(f"/console/officer/projects/{project_id}")
    assert page.status_code == 200 and 'id="milestones"' in page.text and 'id="tranches"' in page.text
    # the page's title is its title (a form pasted into the title block once rendered inside <title>), and the
    # acceptance form appears once
    title = page.text.split("<title>", 1)[1].split("</title>", 1)[0]
    assert "<form" not in title and f"项目 {project_id}" in title, title
    assert page.text.count('id="acceptance-form"') <= 1
    due = [
        t
        for t in kit.ok(client.get(f"/api/v1/calls/projects/{project_id}", headers=kit.officer.headers))["tranches"]
        if t["state"] == "due"
    ]
    assert due
    r = client.post(f"/console/officer/projects/{project_id}/tranches/{due[0]['id']}/pay", data={"csrf_token": csrf})
    assert r.status_code == 200 and "已拨付" in r.text
    # the team hands in the first milestone (API); the officer reviews it here: a failure needs no note, a pass is kept
    first = project["milestones"][0]
    milestone_url = f"/api/v1/calls/projects/{project_id}/milestones/{first['id']}"
    kit.post(uni, f"{milestone_url}/submit", {"note": "小试样品与测试报告已提交"})
    page = client.get(f"/console/officer/projects/{project_id}")
    assert f'id="ms-note-{first["id"]}"' in page.text and "小试样品与测试报告已提交" in page.text
    r = client.post(
        f"/console/officer/projects/{project_id}/milestones/{first['id']}/review",
        data={"passed": "yes", "note": "指标达到", "csrf_token": csrf},
    )
    assert r.status_code == 200 and "节点审核已记录" in r.text
    with session_scope() as s:
        reviewed = s.get(Milestone, first["id"])
        assert reviewed is not None and reviewed.state == "passed" and reviewed.review_note == "指标达到"
    # the registrar may follow the API's projects but not act here
    registrar_csrf = sign_in(client, kit.world.bureau(Role.registrar))
    r = client.post(
        f"/console/officer/projects/{project_id}/tranches/{due[0]['id']}/pay", data={"csrf_token": registrar_csrf}
    )
    assert r.status_code == 403
