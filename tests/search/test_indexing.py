"""Listings reach Meilisearch through the outbox; search and match over the real engine; reindex with swap."""

from __future__ import annotations

import threading

import pytest

from market.accounts.roles import Role
from market.core.vocab import OrgKind
from tests.search.conftest import drain, ids, post, transition


@pytest.fixture
def people(pg_world):
    return {
        "institute": pg_world.member(OrgKind.institute, region_code="330203"),
        "firm": pg_world.member(OrgKind.enterprise, region_code="330212"),
        "bureau": pg_world.bureau(Role.bureau_admin),
    }


def test_only_public_listings_are_searchable_and_changes_follow(pg_client, meili, people):
    inst = people["institute"]
    published = post(pg_client, inst, "achievement")
    draft = post(pg_client, inst, "achievement", publish=False, title="高镍三元正极材料草稿")
    drain()
    r = pg_client.get("/api/v1/search", params={"kind": "achievement", "q": "正极材料"})
    assert ids(r) == [published]  # the draft never appears
    assert draft not in ids(pg_client.get("/api/v1/search", params={"kind": "achievement", "q": "草稿"}))

    # an edit is visible after the drain; closing removes it from the index
    assert (
        pg_client.patch(
            f"/api/v1/achievements/{published}", json={"title": "钠离子电池正极材料制备"}, headers=inst.headers
        ).status_code
        == 200
    )
    drain()
    assert ids(pg_client.get("/api/v1/search", params={"kind": "achievement", "q": "钠离子"})) == [published]
    transition(pg_client, inst, "achievement", published, "close")
    drain()
    assert ids(pg_client.get("/api/v1/search", params={"kind": "achievement", "q": "正极材料"})) == []


def test_search_expands_synonyms_filters_facets_highlight_sort(pg_client, meili, people):
    inst = people["institute"]
    battery = post(pg_client, inst, "achievement")
    cheap = post(
        pg_client,
        inst,
        "achievement",
        title="动力电池快速充电管理技术",
        summary="电池管理系统的快速充电控制算法研究成果。",
        keywords=["BMS"],
        asking_price="面议",
        maturity="industrial",
        transfer_modes=["technical_service"],
    )
    other = post(
        pg_client,
        inst,
        "achievement",
        title="工业机器人自动打磨工作站",
        technical_field="advanced_manufacturing",
        summary="用于铸件去毛刺的机器人打磨系统。",
        keywords=["打磨"],
        asking_price="200000.00",
    )
    drain()
    # 锂电 appears in no achievement: it reaches 锂离子电池 / 动力电池 through the dictionary
    r = pg_client.get("/api/v1/search", params={"kind": "achievement", "q": "锂电"})
    assert set(ids(r)) == {battery, cheap}
    body = r.json()
    assert "锂离子电池" in body["expanded_terms"]
    assert body["facets"]["technical_field"] == {"new_energy": 2}
    assert any("<em>" in v for item in body["items"] for v in item.get("highlight", {}).values())
    # filters: field, maturity, mode, region prefix, price range with and without 面议
    q = {"kind": "achievement", "q": ""}
    assert set(ids(pg_client.get("/api/v1/search", params={**q, "technical_field": "advanced_manufacturing"}))) == {
        other
    }
    assert ids(pg_client.get("/api/v1/search", params={**q, "maturity": "industrial"})) == [cheap]
    assert ids(pg_client.get("/api/v1/search", params={**q, "mode": "technical_service"})) == [cheap]
    assert len(ids(pg_client.get("/api/v1/search", params={**q, "region_code": "330200"}))) == 3
    assert ids(pg_client.get("/api/v1/search", params={**q, "region_code": "110000"})) == []
    assert ids(pg_client.get("/api/v1/search", params={**q, "max_price": "500000"})) == [other]
    assert set(
        ids(pg_client.get("/api/v1/search", params={**q, "max_price": "500000", "include_negotiable": True}))
    ) == {
        other,
        cheap,
    }
    ranged = pg_client.get("/api/v1/search", params={**q, "sort": "price_desc", "min_price": "100000"}).json()
    assert [i["id"] for i in ranged["items"]] == [battery, other]
    assert ranged["items"][0]["asking_price"] == "800000.00"
    page = pg_client.get("/api/v1/search", params={**q, "sort": "newest", "page": 2, "page_size": 2}).json()
    assert page["total"] == 3 and [i["id"] for i in page["items"]] == [battery]


def test_match_both_directions_with_reasons(pg_client, meili, people):
    inst, firm = people["institute"], people["firm"]
    battery = post(pg_client, inst, "achievement")
    robot = post(
        pg_client,
        inst,
        "achievement",
        title="工业机器人自动打磨工作站",
        technical_field="advanced_manufacturing",
        summary="用于铸件去毛刺的机器人打磨系统。",
        keywords=["打磨"],
        asking_price="200000.00",
    )
    demand = post(pg_client, firm, "demand")
    drain()
    r = pg_client.get(f"/api/v1/match/demand/{demand}")
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert items[0]["listing"]["id"] == battery
    assert robot not in [i["listing"]["id"] for i in items[:1]]
    top = items[0]
    assert "锂离子电池" in top["matched_terms"] and "正极材料" in top["matched_terms"]
    reasons = {x["constraint"]: x["fit"] for x in top["reasons"]}
    assert (
        reasons.items()
        >= {"technical_field": "fit", "maturity": "fit", "price": "fit", "modes": "fit", "region": "fit"}.items()
    )
    assert reasons.get("concepts") == "fit"  # the shared words, said as a reason too

    back = pg_client.get(f"/api/v1/match/achievement/{battery}").json()["items"]
    assert [i["listing"]["id"] for i in back] == [demand]
    # a draft's matches are only for its owner (bearer token or API key) and the bureau; others get 404
    draft = post(pg_client, firm, "demand", publish=False)
    assert pg_client.get(f"/api/v1/match/demand/{draft}").status_code == 404
    assert pg_client.get(f"/api/v1/match/demand/{draft}", headers=inst.headers).status_code == 404
    assert pg_client.get(f"/api/v1/match/demand/{draft}", headers=firm.headers).status_code == 200
    assert pg_client.get(f"/api/v1/match/demand/{draft}", headers=people["bureau"].headers).status_code == 200
    key = pg_client.post("/api/v1/auth/api-keys", json={"name": "match"}, headers=firm.headers)
    assert key.status_code == 201, key.text
    assert pg_client.get(f"/api/v1/match/demand/{draft}", headers={"X-API-Key": key.json()["key"]}).status_code == 200
    bad = pg_client.get(f"/api/v1/match/demand/{draft}", headers={"Authorization": "Bearer not-a-token"})
    assert bad.status_code == 401 and bad.json()["error"]["code"] == "invalid_token"


def test_full_reindex_swaps_without_an_empty_moment(pg_client, meili, people):
    from market.matching import indexing

    inst = people["institute"]
    listing_ids = [post(pg_client, inst, "achievement", title=f"锂离子电池正极材料 第{i}代") for i in range(6)]
    drain()
    seen: list[int] = []
    stop = threading.Event()

    def watch() -> None:
        from search import runtime
        from search.settings import index_uid

        while not stop.is_set():
            seen.append(
                runtime.get_client().search(index_uid("achievement"), {"q": "", "limit": 0})["estimatedTotalHits"]
            )

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        counts = indexing.reindex()
    finally:
        stop.set()
        watcher.join()
    assert counts["achievement"] == 6
    assert seen and min(seen) == 6, "search was empty or partial during the reindex"
    r = pg_client.get("/api/v1/search", params={"kind": "achievement", "q": "锂电"})
    assert set(ids(r)) == set(listing_ids)


def test_index_lag_is_exposed_to_the_bureau(pg_client, meili, people):
    post(pg_client, people["institute"], "achievement")
    r = pg_client.get("/api/v1/search/lag", headers=people["bureau"].headers)
    assert r.status_code == 200 and r.json()["pending"] >= 2 and r.json()["lag_seconds"] >= 0
    assert pg_client.get("/api/v1/search/lag", headers=people["firm"].headers).status_code == 403
    assert pg_client.get("/api/v1/search/lag").status_code == 401
    drain()
    r = pg_client.get("/api/v1/search/lag", headers=people["bureau"].headers).json()
    assert r == {"pending": 0, "oldest_created_at": None, "lag_seconds": 0.0}


def test_patent_numbers_match_exactly_without_typo_tolerance(pg_client, meili, people):
    listing = post(pg_client, people["institute"], "achievement", patent_numbers=["ZL201710601862.3"])
    drain()
    assert ids(pg_client.get("/api/v1/search", params={"kind": "achievement", "q": "201710601862"})) == [listing]
    # one digit off is another patent, not a typo
    assert ids(pg_client.get("/api/v1/search", params={"kind": "achievement", "q": "201710601863"})) == []


def test_settings_are_applied_idempotently(meili):
    from search import writer
    from search.settings import index_uid

    writer.apply_settings(meili)
    writer.apply_settings(meili)
    applied = meili.get_settings(index_uid("achievement"))
    assert applied["localizedAttributes"][0]["locales"] == ["cmn"]
    assert "patent_numbers" in applied["typoTolerance"]["disableOnAttributes"]
    assert {"technical_field", "maturity", "transfer_modes", "region_code", "asking_price_fen"} <= set(
        applied["filterableAttributes"]
    )
    # the dictionary is applied by our own query expansion, never twice by Meilisearch's synonyms
    assert applied["synonyms"] == {}


def test_drain_and_search_on_both_databases(client, world, meili):
    inst = world.member(OrgKind.institute)
    listing = post(client, inst, "achievement")
    assert drain().processed == 2  # created + published
    assert drain().processed == 0  # idempotent: nothing left
    assert ids(client.get("/api/v1/search", params={"kind": "achievement", "q": "锂电"})) == [listing]


def test_open_calls_are_indexed_through_the_calls_projection(pg_client, pg_world, meili):
    from market.calls.endpoints import clock
    from tests.calls.conftest import T0, Clock, Kit, call_body

    pg_client.app.dependency_overrides[clock] = Clock(T0)
    kit = Kit(pg_client, pg_world, Clock(T0))
    body = call_body(title="氢燃料电池双极板寿命攻关", problem="金属双极板腐蚀导致电堆寿命不足。")
    draft = kit.post(kit.firm, "/api/v1/calls", body, status=201)
    published = kit.published_call()
    drain()
    r = pg_client.get("/api/v1/search", params={"kind": "call", "q": "锂电"})
    assert ids(r) == [published["id"]]  # 锂电 reaches 锂电池 through the dictionary; the unvetted one is absent
    assert r.json()["items"][0]["kind"] == "solve" and r.json()["facets"]["kind"] == {"solve": 1}
    assert draft["id"] not in ids(pg_client.get("/api/v1/search", params={"kind": "call", "q": "双极板"}))
