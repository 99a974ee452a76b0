"""Benchmark-only helper (not a script): an embedder wrapper that keeps vectors on disk between runs.

The cache is keyed by the model identity, the kind (query / passage) and the text, so a cached vector is
exactly what the model would return; the product itself never reads this cache.
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from market.core.config import PROJECT_ROOT

CACHE_DIR = PROJECT_ROOT / ".var" / "bench-vectors"


class DiskCachedEmbedder:
    def __init__(self, inner: Any, path: Path | None = None) -> None:
        self.inner = inner
        self.identity = inner.identity
        self.dimensions = inner.dimensions
        name = hashlib.sha256(inner.identity.encode()).hexdigest()[:16]
        self.path = path or CACHE_DIR / f"{name}.pickle"
        self._items: dict[str, bytes] = {}
        if self.path.exists():
            self._items = pickle.loads(self.path.read_bytes())
        self.computed = 0
        self.compute_seconds = 0.0

    @staticmethod
    def _key(kind: str, text: str) -> str:
        return hashlib.sha256(f"{kind}\0{text}".encode()).hexdigest()

    def embed(self, texts: Sequence[str], kind: str = "passage") -> list[list[float]]:
        import time
        from array import array

        keys = [self._key(kind, t) for t in texts]
        missing = [(k, t) for k, t in zip(keys, texts, strict=True) if k not in self._items]
        if missing:
            started = time.perf_counter()
            fresh = self.inner.embed([t for _, t in missing], kind)
            self.compute_seconds += time.perf_counter() - started
            self.computed += len(missing)
            for (k, _), v in zip(missing, fresh, strict=True):
                self._items[k] = array("f", v).tobytes()
        out = []
        for k in keys:
            a = array("f")
            a.frombytes(self._items[k])
            out.append(a.tolist())
        return out

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_bytes(pickle.dumps(self._items, protocol=pickle.HIGHEST_PROTOCOL))
        tmp.replace(self.path)


class StandInPassages:
    """Benchmark-only, for the SPEED run at full size: passages (listings and their sentences) get stand-in
    vectors instead of the model's, queries still go to the real model (`inner`).

    Embedding 120,000 listings with the shipped model takes hours on a small CPU, and Meilisearch's cost of
    storing and searching vectors depends on their count and dimension, not on what they mean. So:
    - `random`: a unit vector of the model's dimension drawn from a generator seeded by the text's hash;
    - `pool`: the model's real vectors of the first `pool_size` distinct passages, reused for every further
      passage (chosen by the text's hash).
    The stand-ins are stored under the real model's identity (so the API treats them as current and the match
    path does all its usual work, sentence vectors included); results are meaningless, timings are not.
    The benchmark prints which vectors it used; quality is measured by bench/match_quality.py, never with these.
    """

    def __init__(self, inner: Any, mode: str, pool_size: int = 256) -> None:
        if mode not in ("random", "pool"):
            raise ValueError(mode)
        self.inner, self.mode, self.pool_size = inner, mode, pool_size
        self.identity = inner.identity
        self.dimensions = inner.dimensions
        self._pool: list[list[float]] = []
        self._pool_texts: set[str] = set()
        self.computed = 0
        self.compute_seconds = 0.0

    def _seed(self, text: str) -> int:
        return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")

    def _random(self, text: str) -> list[float]:
        import numpy as np

        v = np.random.default_rng(self._seed(text)).standard_normal(self.dimensions)
        return (v / np.linalg.norm(v)).astype("float32").tolist()

    def embed(self, texts: Sequence[str], kind: str = "passage") -> list[list[float]]:
        if kind == "query":
            return self.inner.embed(texts, kind)
        if self.mode == "random":
            return [self._random(t) for t in texts]
        fill = [t for t in dict.fromkeys(texts) if t not in self._pool_texts][: self.pool_size - len(self._pool)]
        if fill:
            import time

            started = time.perf_counter()
            self._pool.extend(self.inner.embed(fill, "passage"))
            self.compute_seconds += time.perf_counter() - started
            self.computed += len(fill)
            self._pool_texts.update(fill)
        return [self._pool[self._seed(t) % len(self._pool)] for t in texts]

    def save(self) -> None:
        if hasattr(self.inner, "save"):
            self.inner.save()
