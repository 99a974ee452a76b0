"""A finished evaluation (科技成果评价) on the achievement listing, in search (filters, facets) and in matching
(the evaluated TRL outranks the self-declared maturity), reindexed through the outbox: all through the HTTP API
on a real Meilisearch."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from market.accounts.roles import Role
from market.core.db import session_scope
from market.core.outbox import OutboxEvent
from market.core.vocab import OrgKind
from tests.search.conftest import drain, ids, post

API = "/api/v1/evaluations"
REPORT = {
    "trl": 8,
    "innovation_grade": "domestic_first",
    "advancement_grade": "international_advanced",
    "value_low": None,
    "value_high": None,
    "report_reference": "评价报告 2026-031",
}


@pytest.fixture
def people(pg_world, pg_client):
    agency = pg_world.member(OrgKind.intermediary)
    admin = pg_world.bureau(Role.bureau_admin)
    assert pg_client.post(f"{API}/agencies", json={"hide_evaluators": True}, headers=agency.headers).status_code == 201
    r = pg_client.post(f"{API}/agencies/{agency.org_id}/decision", json={"approve": True}, headers=admin.headers)
    assert r.status_code == 200
    return {
        "institute": pg_world.member(OrgKind.institute, region_code="330203"),
        "firm": pg_world.member(OrgKind.enterprise, region_code="330212"),
        "agency": agency,
        "evaluator": pg_world.expert(),
        "world": pg_world,
    }


def evaluate(client, people, achievement_id: int, *, finish: bool = True, **report) -> int:
    """Request, assign and (unless `finish` is false) report an evaluation through the API."""
    holder, agency = people["institute"], people["agency"]
    body = {"achievement_id": achievement_id, "agency_org_id": agency.org_id}
    r = client.post(API, json=body, headers=holder.headers)
    assert r.status_code == 201, r.text
    eid = r.json()["id"]
    r = client.post(
        f"{API}/{eid}/evaluators", json={"evaluator_ids": [people["evaluator"].user_id]}, headers=agency.headers
    )
    assert r.status_code == 200, r.text
    if finish:
        r = client.post(f"{API}/{eid}/report", json={**REPORT, **report}, headers=agency.headers)
        assert r.status_code == 200, r.text
    return eid


def test_listing_shows_the_finished_evaluation_to_everyone(pg_client, meili, people):
    inst = people["institute"]
    evaluated = post(pg_client, inst, "achievement")
    pending = post(pg_client, inst, "achievement", title="钠离子电池负极材料")
    plain = post(pg_client, inst, "achievement", title="固态电解质薄膜")
    eid = evaluate(pg_client, people, evaluated)
    evaluate(pg_client, people, pending, finish=False)  # requested and assigned, no report yet

    for headers in ({}, inst.headers, people["firm"].headers):  # anonymous, the holder, another firm
        shown = pg_client.get(f"/api/v1/achievements/{evaluated}", headers=headers).json()["evaluation"]
        assert shown["evaluation_id"] == eid
        assert (shown["trl"], shown["innovation_grade_label"], shown["advancement_grade_label"]) == (
            8,
            "国内首创",
            "国际先进",
        )
        assert shown["agency_org_id"] == people["agency"].org_id and shown["agency_name"]
        assert shown["completed_at"] is not None
    # an unfinished evaluation shows nowhere, not even to the holder
    assert pg_client.get(f"/api/v1/achievements/{pending}", headers=inst.headers).json()["evaluation"] is None
    page = pg_client.get("/api/v1/achievements", params={"org_id": inst.org_id, "page_size": 50}).json()
    by_id = {item["id"]: item["evaluation"] for item in page["items"]}
    assert by_id[evaluated]["trl"] == 8 and by_id[pending] is None and by_id[plain] is None
    # the holder's own edit answers with the evaluation too
    r = pg_client.patch(f"/api/v1/achievements/{evaluated}", json={"keywords": ["正极材料"]}, headers=inst.headers)
    assert r.status_code == 200 and r.json()["evaluation"]["evaluation_id"] == eid


def test_finishing_an_evaluation_reindexes_and_search_filters_and_facets_it(pg_client, meili, people):
    inst = people["institute"]
    evaluated = post(pg_client, inst, "achievement")
    second = post(pg_client, inst, "achievement", title="高镍正极材料烧结工艺")
    plain = post(pg_client, inst, "achievement", title="高镍正极材料回收技术")
    drain()
    q = {"kind": "achievement", "q": "正极材料"}
    assert sorted(ids(pg_client.get("/api/v1/search", params=q))) == sorted([evaluated, second, plain])
    assert ids(pg_client.get("/api/v1/search", params={**q, "evaluated": "true"})) == []

    evaluate(pg_client, people, evaluated)
    evaluate(pg_client, people, second, trl=5, innovation_grade="improvement", advancement_grade="domestic_advanced")
    with session_scope() as s:  # the report queued the achievement for the index, in its own transaction
        queued = s.scalars(
            sa.select(OutboxEvent.entity_id).where(
                OutboxEvent.topic == "search.index",
                OutboxEvent.entity_type == "achievement",
                OutboxEvent.processed_at.is_(None),
            )
        ).all()
        assert {evaluated, second} <= set(queued)
    drain()

    r = pg_client.get("/api/v1/search", params={**q, "evaluated": "true"})
    assert sorted(ids(r)) == sorted([evaluated, second])
    item = next(i for i in r.json()["items"] if i["id"] == evaluated)
    assert item["evaluation_trl"] == 8 and item["innovation_grade"] == "domestic_first" and item["evaluated_at"]
    assert item["evaluation_agency"] and item["evaluation_agency_id"] == people["agency"].org_id
    assert ids(pg_client.get("/api/v1/search", params={**q, "evaluated": "false"})) == [plain]
    assert ids(pg_client.get("/api/v1/search", params={**q, "min_trl": 7})) == [evaluated]
    assert ids(pg_client.get("/api/v1/search", params={**q, "innovation_grade": "improvement"})) == [second]
    assert ids(pg_client.get("/api/v1/search", params={**q, "advancement_grade": "international_advanced"})) == [
        evaluated
    ]
    facets = pg_client.get("/api/v1/search", params=q).json()["facets"]
    assert facets["evaluated"] == {"true": 2, "false": 1}
    assert facets["innovation_grade"] == {"domestic_first": 1, "improvement": 1}
    assert facets["evaluation_trl"] == {"5": 1, "8": 1}

    # bad filter values: a clear 422 with the one error shape
    for bad in ({"min_trl": 10}, {"innovation_grade": "best"}, {"advancement_grade": "x"}, {"evaluated": "maybe"}):
        r = pg_client.get("/api/v1/search", params={**q, **bad})
        assert r.status_code == 422 and r.json()["error"]["code"], (bad, r.text)


def test_matching_prefers_the_evaluated_trl_and_says_so(pg_client, meili, people):
    inst, firm = people["institute"], people["firm"]
    # the same technology four times; the demand wants 小批量 (small_batch) or better
    claims_industrial = post(pg_client, inst, "achievement", maturity="industrial")  # evaluated TRL 3: 实验室
    claims_lab = post(pg_client, inst, "achievement", maturity="lab")  # evaluated TRL 8: 产业化
    self_declared = post(pg_client, inst, "achievement", maturity="industrial")  # never evaluated
    verified = post(pg_client, inst, "achievement", maturity="lab")  # evaluated TRL 9
    demand = post(pg_client, firm, "demand", wanted_maturity="small_batch")
    evaluate(pg_client, people, claims_industrial, trl=3)
    evaluate(pg_client, people, claims_lab, trl=8)
    evaluate(pg_client, people, verified, trl=9)
    drain()

    r = pg_client.get(f"/api/v1/match/demand/{demand}", headers=firm.headers)
    assert r.status_code == 200, r.text
    items = {i["listing"]["id"]: i for i in r.json()["items"]}
    order = [i["listing"]["id"] for i in r.json()["items"]]

    def maturity(listing_id: int) -> dict:
        return next(x for x in items[listing_id]["reasons"] if x["constraint"] == "maturity")

    # the evaluated TRL decides, whatever the holder declared
    assert maturity(claims_industrial)["fit"] == "miss" and "评价TRL 3" in maturity(claims_industrial)["detail"]
    assert maturity(claims_lab)["fit"] == "fit" and "评价TRL 8" in maturity(claims_lab)["detail"]
    assert maturity(self_declared)["fit"] == "fit" and "评价TRL" not in maturity(self_declared)["detail"]
    assert "自报" in maturity(self_declared)["detail"]
    assert maturity(verified)["fit"] == "fit" and "评价TRL 9，产业化" in maturity(verified)["detail"]
    # same text, listed earlier: claims_industrial would lead on its declared maturity; its evaluation sinks it
    assert order.index(claims_lab) < order.index(claims_industrial)
    assert items[claims_lab]["score"] > items[claims_industrial]["score"]

    # the other way round: the achievement's own evaluated TRL is its maturity when it is the source
    r = pg_client.get(f"/api/v1/match/achievement/{claims_industrial}", headers=inst.headers)
    assert r.status_code == 200, r.text
    reasons = next(i for i in r.json()["items"] if i["listing"]["id"] == demand)["reasons"]
    assert next(x for x in reasons if x["constraint"] == "maturity")["fit"] == "miss"
