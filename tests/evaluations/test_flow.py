"""Achievement evaluation through the API: agency approval, request, conflict-free assignment, report, who sees what."""

import pytest

from market.accounts.roles import Role
from market.core.db import session_scope
from market.core.vocab import OrgKind
from market.evaluations import rules, service
from tests.listings.payloads import achievement_body

API = "/api/v1/evaluations"


@pytest.mark.parametrize(
    ("state", "action", "after"),
    [
        ("requested", "assign", "assigned"),
        ("assigned", "report", "completed"),
        ("requested", "report", None),
        ("completed", "assign", None),
        ("assigned", "decline", "declined"),
    ],
)
def test_transitions(state, action, after):
    assert rules.next_state(state, action) == after


def test_conflicts():
    assert rules.conflicted({1: 10, 2: 20, 3: 30}, holder_org_id=10, declared=[3]) == [1, 3]


def test_evaluation_flow_and_visibility(client, world):
    holder = world.member(OrgKind.university)
    agency = world.member(OrgKind.intermediary)
    admin = world.bureau(Role.bureau_admin)
    outsider = world.member(OrgKind.enterprise)
    colleague = world.user(holder.org_id)  # from the holder's organisation: may not evaluate
    independent, declared = world.expert(), world.expert()
    achievement = client.post("/api/v1/achievements", json=achievement_body(), headers=holder.headers).json()["id"]

    assert client.post(f"{API}/agencies", json={"hide_evaluators": True}, headers=agency.headers).status_code == 201
    body = {"achievement_id": achievement, "agency_org_id": agency.org_id, "declared_conflicts": [declared.user_id]}
    r = client.post(API, json=body, headers=holder.headers)
    assert r.status_code == 422 and r.json()["error"]["code"] == "agency_not_approved"
    assert (
        client.post(
            f"{API}/agencies/{agency.org_id}/decision", json={"approve": True}, headers=holder.headers
        ).status_code
        == 403
    )
    assert (
        client.post(
            f"{API}/agencies/{agency.org_id}/decision", json={"approve": True}, headers=admin.headers
        ).status_code
        == 200
    )
    r = client.post(API, json=body, headers=outsider.headers)
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_the_holder"
    r = client.post(API, json=body, headers=holder.headers)
    assert r.status_code == 201, r.text
    eid = r.json()["id"]
    assert client.get(f"{API}/{eid}", headers=outsider.headers).status_code == 404  # not public until completed

    for bad in ([colleague.user_id], [declared.user_id]):
        r = client.post(f"{API}/{eid}/evaluators", json={"evaluator_ids": bad}, headers=agency.headers)
        assert r.status_code == 422 and r.json()["error"]["code"] == "conflicted_evaluator"
    assert (
        client.post(
            f"{API}/{eid}/evaluators", json={"evaluator_ids": [independent.user_id]}, headers=holder.headers
        ).status_code
        == 403
    )
    report = {
        "trl": 6,
        "innovation_grade": "domestic_first",
        "advancement_grade": "domestic_leading",
        "value_low": "2000000.00",
        "value_high": "5000000.00",
        "report_reference": "评价报告 2026-017",
    }
    r = client.post(f"{API}/{eid}/report", json=report, headers=agency.headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "invalid_evaluation_state"
    r = client.post(f"{API}/{eid}/evaluators", json={"evaluator_ids": [independent.user_id]}, headers=agency.headers)
    assert r.status_code == 200 and r.json()["status"] == "assigned"
    r = client.post(f"{API}/{eid}/report", json={**report, "value_low": "6000000.00"}, headers=agency.headers)
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_value_range"
    r = client.post(f"{API}/{eid}/report", json=report, headers=agency.headers)
    assert r.status_code == 200 and r.json()["status"] == "completed"

    # the holder sees the result but not who evaluated (the agency hides them); the agency and the bureau do
    seen = client.get(f"{API}/{eid}", headers=holder.headers).json()
    assert seen["trl"] == 6 and seen["innovation_grade_label"] == "国内首创" and "evaluator_ids" not in seen
    assert seen["evaluator_count"] == 1
    assert client.get(f"{API}/{eid}", headers=agency.headers).json()["evaluator_ids"] == [independent.user_id]
    assert client.get(f"{API}/{eid}", headers=admin.headers).json()["evaluator_ids"] == [independent.user_id]
    public = client.get(API, params={"achievement_id": achievement}).json()
    assert [(e["advancement_grade_label"], e["agency_name"] is not None) for e in public] == [("国内领先", True)]
    assert "evaluator_ids" not in public[0]
    with session_scope() as s:
        assert service.verified_trl(s, achievement) == 6
