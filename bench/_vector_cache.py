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
