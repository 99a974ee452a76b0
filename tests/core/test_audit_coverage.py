"""Every mutating API operation leaves an audit row: a table of one minimal valid request per operation.

The table must cover exactly the OpenAPI's POST/PUT/PATCH/DELETE operations minus EXEMPT: an operation
added later without an entry here fails `test_every_mutating_operation_is_in_the_table`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from market.accounts.roles import Role
from market.core.audit import AuditEntry
from market.core.db import session_scope, utcnow
from market.core.vocab import OrgKind
from market.matching.models import Notification, SavedSearch, WebhookDelivery
from tests.calls.conftest import DEADLINE, bid_body, call_body, kit, pinned  # noqa: F401 - fixtures
from tests.contracts.payloads import contract_body
from tests.listings.payloads import achievement_body, demand_body
from tests.matching.test_endpoints import allow_loopback_webhooks  # noqa: F401 - a fixture
from tests.subsidies.ledger import add_contract

MUTATING = ("post", "put", "patch", "delete")
# Operations that change no state worth an audit row, and why.
EXEMPT = {
    ("POST", "/api/v1/auth/token"): "login: issues a short-lived session token; no record of the market changes",
    ("POST", "/api/v1/subsidies/what-if"): "computes a hypothetical run and stores nothing",
}

Step = Callable[[Any], tuple[Any, str, Any]]  # ctx -> (who, concrete path, json body)
STEPS: list[tuple[str, str, Step]] = []


def step(method: str, template: str):
    def register(fn: Step) -> Step:
        STEPS.append((method, template, fn))
        return fn

    return register


def mutating_operations(app) -> set[tuple[str, str]]:
    return {(m.upper(), path) for path, ops in app.openapi()["paths"].items() for m in ops if m in MUTATING}


# -- accounts ---------------------------------------------------------------------------------------


@step("POST", "/api/v1/organisations")
def _(c):
    from tests.accounts.test_accounts import registration

    return None, "/api/v1/organisations", registration()


@step("POST", "/api/v1/organisations/{org_id}/verification")
def _(c):
    org = c.kit.world.org(OrgKind.enterprise, verified=False)
    return c.admin, f"/api/v1/organisations/{org}/verification", {"verified": True}


@step("POST", "/api/v1/organisations/{org_id}/users")
def _(c):
    return c.firm, f"/api/v1/organisations/{c.firm.org_id}/users", {"username": "audit.user", "display_name": "张三"}


@step("POST", "/api/v1/auth/api-keys")
def _(c):
    return c.firm, "/api/v1/auth/api-keys", {"name": "erp"}


@step("DELETE", "/api/v1/auth/api-keys/{key_id}")
def _(c):
    return c.firm, f"/api/v1/auth/api-keys/{c.last['id']}", None


# -- listings ---------------------------------------------------------------------------------------


@step("POST", "/api/v1/achievements")
def _(c):
    return c.uni, "/api/v1/achievements", achievement_body()


@step("PATCH", "/api/v1/achievements/{listing_id}")
def _(c):
    c.achievement = c.last["id"]
    return c.uni, f"/api/v1/achievements/{c.achievement}", {"title": "高镍正极材料制备（修订）"}


@step("POST", "/api/v1/achievements/{listing_id}/transitions")
def _(c):
    return c.uni, f"/api/v1/achievements/{c.achievement}/transitions", {"action": "publish"}


@step("POST", "/api/v1/demands")
def _(c):
    return c.firm, "/api/v1/demands", demand_body()


@step("PATCH", "/api/v1/demands/{listing_id}")
def _(c):
    c.demand = c.last["id"]
    return c.firm, f"/api/v1/demands/{c.demand}", {"title": "锂电正极材料能量密度提升（修订）"}


@step("POST", "/api/v1/demands/{listing_id}/transitions")
def _(c):
    return c.firm, f"/api/v1/demands/{c.demand}/transitions", {"action": "publish"}


# -- matching ---------------------------------------------------------------------------------------


@step("POST", "/api/v1/synonyms")
def _(c):
    return c.admin, "/api/v1/synonyms", {"terms": ["审计测试甲", "审计测试乙"]}


@step("PUT", "/api/v1/synonyms/{group_id}")
def _(c):
    c.group = c.last["id"]
    return c.admin, f"/api/v1/synonyms/{c.group}", {"terms": ["审计测试甲", "审计测试丙"]}


@step("DELETE", "/api/v1/synonyms/{group_id}")
def _(c):
    return c.admin, f"/api/v1/synonyms/{c.group}", None


@step("POST", "/api/v1/saved-searches")
def _(c):
    return c.firm, "/api/v1/saved-searches", {"name": "锂电", "target": "achievement", "query": "锂电"}


@step("DELETE", "/api/v1/saved-searches/{saved_id}")
def _(c):
    return c.firm, f"/api/v1/saved-searches/{c.last['id']}", None


@step("POST", "/api/v1/webhooks")
def _(c):
    return c.firm, "/api/v1/webhooks", {"url": "http://127.0.0.1:9/hook"}


@step("POST", "/api/v1/inbox/{notification_id}/read")
def _(c):
    c.webhook = c.last["id"]
    with session_scope() as s:
        saved = SavedSearch(user_id=c.firm.user_id, name="s", target="achievement", query="x", filters={}, min_score=50)
        s.add(saved)
        s.flush()
        note = Notification(
            user_id=c.firm.user_id,
            saved_search_id=saved.id,
            listing_type="achievement",
            listing_id=c.achievement,
            title="t",
            detail={},
        )
        s.add(note)
        s.flush()
        d = WebhookDelivery(subscription_id=c.webhook, notification_id=note.id, status="failed", attempts=14)
        s.add(d)
        s.flush()
        c.note, c.delivery = note.id, d.id
    return c.firm, f"/api/v1/inbox/{c.note}/read", None


@step("POST", "/api/v1/webhook-deliveries/{delivery_id}/redeliver")
def _(c):
    return c.firm, f"/api/v1/webhook-deliveries/{c.delivery}/redeliver", None


@step("DELETE", "/api/v1/webhooks/{sub_id}")
def _(c):
    return c.firm, f"/api/v1/webhooks/{c.webhook}", None


# -- contracts --------------------------------------------------------------------------------------

CONTRACTS = "/api/v1/contracts"


@step("POST", CONTRACTS)
def _(c):
    return c.uni, CONTRACTS, contract_body(c.uni.org_id, c.firm.org_id)


@step("POST", CONTRACTS + "/{contract_id}/return")
def _(c):
    c.contract = c.last["id"]
    return (
        c.registrar,
        f"{CONTRACTS}/{c.contract}/return",
        {"items": [{"field": "parties", "message": "缺少买方盖章页"}]},
    )


@step("PUT", CONTRACTS + "/{contract_id}")
def _(c):
    return c.uni, f"{CONTRACTS}/{c.contract}", contract_body(c.uni.org_id, c.firm.org_id)


@step("POST", CONTRACTS + "/{contract_id}/submit")
def _(c):
    # the PUT filed the returned contract again; a draft is filed here
    r = c.kit.client.post(
        CONTRACTS,
        json=contract_body(c.uni.org_id, c.firm.org_id, project_name="草稿合同", submit=False),
        headers=c.uni.headers,
    )
    assert r.status_code == 201 and r.json()["status"] == "draft", r.text
    return c.uni, f"{CONTRACTS}/{r.json()['id']}/submit", None


@step("POST", CONTRACTS + "/{contract_id}/register")
def _(c):
    return c.registrar, f"{CONTRACTS}/{c.contract}/register", None


@step("POST", CONTRACTS + "/{contract_id}/payments")
def _(c):
    from market.contracts.service import today

    return c.uni, f"{CONTRACTS}/{c.contract}/payments", {"amount": "1.00", "received_on": today().isoformat()}


@step("POST", CONTRACTS + "/{contract_id}/amendments")
def _(c):
    return (
        c.registrar,
        f"{CONTRACTS}/{c.contract}/amendments",
        {"reason": "增加技术服务内容", "total_amount": "1500000.00"},
    )


@step("POST", CONTRACTS + "/{contract_id}/cancellation")
def _(c):
    return c.registrar, f"{CONTRACTS}/{c.contract}/cancellation", {"reason": "双方协议解除"}


@step("POST", CONTRACTS + "/{contract_id}/refuse")
def _(c):
    r = c.kit.client.post(
        CONTRACTS, json=contract_body(c.uni.org_id, c.firm.org_id, project_name="另一合同"), headers=c.uni.headers
    )
    assert r.status_code == 201, r.text
    return c.registrar, f"{CONTRACTS}/{r.json()['id']}/refuse", {"reason": "seals_missing", "note": "买方未盖章"}


# -- statistics and subsidies -----------------------------------------------------------------------


@step("PUT", "/api/v1/stats/targets/{year}")
def _(c):
    return c.admin, f"/api/v1/stats/targets/{utcnow().year}", {"total_amount": "800000000.00", "contract_count": 10}


@step("POST", "/api/v1/subsidies/policies")
def _(c):
    spec = c.kit.client.get("/api/v1/subsidies/policies/nb2014-seller", headers=c.officer.headers).json()["spec"]
    c.policy_spec = spec
    return c.officer, "/api/v1/subsidies/policies", {**spec, "code": "audit-seller", "name": "审计测试政策"}


@step("PUT", "/api/v1/subsidies/policies/{code}")
def _(c):
    return c.officer, "/api/v1/subsidies/policies/nb2014-seller", c.policy_spec


@step("POST", "/api/v1/subsidies/runs")
def _(c):
    add_contract(c.uni.org_id, c.firm.org_id, 1_000_000)
    return (
        c.officer,
        "/api/v1/subsidies/runs",
        {"period_start": "2024-01-01", "period_end": "2024-12-31", "policy_codes": ["nb2014-seller"]},
    )


@step("POST", "/api/v1/subsidies/runs/{run_id}/compute")
def _(c):
    from market.subsidies import flows

    c.run = c.last["id"]
    flows.compute_run(c.run)
    return c.officer, f"/api/v1/subsidies/runs/{c.run}/compute", None


@step("POST", "/api/v1/subsidies/runs/{run_id}/{action}")
def _(c):
    from market.subsidies import flows

    flows.compute_run(c.run)
    return c.officer, f"/api/v1/subsidies/runs/{c.run}/review", None


@step("POST", "/api/v1/subsidies/vouchers")
def _(c):
    service_contract = add_contract(c.uni.org_id, c.firm.org_id, 100_000, type="service", subtype="technical_service")
    return c.officer, "/api/v1/subsidies/vouchers", {"contract_id": service_contract}


# -- brokers (技术经纪人) -------------------------------------------------------------------------------


@step("POST", "/api/v1/brokers")
def _(c):
    from tests.brokers.conftest import id_number

    c.agency = c.kit.world.member(OrgKind.intermediary)
    body = {"name": "李明", "id_number": id_number(), "level": "junior_broker", "start_date": "2026-01-01"}
    return c.agency, "/api/v1/brokers", body


@step("PATCH", "/api/v1/brokers/{broker_id}")
def _(c):
    c.broker = c.last["id"]
    return c.agency, f"/api/v1/brokers/{c.broker}", {"level": "intermediate_manager"}


@step("POST", "/api/v1/brokers/{broker_id}/trainings")
def _(c):
    return (
        c.agency,
        f"/api/v1/brokers/{c.broker}/trainings",
        {"course": "技术经纪人培训", "hours": 48, "completed_on": "2026-04-20"},
    )


@step("POST", "/api/v1/brokers/links")
def _(c):
    c.brokered = add_contract(
        c.uni.org_id, c.firm.org_id, 100_000, intermediary=c.agency.org_id, signing_date=dt.date(2026, 3, 1)
    )
    return c.agency, "/api/v1/brokers/links", {"broker_id": c.broker, "contract_id": c.brokered}


@step("POST", "/api/v1/brokers/links/{link_id}/decision")
def _(c):
    return c.uni, f"/api/v1/brokers/links/{c.last['id']}/decision", {"accept": True}


@step("POST", "/api/v1/brokers/listings")
def _(c):
    r = c.kit.client.post("/api/v1/achievements", json=achievement_body(), headers=c.uni.headers)
    assert r.status_code == 201, r.text
    return (
        c.agency,
        "/api/v1/brokers/listings",
        {"broker_id": c.broker, "listing_type": "achievement", "listing_id": r.json()["id"]},
    )


@step("POST", "/api/v1/brokers/listings/{row_id}/decision")
def _(c):
    return c.uni, f"/api/v1/brokers/listings/{c.last['id']}/decision", {"accept": True}


@step("POST", "/api/v1/brokers/{broker_id}/moves")
def _(c):
    other = c.kit.world.member(OrgKind.intermediary)
    return other, f"/api/v1/brokers/{c.broker}/moves", {"intermediary_org_id": other.org_id, "start_date": "2026-07-01"}


@step("POST", "/api/v1/brokers/{broker_id}/status")
def _(c):
    return c.officer, f"/api/v1/brokers/{c.broker}/status", {"action": "suspend"}


@step("PUT", "/api/v1/brokers/performance-weights/{year}")
def _(c):
    return c.officer, "/api/v1/brokers/performance-weights/2026", {"deals": "20"}


# -- commissioners (科技特派员) ---------------------------------------------------------------------------


@step("POST", "/api/v1/commissioners")
def _(c):
    return (
        c.officer,
        "/api/v1/commissioners",
        {"kind": "individual", "name": "陈农", "home_institution": "宁波大学", "level": "city"},
    )


@step("POST", "/api/v1/commissioners/{commissioner_id}/dispatches")
def _(c):
    c.commissioner = c.last["id"]
    return (
        c.officer,
        f"/api/v1/commissioners/{c.commissioner}/dispatches",
        {
            "host_kind": "village",
            "host_name": "横溪村",
            "start_date": "2026-04-01",
            "end_date": "2026-10-31",
            "goals": "培训",
        },
    )


@step("POST", "/api/v1/commissioners/awards")
def _(c):
    return (
        c.officer,
        "/api/v1/commissioners/awards",
        {"year": 2026, "commissioner_id": c.commissioner, "kind": "outstanding_commissioner"},
    )


@step("POST", "/api/v1/commissioners/awards/{award_id}/approve")
def _(c):
    return c.admin, f"/api/v1/commissioners/awards/{c.last['id']}/approve", None


@step("POST", "/api/v1/commissioners/stations")
def _(c):
    return (
        c.officer,
        "/api/v1/commissioners/stations",
        {"kind": "workstation", "name": "工作站", "host_name": "横溪村", "commissioner_ids": [c.commissioner]},
    )


@step("POST", "/api/v1/commissioners/{commissioner_id}/projects")
def _(c):
    return (
        c.officer,
        f"/api/v1/commissioners/{c.commissioner}/projects",
        {"host_org_id": c.firm.org_id, "title": "节能工艺", "goals": "能耗降低", "start_date": "2026-03-15"},
    )


@step("PATCH", "/api/v1/commissioners/projects/{project_id}")
def _(c):
    return c.officer, f"/api/v1/commissioners/projects/{c.last['id']}", {"status": "completed"}


@step("POST", "/api/v1/commissioners/{commissioner_id}/logs")
def _(c):
    return (
        c.officer,
        f"/api/v1/commissioners/{c.commissioner}/logs",
        {"kind": "visit", "on": "2026-05-20", "host_name": "横溪村", "description": "走访"},
    )


@step("POST", "/api/v1/commissioners/{commissioner_id}/status")
def _(c):
    return c.officer, f"/api/v1/commissioners/{c.commissioner}/status", {"action": "suspend", "reason": "考核不合格"}


@step("POST", "/api/v1/stats/reports/{year}/{month}")
def _(c):
    return c.registrar, "/api/v1/stats/reports/2025/3", None


@step("POST", "/api/v1/stats/period-targets")
def _(c):
    return (
        c.admin,
        "/api/v1/stats/period-targets",
        {"name": "8亿", "kind": "cumulative", "first_year": 2023, "last_year": 2026, "target_amount": "800000000.00"},
    )


@step("PUT", "/api/v1/stats/denominators/{name}/{region}/{year}")
def _(c):
    return c.admin, "/api/v1/stats/denominators/gdp/3302/2025", {"amount": "1800000000000.00"}


# -- monitoring index -------------------------------------------------------------------------------


@step("POST", "/api/v1/monitoring/sets/{code}/versions")
def _(c):
    from market.monitoring.presets import pian4

    return c.admin, "/api/v1/monitoring/sets/seed000-pian4/versions", {"name": "篇四 (修订)", "definition": pian4()}


@step("PUT", "/api/v1/monitoring/sets/{code}/values/{region_code}/{period}")
def _(c):
    return c.officer, "/api/v1/monitoring/sets/seed000-pian4/values/330212/2025", {"values": {"fiscal_st_share": "1.2"}}


@step("POST", "/api/v1/monitoring/sets/{code}/values/import")
def _(c):
    import base64

    sheet = b"region_code,period,indicator_code,value\n330205,2025,fiscal_st_share,1.5\n"
    return (
        c.officer,
        "/api/v1/monitoring/sets/seed000-pian4/values/import",
        {"filename": "values.csv", "content_base64": base64.b64encode(sheet).decode()},
    )


@step("POST", "/api/v1/monitoring/sets/{code}/values/{region_code}/{period}/compute")
def _(c):
    return c.officer, "/api/v1/monitoring/sets/seed000-pian4/values/330212/2025/compute", None


@step("POST", "/api/v1/monitoring/sets/{code}/values/{region_code}/{period}/{indicator_code}/choice")
def _(c):
    base = "/api/v1/monitoring/sets/seed000-pian4/values/330205/2025"
    entered = {"values": {"service_bodies": {"national_incubator": 1}}}
    assert c.kit.client.put(base, json=entered, headers=c.officer.headers).status_code == 200
    assert c.kit.client.post(f"{base}/compute", headers=c.officer.headers).json()["kept_entered"]
    return c.officer, f"{base}/service_bodies/choice", {"use": "market"}


# -- evaluations ------------------------------------------------------------------------------------


@step("POST", "/api/v1/evaluations/agencies")
def _(c):
    c.agency = c.kit.world.member(OrgKind.enterprise)
    return c.agency, "/api/v1/evaluations/agencies", {"hide_evaluators": True}


@step("POST", "/api/v1/evaluations/agencies/{org_id}/decision")
def _(c):
    return c.admin, f"/api/v1/evaluations/agencies/{c.agency.org_id}/decision", {"approve": True}


@step("POST", "/api/v1/evaluations")
def _(c):
    return c.uni, "/api/v1/evaluations", {"achievement_id": c.achievement, "agency_org_id": c.agency.org_id}


@step("POST", "/api/v1/evaluations/{evaluation_id}/evaluators")
def _(c):
    c.evaluation = c.last["id"]
    expert = c.kit.world.expert()
    return c.agency, f"/api/v1/evaluations/{c.evaluation}/evaluators", {"evaluator_ids": [expert.user_id]}


@step("POST", "/api/v1/evaluations/{evaluation_id}/report")
def _(c):
    return (
        c.agency,
        f"/api/v1/evaluations/{c.evaluation}/report",
        {
            "trl": 5,
            "innovation_grade": "improvement",
            "advancement_grade": "domestic_advanced",
            "report_reference": "R-1",
        },
    )


# -- open calls -------------------------------------------------------------------------------------


@step("POST", "/api/v1/calls")
def _(c):
    return c.kit.firm, "/api/v1/calls", call_body()


@step("PATCH", "/api/v1/calls/{call_id}")
def _(c):
    c.call = c.last["id"]
    return c.kit.officer, f"/api/v1/calls/{c.call}", {"title": "高比能固态锂电池电解质（修订）"}


@step("POST", "/api/v1/calls/{call_id}/vet")
def _(c):
    return c.kit.officer, f"/api/v1/calls/{c.call}/vet", {"approve": True, "note": "问题清晰"}


@step("POST", "/api/v1/calls/{call_id}/publish")
def _(c):
    return c.kit.officer, f"/api/v1/calls/{c.call}/publish", None


@step("POST", "/api/v1/calls/{call_id}/bids")
def _(c):
    c.bidders = [c.kit.bidder() for _ in range(2)]
    c.kit.bid(c.bidders[1], c.call)
    return c.bidders[0], f"/api/v1/calls/{c.call}/bids", bid_body()


@step("PATCH", "/api/v1/calls/{call_id}/bids/{bid_id}")
def _(c):
    c.bid = c.last["id"]
    return c.bidders[0], f"/api/v1/calls/{c.call}/bids/{c.bid}", {"price": "4000000.00"}


@step("POST", "/api/v1/calls/{call_id}/bids/{bid_id}/withdraw")
def _(c):
    extra = c.kit.bidder()
    bid = c.kit.bid(extra, c.call)
    return extra, f"/api/v1/calls/{c.call}/bids/{bid['id']}/withdraw", None


@step("POST", "/api/v1/calls/conflicts")
def _(c):
    c.experts = c.kit.experts(4)
    return c.experts[3], "/api/v1/calls/conflicts", {"org_id": c.bidders[1].org_id, "reason": "曾任该公司顾问"}


@step("POST", "/api/v1/calls/{call_id}/close-bidding")
def _(c):
    c.kit.clock.now = DEADLINE
    return c.kit.officer, f"/api/v1/calls/{c.call}/close-bidding", None


@step("POST", "/api/v1/calls/{call_id}/bids/{bid_id}/formal-check")
def _(c):
    bids = c.kit.ok(c.kit.client.get(f"/api/v1/calls/{c.call}/bids", headers=c.kit.officer.headers))
    c.bid_ids = sorted(b["id"] for b in bids if b["state"] != "withdrawn")
    for other in c.bid_ids[1:]:
        c.kit.post(c.kit.officer, f"/api/v1/calls/{c.call}/bids/{other}/formal-check", {"passed": True})
    return c.kit.officer, f"/api/v1/calls/{c.call}/bids/{c.bid_ids[0]}/formal-check", {"passed": True}


@step("POST", "/api/v1/calls/{call_id}/review")
def _(c):
    return c.kit.officer, f"/api/v1/calls/{c.call}/review", None


@step("POST", "/api/v1/calls/{call_id}/bids/{bid_id}/scores")
def _(c):
    scores = {"技术方案": 80, "团队实力": 70, "报价": 90}
    todo = []
    for e in c.experts:
        for a in c.kit.ok(c.kit.client.get("/api/v1/calls/reviews/mine", headers=e.headers)):
            if a["call_id"] == c.call and a["state"] == "assigned":
                todo.append((e, a["bid_id"]))
    for e, bid_id in todo[1:]:
        c.kit.post(e, f"/api/v1/calls/{c.call}/bids/{bid_id}/scores", {"scores": scores})
    e, bid_id = todo[0]
    return e, f"/api/v1/calls/{c.call}/bids/{bid_id}/scores", {"scores": scores}


@step("POST", "/api/v1/calls/{call_id}/notice")
def _(c):
    return c.kit.officer, f"/api/v1/calls/{c.call}/notice", {"bid_ids": [c.bid_ids[0]]}


@step("POST", "/api/v1/calls/{call_id}/objections")
def _(c):
    c.citizen = c.kit.world.member(OrgKind.enterprise)
    return c.citizen, f"/api/v1/calls/{c.call}/objections", {"bid_id": c.bid_ids[0], "text": "论文数据存疑"}


@step("POST", "/api/v1/calls/{call_id}/objections/{objection_id}/answer")
def _(c):
    c.objection = c.last["id"]
    bid = c.kit.ok(c.kit.client.get(f"/api/v1/calls/{c.call}/bids/{c.bid_ids[0]}", headers=c.kit.officer.headers))
    lead = c.kit.world.user(bid["lead_org_id"])
    return lead, f"/api/v1/calls/{c.call}/objections/{c.objection}/answer", {"answer": "负责人具备高级职称，附证明"}


@step("POST", "/api/v1/calls/{call_id}/objections/{objection_id}/disclose")
def _(c):
    return c.kit.officer, f"/api/v1/calls/{c.call}/objections/{c.objection}/disclose", {"reason": "双方当面核实"}


@step("POST", "/api/v1/calls/{call_id}/objections/{objection_id}/resolve")
def _(c):
    return (
        c.kit.officer,
        f"/api/v1/calls/{c.call}/objections/{c.objection}/resolve",
        {"upheld": False, "resolution": "经核查不属实"},
    )


@step("POST", "/api/v1/calls/{call_id}/award")
def _(c):
    from market.calls import flows

    c.kit.clock.now = c.kit.clock.now + dt.timedelta(days=6)
    with session_scope() as s:
        flows.advance_deadlines(s, c.kit.clock.now)
    return c.kit.officer, f"/api/v1/calls/{c.call}/award", None


@step("POST", "/api/v1/calls/projects/{project_id}/sign")
def _(c):
    c.project = c.last[0]["id"]
    return c.kit.filer(c.last[0]), f"/api/v1/calls/projects/{c.project}/sign", {"signed_on": "2026-05-15"}


@step("POST", "/api/v1/calls/projects/{project_id}/tranches/{tranche_id}/pay")
def _(c):
    c.signed = c.last
    return c.kit.officer, f"/api/v1/calls/projects/{c.project}/tranches/{c.signed['tranches'][0]['id']}/pay", None


@step("POST", "/api/v1/calls/projects/{project_id}/extension")
def _(c):
    return c.kit.officer, f"/api/v1/calls/projects/{c.project}/extension", {"months": 6, "reason": "设备到货延迟"}


@step("POST", "/api/v1/calls/projects/{project_id}/route-changes")
def _(c):
    body = {"description": "改用氧化物路线", "reason": "硫化物原料受限", "approved_on": "2026-08-01"}
    return c.kit.officer, f"/api/v1/calls/projects/{c.project}/route-changes", body


@step("POST", "/api/v1/calls/projects/{project_id}/milestones/{milestone_id}/submit")
def _(c):
    bid = c.kit.ok(c.kit.client.get(f"/api/v1/calls/{c.call}/bids/{c.bid_ids[0]}", headers=c.kit.officer.headers))
    c.winner = c.kit.world.user(bid["lead_org_id"])
    for m in c.signed["milestones"][1:]:
        c.kit.post(c.winner, f"/api/v1/calls/projects/{c.project}/milestones/{m['id']}/submit", {"note": "交付"})
    return (
        c.winner,
        f"/api/v1/calls/projects/{c.project}/milestones/{c.signed['milestones'][0]['id']}/submit",
        {"note": "交付"},
    )


@step("POST", "/api/v1/calls/projects/{project_id}/milestones/{milestone_id}/review")
def _(c):
    # Milestones are reviewed in order: the earlier ones first, the last one is the audited request.
    for m in c.signed["milestones"][:-1]:
        c.kit.post(c.kit.officer, f"/api/v1/calls/projects/{c.project}/milestones/{m['id']}/review", {"passed": True})
    milestone = c.signed["milestones"][-1]["id"]
    return c.kit.officer, f"/api/v1/calls/projects/{c.project}/milestones/{milestone}/review", {"passed": True}


@step("POST", "/api/v1/calls/projects/{project_id}/acceptance")
def _(c):
    return c.kit.officer, f"/api/v1/calls/projects/{c.project}/acceptance", {"result": "passed", "note": "指标全部达成"}


@step("POST", "/api/v1/calls/{call_id}/close")
def _(c):
    return c.kit.officer, f"/api/v1/calls/{c.call}/close", None


@step("POST", "/api/v1/calls/{call_id}/cancel")
def _(c):
    other = c.kit.published_call(title="另一张榜单", bid_deadline=(c.kit.clock.now + dt.timedelta(days=30)).isoformat())
    return c.kit.officer, f"/api/v1/calls/{other['id']}/cancel", {"reason": "需求方撤回"}


@step("POST", "/api/v1/calls/{call_id}/midterm-review")
def _(c):
    deadline = c.kit.clock.now + dt.timedelta(days=30)
    race = c.kit.published_call(title="赛马榜单", winners_count=3, bid_deadline=deadline.isoformat())
    bids = [c.kit.bid(c.kit.bidder(), race["id"]) for _ in range(3)]
    experts = c.kit.experts(3)
    c.kit.clock.now = deadline
    c.kit.post(c.kit.officer, f"/api/v1/calls/{race['id']}/close-bidding")
    for b in bids:
        c.kit.post(c.kit.officer, f"/api/v1/calls/{race['id']}/bids/{b['id']}/formal-check", {"passed": True})
    c.kit.to_award(race["id"], [b["id"] for b in bids], experts + c.experts)
    projects = c.kit.ok(c.kit.client.get(f"/api/v1/calls/{race['id']}/projects", headers=c.kit.officer.headers))
    for p in projects:
        c.kit.sign(p)
    c.race, c.race_bids = race["id"], bids
    return c.kit.officer, f"/api/v1/calls/{race['id']}/midterm-review", {"conclusion": "前两组领先，第三组滞后"}


@step("POST", "/api/v1/calls/{call_id}/down-select")
def _(c):
    keep = {
        "keep_bid_ids": [c.race_bids[0]["id"], c.race_bids[1]["id"]],
        "disposition": "returned",
        "reason": "中期评估排名前二",
    }
    return c.kit.officer, f"/api/v1/calls/{c.race}/down-select", keep


@step("POST", "/api/v1/calls/projects/{project_id}/milestones/{milestone_id}/decision")
def _(c):
    from tests.calls.conftest import T0

    kit = c.kit
    kit.clock.now = T0
    call = kit.published_call(experts_per_bid=1, title="里程碑决定榜单")
    uni = kit.bidder()
    bid = kit.bid(uni, call["id"])
    experts = kit.experts(1)
    kit.close_and_check(call["id"], [bid])
    (p,) = kit.to_award(call["id"], [bid["id"]], experts + c.experts)
    p = kit.sign(p)
    m1 = p["milestones"][0]
    url = f"/api/v1/calls/projects/{p['id']}/milestones/{m1['id']}"
    kit.post(uni, f"{url}/submit", {"note": "交付物"})
    kit.post(kit.officer, f"{url}/review", {"passed": False, "note": "指标未达成"})
    return kit.officer, f"{url}/decision", {"decision": "continue", "reason": "影响有限"}


@step("POST", "/api/v1/calls/invitations/{invitation_id}/{action}")
def _(c):
    from tests.calls.conftest import T0

    kit = c.kit
    kit.clock.now = T0
    call = kit.published_call(title="联合体榜单")
    lead, partner = kit.bidder(), kit.bidder(OrgKind.enterprise)
    bid = kit.bid(lead, call["id"], member_org_ids=[partner.org_id])
    return partner, f"/api/v1/calls/invitations/{kit.invitation(partner, bid['id'])['id']}/accept", None


@step("POST", "/api/v1/calls/integrity/records")
def _(c):
    from tests.calls.conftest import T0

    today = T0.date()
    body = {
        "org_id": c.kit.bidder().org_id,
        "reason": "论文数据造假",
        "source_document": "甬科监〔2026〕3号",
        "starts_on": str(today - dt.timedelta(days=10)),
        "ends_on": str(today + dt.timedelta(days=365)),
    }
    return c.kit.officer, "/api/v1/calls/integrity/records", body


@step("POST", "/api/v1/calls/integrity/records/{record_id}/lift")
def _(c):
    return c.kit.officer, f"/api/v1/calls/integrity/records/{c.last['id']}/lift", {"reason": "复核撤销"}


# -- accounts: sessions, passwords, users -------------------------------------------------------------

NEW_PASSWORD = "a-much-longer-new-secret-77"


@step("POST", "/api/v1/auth/logout")
def _(c):
    return c.kit.world.member(OrgKind.enterprise), "/api/v1/auth/logout", None


@step("DELETE", "/api/v1/auth/sessions/{session_id}")
def _(c):
    user = c.kit.world.member(OrgKind.enterprise)
    c.kit.world.user(user.org_id)  # a colleague, so the org keeps an administrator
    with session_scope() as s:
        from market.accounts import service
        from market.accounts.models import User

        service.issue_credential(s, s.get(User, user.user_id), kind="token")
    sessions = c.kit.ok(c.kit.client.get("/api/v1/auth/sessions", headers=user.headers))
    other = next(x["id"] for x in sessions if not x["current"])
    return user, f"/api/v1/auth/sessions/{other}", None


@step("POST", "/api/v1/auth/sessions/revoke-all")
def _(c):
    return c.kit.world.member(OrgKind.enterprise), "/api/v1/auth/sessions/revoke-all", None


@step("POST", "/api/v1/auth/password")
def _(c):
    from tests.accounts.helpers import PASSWORD, set_password

    user = c.kit.world.member(OrgKind.enterprise)
    set_password(user.user_id)
    return user, "/api/v1/auth/password", {"old_password": PASSWORD, "new_password": NEW_PASSWORD}


@step("POST", "/api/v1/users/{user_id}/password-reset")
def _(c):
    c.colleague = c.kit.world.user(c.firm.org_id, Role.member)
    return c.firm, f"/api/v1/users/{c.colleague.user_id}/password-reset", None


@step("POST", "/api/v1/auth/password-reset")
def _(c):
    return None, "/api/v1/auth/password-reset", {"token": c.last["reset_token"], "new_password": NEW_PASSWORD}


@step("POST", "/api/v1/users/{user_id}/disable")
def _(c):
    return c.firm, f"/api/v1/users/{c.colleague.user_id}/disable", None


@step("POST", "/api/v1/users/{user_id}/enable")
def _(c):
    return c.firm, f"/api/v1/users/{c.colleague.user_id}/enable", None


# -- contracts: duties, import, verified links ---------------------------------------------------------


@step("POST", CONTRACTS + "/authorisations")
def _(c):
    c.broker = c.kit.world.member(OrgKind.intermediary)
    return c.uni, f"{CONTRACTS}/authorisations", {"intermediary_org_id": c.broker.org_id}


@step("DELETE", CONTRACTS + "/authorisations/{authorisation_id}")
def _(c):
    return c.uni, f"{CONTRACTS}/authorisations/{c.last['id']}", None


@step("POST", CONTRACTS + "/{contract_id}/payments/{payment_id}/reversal")
def _(c):
    from market.contracts.service import today

    r = c.kit.client.post(
        CONTRACTS, json=contract_body(c.uni.org_id, c.firm.org_id, project_name="冲正合同"), headers=c.uni.headers
    )
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    c.kit.post(c.registrar, f"{CONTRACTS}/{cid}/register")
    pay = c.kit.ok(
        c.kit.client.post(
            f"{CONTRACTS}/{cid}/payments",
            json={"amount": "100.00", "received_on": today().isoformat()},
            headers=c.uni.headers,
        ),
        201,
    )
    return c.uni, f"{CONTRACTS}/{cid}/payments/{pay['id']}/reversal", {"reason": "录入错误"}


@step("POST", CONTRACTS + "/import")
def _(c):
    from tests.contracts.history import import_row

    body = contract_body(
        c.uni.org_id, c.firm.org_id, signing_date="2021-05-01", valid_from="2021-05-01", valid_until="2023-05-01"
    )
    return c.admin, f"{CONTRACTS}/import", {"rows": [import_row(body, dt.date(2021, 5, 10), number="20213302999001")]}


@step("POST", CONTRACTS + "/{contract_id}/achievement-link/confirm")
def _(c):
    cid = add_contract(c.uni.org_id, c.firm.org_id, 1_000_000, achievement_id=c.achievement)
    return c.registrar, f"{CONTRACTS}/{cid}/achievement-link/confirm", None


@step("POST", "/api/v1/subsidies/recognitions")
def _(c):
    cid = add_contract(c.uni.org_id, c.firm.org_id, 1_000_000)
    body = {"contract_id": cid, "kind": "domestic_first", "document_reference": "浙科发〔2024〕12号"}
    return c.officer, "/api/v1/subsidies/recognitions", body


# -- filings ----------------------------------------------------------------------------------------


@step("POST", "/api/v1/filings")
def _(c):
    c.filer = c.kit.world.member(OrgKind.intermediary, region_code="330201")
    return c.filer, "/api/v1/filings", {"level": "provincial", "claimed_on": "2024-03-01"}


@step("POST", "/api/v1/filings/{filing_id}/record")
def _(c):
    c.filing = c.last["id"]
    record = {
        "filing_number": "浙技转备2024-917",
        "level": "provincial",
        "filed_on": "2024-03-05",
        "valid_until": "2027-03-04",
    }
    return c.registrar, f"/api/v1/filings/{c.filing}/record", record


@step("POST", "/api/v1/filings/{filing_id}/revoke")
def _(c):
    return c.admin, f"/api/v1/filings/{c.filing}/revoke", {"reason": "年度考核不合格", "revoked_on": "2025-01-01"}


@step("POST", "/api/v1/filings/{filing_id}/reject")
def _(c):
    fid = c.kit.ok(c.kit.client.post("/api/v1/filings", json={"level": "city"}, headers=c.filer.headers), 201)["id"]
    return c.registrar, f"/api/v1/filings/{fid}/reject", {"note": "材料不全"}


# -- vouchers ---------------------------------------------------------------------------------------

VOUCHERS = "/api/v1/vouchers"


@step("POST", VOUCHERS + "/programmes")
def _(c):
    from tests.vouchers.conftest import PROGRAMME, TODAY, set_today

    set_today(c.kit.client, TODAY)
    c.vfirm, c.vfirm_b = c.kit.world.member(OrgKind.enterprise), c.kit.world.member(OrgKind.enterprise)
    c.provider = c.kit.world.member(OrgKind.intermediary, region_code="330203")
    return c.officer, f"{VOUCHERS}/programmes", PROGRAMME


@step("PATCH", VOUCHERS + "/programmes/{programme_id}")
def _(c):
    c.programme = c.last["id"]
    return c.officer, f"{VOUCHERS}/programmes/{c.programme}", {"province_share": "0.5", "city_share": "0.4"}


@step("POST", VOUCHERS + "/providers")
def _(c):
    catalogue = [{"category": "testing_certification", "name": "检测服务", "price": "10000.00"}]
    return c.provider, f"{VOUCHERS}/providers", {"catalogue": catalogue}


@step("POST", VOUCHERS + "/providers/{provider_id}/decision")
def _(c):
    return c.officer, f"{VOUCHERS}/providers/{c.last['id']}/decision", {"action": "approve"}


@step("POST", VOUCHERS + "/relationships")
def _(c):
    related = c.kit.world.member(OrgKind.enterprise)
    body = {"provider_org_id": c.provider.org_id, "firm_org_id": related.org_id, "kind": "shareholding"}
    return c.provider, f"{VOUCHERS}/relationships", body


@step("POST", VOUCHERS + "/programmes/{programme_id}/applications")
def _(c):
    body = {"firm_kind": "sme", "requested_amount": "20000.00", "purpose": "新产品检测认证"}
    return c.vfirm, f"{VOUCHERS}/programmes/{c.programme}/applications", body


@step("POST", VOUCHERS + "/vouchers/{voucher_id}/approve")
def _(c):
    return c.officer, f"{VOUCHERS}/vouchers/{c.last['id']}/approve", {}


@step("POST", VOUCHERS + "/vouchers/{voucher_id}/reject")
def _(c):
    c.voucher = c.last["id"]
    body = {"firm_kind": "sme", "requested_amount": "20000.00", "purpose": "x"}
    applied = c.kit.ok(
        c.kit.client.post(f"{VOUCHERS}/programmes/{c.programme}/applications", json=body, headers=c.vfirm_b.headers),
        201,
    )
    return c.officer, f"{VOUCHERS}/vouchers/{applied['id']}/reject", {"note": "不符合条件"}


def _booking(c) -> dict:
    return {
        "provider_org_id": c.provider.org_id,
        "category": "testing_certification",
        "scope": "按合同约定提供服务",
        "price": "1000.00",
        "voucher_amount": "900.00",
        "settlement": "general",
    }


@step("POST", VOUCHERS + "/vouchers/{voucher_id}/bookings")
def _(c):
    return c.vfirm, f"{VOUCHERS}/vouchers/{c.voucher}/bookings", _booking(c)


@step("POST", VOUCHERS + "/bookings/{booking_id}/deliver")
def _(c):
    c.booking = c.last["id"]
    return (
        c.provider,
        f"{VOUCHERS}/bookings/{c.booking}/deliver",
        {"evidence": [{"kind": "report", "reference": "检测报告 NB-2026-0012"}]},
    )


@step("POST", VOUCHERS + "/bookings/{booking_id}/confirm")
def _(c):
    return (
        c.vfirm,
        f"{VOUCHERS}/bookings/{c.booking}/confirm",
        {"scores": {"quality": 5, "timeliness": 4, "attitude": 5}},
    )


@step("POST", VOUCHERS + "/bookings/{booking_id}/claim")
def _(c):
    body = {"contract_reference": "SC-2026-001", "payment_proof": "银行回单 2026-03-10", "paid_amount": "1000.00"}
    return c.vfirm, f"{VOUCHERS}/bookings/{c.booking}/claim", body


@step("POST", VOUCHERS + "/claims/{claim_id}/review")
def _(c):
    return c.officer, f"{VOUCHERS}/claims/{c.last['id']}/review", {"approve": True}


@step("POST", VOUCHERS + "/bookings/{booking_id}/cancel")
def _(c):
    booked = c.kit.ok(
        c.kit.client.post(f"{VOUCHERS}/vouchers/{c.voucher}/bookings", json=_booking(c), headers=c.vfirm.headers), 201
    )
    return c.vfirm, f"{VOUCHERS}/bookings/{booked['id']}/cancel", None


@step("POST", VOUCHERS + "/vouchers/{voucher_id}/void")
def _(c):
    return c.officer, f"{VOUCHERS}/vouchers/{c.voucher}/void", {"description": "伪造服务合同"}


@step("POST", VOUCHERS + "/provincial-awards")
def _(c):
    body = {
        "provider_org_id": c.provider.org_id,
        "awarded_on": "2026-11-20",
        "amount": "80000.00",
        "reference": "浙科发〔2026〕88号",
    }
    return c.officer, f"{VOUCHERS}/provincial-awards", body


@step("POST", VOUCHERS + "/programmes/{programme_id}/close")
def _(c):
    return c.officer, f"{VOUCHERS}/programmes/{c.programme}/close", None


# -- the walk ---------------------------------------------------------------------------------------


class Ctx:
    last: Any = None


def test_every_mutating_operation_is_in_the_table(client):
    table = {(m, t) for m, t, _ in STEPS}
    assert len(table) == len(STEPS), "an operation is in the table twice"
    assert not table & set(EXEMPT), "an operation is both exempt and in the table"
    assert table | set(EXEMPT) == mutating_operations(client.app)


def test_each_mutating_operation_writes_an_audit_row(kit, allow_loopback_webhooks):
    c = Ctx()
    c.kit = kit
    c.admin, c.registrar, c.officer = kit.world.bureau(Role.bureau_admin), kit.world.bureau(Role.registrar), kit.officer
    c.uni, c.firm = kit.world.member(OrgKind.university), kit.world.member(OrgKind.enterprise)
    missing = []
    for method, template, build in STEPS:
        who, path, body = build(c)
        with session_scope() as s:
            before = s.scalar(sa.select(sa.func.max(AuditEntry.id))) or 0
        r = kit.client.request(method, path, json=body, headers=who.headers if who else {})
        assert 200 <= r.status_code < 300, f"{method} {template}: {r.status_code} {r.text}"
        c.last = r.json() if r.content else None
        with session_scope() as s:
            if not s.scalar(sa.select(sa.func.count()).where(AuditEntry.id > before)):
                missing.append(f"{method} {template}")
    assert missing == [], "no audit row written by: " + ", ".join(missing)


def test_create_admin_from_the_command_line_is_audited(engine):
    from click.testing import CliRunner

    from market.cli import main

    r = CliRunner().invoke(
        main, ["create-admin", "--username", "kjj-audit"], input="a-very-long-secret\na-very-long-secret\n"
    )
    assert r.exit_code == 0, r.output
    with session_scope() as s:
        entry = s.scalars(sa.select(AuditEntry).where(AuditEntry.entity_type == "user")).one()
    assert (entry.action, entry.to_state, entry.actor_user_id) == ("create", "bureau_admin", None)
    assert entry.detail == {"via": "create-admin", "username": "kjj-audit"}
