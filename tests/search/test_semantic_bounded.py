"""The semantic request is bounded: a fixed `limit`, no `rankingScoreThreshold` (with a threshold Meilisearch scans
the whole vector index when few listings reach it), and the similarity floor is applied by our code."""

from __future__ import annotations

from typing import Any

import pytest

from market.core.config import get_settings
from market.core.db import session_scope
from market.matching import saved_searches
from search import query
from search.client import MeiliClient
from search.settings import index_uid
from tests.search.conftest import drain, post
from tests.search.test_semantic import BATTERY, COMPLAINT, FUME_HOOD, embed, model, people  # noqa: F401 (fixtures)


@pytest.fixture
def sent(monkeypatch) -> list[dict[str, Any]]:
    """Every search request body sent to the real Meilisearch (one entry per query of a multi-search)."""
    bodies: list[dict[str, Any]] = []
    real = MeiliClient.request

    def recording(self, method: str, path: str, **kwargs: Any) -> Any:
        body = kwargs.get("json") or {}
        if path.endswith("/search") and method == "POST":
            bodies.append(body)
        elif path == "/multi-search":
            bodies.extend(body["queries"])
        return real(self, method, path, **kwargs)

    monkeypatch.setattr(MeiliClient, "request", recording)
    return bodies


def assert_bounded(bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The semantic requests among `bodies`: none has a threshold; each has a limit or scores listed ids only."""
    semantic = [b for b in bodies if "vector" in b]
    assert semantic, bodies
    for body in semantic:
        assert "rankingScoreThreshold" not in body, body
        assert "limit" in body or any(str(f).startswith("id IN [") for f in body["filter"]), body
    return semantic


def test_search_sends_a_bounded_semantic_request_and_drops_hits_below_the_floor(pg_client, meili, model, people, sent):
    inst = people["institute"]
    hood = post(pg_client, inst, "achievement", **FUME_HOOD)
    battery = post(pg_client, inst, "achievement", **BATTERY)
    drain()
    embed()
    sent.clear()
    r = pg_client.get("/api/v1/search", params={"kind": "achievement", "q": COMPLAINT})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [i["id"] for i in body["items"]] == [hood]
    assert body["total"] == 1
    assert body["facets"]["technical_field"] == {"environmental": 1}
    semantic = assert_bounded(sent)
    # the bounded request (with its fixed limit) brought the battery too, below the floor: our code dropped it
    probe = next(b for b in semantic if "limit" in b)
    assert probe["limit"] == query.SEMANTIC_LIMIT and probe["showRankingScore"] is True
    scores = {h["id"]: h["_rankingScore"] for h in meili.search(index_uid("achievement"), probe)["hits"]}
    floor = query.similarity_floor(get_settings().embeddings_min_similarity)
    assert scores[battery] < floor <= scores[hood]


def test_a_saved_query_by_meaning_is_bounded_and_ignores_listings_below_the_floor(
    pg_client, meili, model, people, sent
):
    r = pg_client.post(
        "/api/v1/saved-searches",
        json={"name": "油烟", "target": "achievement", "query": COMPLAINT},
        headers=people["firm"].headers,
    )
    assert r.status_code == 201, r.text
    hood = post(pg_client, people["institute"], "achievement", **FUME_HOOD)
    battery = post(pg_client, people["institute"], "achievement", **BATTERY)
    drain()
    embed()
    sent.clear()
    with session_scope() as s:
        assert not saved_searches.notify_for_listing(s, "achievement", battery)
        assert saved_searches.notify_for_listing(s, "achievement", hood)
    assert_bounded(sent)
