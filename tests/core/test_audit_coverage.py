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
        note = Notification(user_id=c.firm.user_id, saved_search_id=saved.id, listing_type="achievement",
                            listing_id=c.achievement, title="t", detail={})  # fmt: skip
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
    return c.registrar, f"{CONTRACTS}/{c.contract}/return", {"items": [{"field": "parties", "message": "缺少买方盖章页"}]}


@step("PUT", CONTRACTS + "/{contract_id}")
def _(c):
    return c.uni, f"{CONTRACTS}/{c.contract}", contract_body(c.uni.org_id, c.firm.org_id)


@step("POST", CONTRACTS + "/{contract_id}/submit")
def _(c):
    # the PUT filed the returned contract again; a draft is filed here
    r = c.kit.client.post(CONTRACTS, json=contract_body(c.uni.org_id, c.firm.org_id, project_name="草稿合同", submit=False),
                          headers=c.uni.headers)  # fmt: skip
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
    return c.registrar, f"{CONTRACTS}/{c.contract}/amendments", {"reason": "增加技术服务内容", "total_amount": "1500000.00"}


@step("POST", CONTRACTS + "/{contract_id}/cancellation")
def _(c):
    return c.registrar, f"{CONTRACTS}/{c.contract}/cancellation", {"reason": "双方协议解除"}


@step("POST", CONTRACTS + "/{contract_id}/refuse")
def _(c):
    r = c.kit.client.post(CONTRACTS, json=contract_body(c.uni.org_id, c.firm.org_id, project_name="另一合同"),
                          headers=c.uni.headers)  # fmt: skip
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
    return c.officer, "/api/v1/subsidies/runs", {"period_start": "2024-01-01", "period_end": "2024-12-31",
                                                "policy_codes": ["nb2014-seller"]}  # fmt: skip


@step("POST", "/api/v1/subsidies/runs/{run_id}/compute")
def _(c):
    from market.subsidies import service

    c.run = c.last["id"]
    service.compute_run(c.run)
    return c.officer, f"/api/v1/subsidies/runs/{c.run}/compute", None


@step("POST", "/api/v1/subsidies/runs/{run_id}/{action}")
def _(c):
    from market.subsidies import service

    service.compute_run(c.run)
    return c.officer, f"/api/v1/subsidies/runs/{c.run}/review", None


@step("POST", "/api/v1/subsidies/vouchers")
def _(c):
    service_contract = add_contract(c.uni.org_id, c.firm.org_id, 100_000, type="service", subtype="technical_service")
    return c.officer, "/api/v1/subsidies/vouchers", {"contract_id": service_contract}


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


@step("POST", "/api/v1/calls/{call_id}/objections/{objection_id}/resolve")
def _(c):
    return c.kit.officer, f"/api/v1/calls/{c.call}/objections/{c.last['id']}/resolve", {"upheld": False,
                                                                                       "resolution": "经核查不属实"}  # fmt: skip


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


@step("POST", "/api/v1/calls/projects/{project_id}/milestones/{milestone_id}/submit")
def _(c):
    bid = c.kit.ok(c.kit.client.get(f"/api/v1/calls/{c.call}/bids/{c.bid_ids[0]}", headers=c.kit.officer.headers))
    c.winner = c.kit.world.user(bid["lead_org_id"])
    for m in c.signed["milestones"][1:]:
        c.kit.post(c.winner, f"/api/v1/calls/projects/{c.project}/milestones/{m['id']}/submit", {"note": "交付"})
    return c.winner, f"/api/v1/calls/projects/{c.project}/milestones/{c.signed['milestones'][0]['id']}/submit", {"note": "交付"}


@step("POST", "/api/v1/calls/projects/{project_id}/milestones/{milestone_id}/review")
def _(c):
    for m in c.signed["milestones"][1:]:
        c.kit.post(c.kit.officer, f"/api/v1/calls/projects/{c.project}/milestones/{m['id']}/review", {"passed": True})
    milestone = c.signed["milestones"][0]["id"]
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


@step("POST", "/api/v1/calls/{call_id}/down-select")
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
    return c.kit.officer, f"/api/v1/calls/{race['id']}/down-select", {"keep_bid_ids": [bids[0]["id"], bids[1]["id"]]}


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

    r = CliRunner().invoke(main, ["create-admin", "--username", "kjj-audit"], input="a-very-long-secret\na-very-long-secret\n")
    assert r.exit_code == 0, r.output
    with session_scope() as s:
        entry = s.scalars(sa.select(AuditEntry).where(AuditEntry.entity_type == "user")).one()
    assert (entry.action, entry.to_state, entry.actor_user_id) == ("create", "bureau_admin", None)
    assert entry.detail == {"via": "create-admin", "username": "kjj-audit"}
