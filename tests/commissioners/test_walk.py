"""A commissioner's year through the API: registration, dispatch, evaluation awards (with 1:1 matching), figures.

2026: 陈农 (市派, individual, from 宁波大学, with an account of their own) is dispatched to 甬江精密 (firm) and
横溪村 (village), serves the 甬江星创天地 station, runs a project with 甬江精密 that leads to a contract, and logs a training.
团队 T (县派, team) is dispatched to 奉化水蜜桃合作社.
Awards proposed by officer A, approved by officer B:
- 陈农 优秀科技特派员 20,000; 陈农 星创天地 200,000 (one-off; a second is refused);
- 陈农 1:1 match of a provincial post-subsidy of 85,000 → 85,000;
- T 示范基地 100,000; T as 先进个人 is refused (individuals only).
Approved awards 2026: 20,000 + 200,000 + 85,000 + 100,000 = 405,000.
"""

from __future__ import annotations

from decimal import Decimal as D

import sqlalchemy as sa

from market.accounts.roles import Role
from market.core.audit import AuditEntry
from market.core.vocab import OrgKind
from tests.subsidies.helpers import run_year

API = "/api/v1/commissioners"


def ok(r, status=200):
    assert r.status_code == status, r.text
    return r.json()


def refused(r, status, code):
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code, r.text


def test_a_commissioners_year(client, world):
    a, b = world.bureau(Role.programme_officer), world.bureau(Role.bureau_admin)
    registrar = world.bureau(Role.registrar)
    uni = world.member(OrgKind.university, name="宁波大学")
    firm = world.member(OrgKind.enterprise, name="甬江精密")
    chen_user = world.user(uni.org_id, Role.member)
    person = {
        "kind": "individual",
        "name": "陈农",
        "home_org_id": uni.org_id,
        "level": "city",
        "field": "agriculture",
        "user_id": chen_user.user_id,
    }
    for who, status, code in [
        (None, 401, "not_authenticated"),
        (uni, 403, "role_required"),
        (firm, 403, "role_required"),
        (registrar, 403, "role_required"),
    ]:
        refused(client.post(API, json=person, headers=who.headers if who else {}), status, code)
    chen = ok(client.post(API, json=person, headers=a.headers), 201)
    assert chen["home_institution"] == "宁波大学" and chen["level"] == "city"
    team = ok(
        client.post(
            API,
            json={"kind": "team", "name": "水蜜桃产业服务团", "home_institution": "奉化农技站", "level": "county"},
            headers=a.headers,
        ),
        201,
    )

    agreement = {
        "host_kind": "firm",
        "host_org_id": firm.org_id,
        "start_date": "2026-03-01",
        "end_date": "2026-12-31",
        "goals": "建立数字化车间工艺标准",
    }
    refused(client.post(f"{API}/{chen['id']}/dispatches", json=agreement, headers=firm.headers), 403, "role_required")
    refused(
        client.post(f"{API}/{chen['id']}/dispatches", json={**agreement, "end_date": "2026-01-01"}, headers=a.headers),
        422,
        "invalid_period",
    )
    assert (
        ok(client.post(f"{API}/{chen['id']}/dispatches", json=agreement, headers=a.headers), 201)["host_name"]
        == "甬江精密"
    )
    ok(
        client.post(
            f"{API}/{chen['id']}/dispatches",
            json={
                "host_kind": "village",
                "host_name": "横溪村",
                "start_date": "2026-04-01",
                "end_date": "2026-10-31",
                "goals": "茶叶种植技术培训",
            },
            headers=a.headers,
        ),
        201,
    )
    ok(
        client.post(
            f"{API}/{team['id']}/dispatches",
            json={
                "host_kind": "cooperative",
                "host_name": "奉化水蜜桃合作社",
                "start_date": "2026-02-01",
                "end_date": "2027-01-31",
                "goals": "病虫害绿色防控",
            },
            headers=a.headers,
        ),
        201,
    )
    assert len(ok(client.get(f"{API}/{chen['id']}/dispatches"))) == 2

    # A station served by both; a project with the firm, led by the commissioner's own account, that led to a contract.
    station = {
        "kind": "star_maker_space",
        "name": "甬江星创天地",
        "host_org_id": firm.org_id,
        "filing_level": "provincial",
        "commissioner_ids": [chen["id"], team["id"]],
    }
    refused(client.post(f"{API}/stations", json=station, headers=chen_user.headers), 403, "role_required")
    ok(client.post(f"{API}/stations", json=station, headers=a.headers), 201)
    assert ok(client.get(f"{API}/stations"))[0]["commissioner_ids"] == [chen["id"], team["id"]]
    project = {
        "host_org_id": firm.org_id,
        "title": "伺服电机节能工艺改进",
        "goals": "能耗降低10%",
        "start_date": "2026-03-15",
    }
    for who, status, code in [
        (None, 401, "not_authenticated"),
        (firm, 403, "not_commissioner"),
        (uni, 403, "not_commissioner"),
    ]:
        refused(
            client.post(f"{API}/{chen['id']}/projects", json=project, headers=who.headers if who else {}), status, code
        )
    proj = ok(client.post(f"{API}/{chen['id']}/projects", json=project, headers=chen_user.headers), 201)
    from tests.subsidies.ledger import add_contract

    led = add_contract(uni.org_id, firm.org_id, 300_000)
    refused(
        client.patch(f"{API}/projects/{proj['id']}", json={"status": "completed"}, headers=firm.headers),
        403,
        "not_commissioner",
    )
    done = ok(
        client.patch(
            f"{API}/projects/{proj['id']}",
            json={"outcomes": "能耗降低12%", "contract_id": led, "status": "completed"},
            headers=chen_user.headers,
        )
    )
    assert (done["status"], done["contract_id"]) == ("completed", led)
    # Who sees the project: the commissioner, the host firm, the bureau; not another firm.
    other = world.member(OrgKind.enterprise)
    for who, n in [(chen_user, 1), (firm, 1), (registrar, 1), (other, 0)]:
        assert ok(client.get(f"{API}/projects", headers=who.headers))["total"] == n
    log = {
        "kind": "training",
        "on": "2026-05-20",
        "host_name": "横溪村",
        "description": "茶园管理培训",
        "attendees": 42,
    }
    refused(client.post(f"{API}/{chen['id']}/logs", json=log, headers=firm.headers), 403, "not_commissioner")
    ok(client.post(f"{API}/{chen['id']}/logs", json=log, headers=chen_user.headers), 201)
    assert ok(client.get(f"{API}/{chen['id']}/logs", headers=b.headers))[0]["attendees"] == 42
    refused(client.get(f"{API}/{chen['id']}/logs", headers=other.headers), 403, "not_commissioner")

    def propose(body):
        return client.post(f"{API}/awards", json={"year": 2026, **body}, headers=a.headers)

    proposed = [
        ok(propose({"commissioner_id": chen["id"], "kind": "outstanding_commissioner"}), 201),
        ok(propose({"commissioner_id": chen["id"], "kind": "star_maker_space", "subject": "甬江星创天地"}), 201),
        ok(propose({"commissioner_id": chen["id"], "kind": "provincial_match", "provincial_amount": "85000.00"}), 201),
        ok(propose({"commissioner_id": team["id"], "kind": "demonstration_base", "subject": "水蜜桃示范基地"}), 201),
    ]
    assert [D(p["amount"]) for p in proposed] == [D("20000"), D("200000"), D("85000"), D("100000")]
    assert proposed[2]["working"]["ratio"] == "1:1"
    refused(propose({"commissioner_id": chen["id"], "kind": "star_maker_space"}), 409, "one_off_already_awarded")
    refused(propose({"commissioner_id": team["id"], "kind": "advanced_individual"}), 422, "individuals_only")
    refused(propose({"commissioner_id": chen["id"], "kind": "provincial_match"}), 422, "provincial_amount_required")
    refused(
        client.post(
            f"{API}/awards",
            json={"year": 2026, "commissioner_id": chen["id"], "kind": "outstanding_commissioner"},
            headers=firm.headers,
        ),
        403,
        "role_required",
    )

    # Four eyes: the proposer does not approve.
    refused(client.post(f"{API}/awards/{proposed[0]['id']}/approve", headers=a.headers), 403, "four_eyes")
    refused(client.post(f"{API}/awards/{proposed[0]['id']}/approve", headers=firm.headers), 403, "role_required")
    for p in proposed:
        assert ok(client.post(f"{API}/awards/{p['id']}/approve", headers=b.headers))["status"] == "approved"
    refused(client.post(f"{API}/awards/{proposed[0]['id']}/approve", headers=b.headers), 409, "invalid_state")

    # The host firm heard of the dispatch, the home university of the four awards (inbox, after the drain).
    from market.commissioners import notices
    from market.core.db import session_scope

    with session_scope() as s:
        notices.deliver_pending(s)
    assert ok(client.get("/api/v1/inbox", headers=firm.headers))["total"] == 1
    assert ok(client.get("/api/v1/inbox", headers=uni.headers))["total"] == 3  # 陈农's three; the team has no home org

    table = ok(client.get(f"{API}/figures/2026", headers=b.headers))
    rows = {(r["item"], r["level"], r["field"]): D(r["value"]) for r in table["rows"]}
    assert rows[("commissioners", "city", "agriculture")] == 1 and rows[("commissioners", "county", "")] == 1
    assert rows[("hosts_served", "", "")] == 3
    assert (rows[("firms_served", "", "")], rows[("projects", "", "")], rows[("contracts_led_to", "", "")]) == (1, 1, 1)
    awards = sum(v for (item, _, _), v in rows.items() if item.startswith("awards:"))
    assert awards == D("405000")
    refused(client.get(f"{API}/figures/2026", headers=firm.headers), 403, "role_required")
    # Paid by the bureau's subsidy run (preset commissioner-awards, on by default): 陈农 20,000 + 200,000 + 85,000 =
    # 305,000 (seen by 宁波大学 once approved); the team 100,000 (no home organisation).
    run_id = run_year(client, a, 2026, ["commissioner-awards"])
    rows = ok(client.get(f"/api/v1/subsidies/runs/{run_id}/results", headers=b.headers))["items"]
    assert {r["beneficiary_key"]: D(r["total"]) for r in rows} == {
        f"commissioner:{chen['id']}": D("305000"),
        f"commissioner:{team['id']}": D("100000"),
    }
    chen_row = next(r for r in rows if r["beneficiary_key"] == f"commissioner:{chen['id']}")
    working = ok(client.get(f"/api/v1/subsidies/results/{chen_row['id']}", headers=b.headers))["working"]
    assert sorted(D(c["paid"]) for c in working["contributions"]) == [D("20000"), D("85000"), D("200000")]
    assert ok(client.get("/api/v1/subsidies/my-results", headers=uni.headers)) == []  # a draft: not yet
    ok(client.post(f"/api/v1/subsidies/runs/{run_id}/review", headers=a.headers))
    ok(client.post(f"/api/v1/subsidies/runs/{run_id}/approve", headers=b.headers))
    mine = ok(client.get("/api/v1/subsidies/my-results", headers=uni.headers))
    assert [(r["beneficiary_key"], D(r["total"])) for r in mine] == [(f"commissioner:{chen['id']}", D("305000"))]
    assert ok(client.get("/api/v1/subsidies/my-results", headers=firm.headers)) == []

    # Suspension (bureau, with a reason, audited): no new dispatch or award until reinstated.
    body = {"action": "suspend", "reason": "年度考核不合格"}
    for who, status, code in [
        (None, 401, "not_authenticated"),
        (firm, 403, "role_required"),
        (chen_user, 403, "role_required"),
    ]:
        refused(client.post(f"{API}/{chen['id']}/status", json=body, headers=who.headers if who else {}), status, code)
    refused(
        client.post(f"{API}/{chen['id']}/status", json={"action": "suspend"}, headers=a.headers), 422, "invalid_missing"
    )
    assert ok(client.post(f"{API}/{chen['id']}/status", json=body, headers=a.headers))["status"] == "suspended"
    refused(client.post(f"{API}/{chen['id']}/status", json=body, headers=a.headers), 409, "invalid_state")
    refused(
        propose({"commissioner_id": chen["id"], "kind": "outstanding_commissioner"}), 409, "commissioner_not_active"
    )
    village = {
        "host_kind": "village",
        "host_name": "横溪村",
        "start_date": "2026-09-01",
        "end_date": "2026-12-31",
        "goals": "x",
    }
    refused(
        client.post(f"{API}/{chen['id']}/dispatches", json=village, headers=a.headers), 409, "commissioner_not_active"
    )
    reinstate = {"action": "reinstate", "reason": "整改完成"}
    assert ok(client.post(f"{API}/{chen['id']}/status", json=reinstate, headers=b.headers))["status"] == "active"
    ok(client.post(f"{API}/{chen['id']}/dispatches", json=village, headers=a.headers), 201)
    with session_scope() as s:
        trail = s.execute(
            sa.select(AuditEntry.action, AuditEntry.detail)
            .where(AuditEntry.entity_type == "commissioner", AuditEntry.entity_id == chen["id"])
            .where(AuditEntry.action.in_(["suspend", "reinstate"]))
            .order_by(AuditEntry.id)
        ).all()
    assert [(action, detail["reason"]) for action, detail in trail] == [
        ("suspend", "年度考核不合格"),
        ("reinstate", "整改完成"),
    ]
    assert client.get(f"{API}/figures/2026", params={"format": "csv"}, headers=b.headers).status_code == 200
