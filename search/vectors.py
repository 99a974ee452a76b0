"""Listing vectors as Meilisearch holds them: what a vector reads, its hash, its bytes, the `embedders` setting,
and embedding a batch of documents. Which listings need one, and keeping them, is the market's drain
(market/matching/indexing.py and embedding.py)."""

from __future__ import annotations

import hashlib
from array import array
from typing import Any

from search import embeddings, explain
from search.embeddings import Embedder, Vector

EMBEDDER_NAME = "semantic"  # the Meilisearch embedder (source userProvided) holding the vectors
BATCH = 64  # listings per model call in the embedding pass

Embedded = tuple[str, Vector, list[str], list[Vector]]  # text hash, vector, sentences, their vectors


def embedding_text(doc: dict[str, Any]) -> str:
    """What a listing's vector reads: title, keywords, then its text (summary / description)."""
    body = doc.get("summary") or doc.get("description") or ""
    return "\n".join(filter(None, [doc.get("title") or "", "、".join(doc.get("keywords") or []), body]))


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def pack(vector: Vector) -> bytes:
    return array("f", vector).tobytes()  # float32, native order: little-endian on every platform we run on


def unpack(blob: bytes) -> Vector:
    out = array("f")
    out.frombytes(blob)
    return out.tolist()


def embedder_settings(embedder: Embedder | None) -> dict[str, Any] | None:
    """The index's `embedders` setting: our vectors, given by us (nothing is computed by Meilisearch)."""
    if embedder is None:
        return None
    return {EMBEDDER_NAME: {"source": "userProvided", "dimensions": embedder.dimensions}}


def with_vector(doc: dict[str, Any], vector: Vector, model: str) -> None:
    doc["_vectors"] = {EMBEDDER_NAME: {"embeddings": vector, "regenerate": False}}
    doc["embedding_model"] = model


def without_vector(doc: dict[str, Any]) -> None:
    """An explicit "none yet" (Meilisearch wants a vector or this once an embedder is set)."""
    doc["_vectors"] = {EMBEDDER_NAME: None}
    doc["embedding_model"] = None


def embed_documents(
    embedder: Embedder, kind: str, docs: dict[int, dict[str, Any] | None], missing: list[int]
) -> dict[int, Embedded]:
    """Embed the texts of `missing` documents and their sentences in one call; attach the vectors to the documents."""
    found = {i: doc for i in missing if (doc := docs.get(i)) is not None}
    texts = {i: embedding_text(doc) for i, doc in found.items()}
    sentences = {i: explain.sentences(doc.get("summary") or doc.get("description") or "") for i, doc in found.items()}
    flat = list(texts.values()) + [s for ss in sentences.values() for s in ss]
    vectors = embedder.embed(flat, "passage") if flat else []
    out = {}
    rest = iter(vectors[len(texts) :])
    for (i, text), vector in zip(texts.items(), vectors, strict=False):
        out[i] = (text_hash(text), vector, sentences[i], [next(rest) for _ in sentences[i]])
        with_vector(found[i], vector, embedder.identity)
    return out


def source_vector(doc: dict[str, Any]) -> Vector | None:
    """The query vector of a listing being matched (cached: the same listing matched again costs nothing)."""
    cache = embeddings.query_cache()
    if cache is None:
        return None
    return cache.one(embedding_text(doc), "query")
