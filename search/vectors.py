"""Listing vectors in the index: the stored embeddings attached to documents, and the embedding pass of the drain.

The lexical pass (indexer.drain) never waits for a model: it attaches the vector stored for the document's
current text and model, or none, and queues the listing on the `search.embed` topic. The embedding pass
claims those rows in batches, embeds the texts that have no vector yet in one call, stores the vectors
(model identity and text hash with each) and pushes the current documents again, now with their vectors.
A listing is therefore searchable by its words at once and by its meaning once its vector lands; a model
or Meilisearch outage leaves the rows to come back after a backoff, as in the lexical pass.
"""

from __future__ import annotations

import hashlib
import threading
from array import array
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from market.core import outbox
from market.core.db import session_scope
from market.core.outbox import OutboxEvent
from market.matching.models import ListingEmbedding
from search import embeddings, explain, indexer
from search.client import MeiliClient
from search.embeddings import Embedder, Vector
from search.terms import TermExtractor

EMBED_TOPIC = "search.embed"
EMBEDDER_NAME = "semantic"  # the Meilisearch embedder (source userProvided) holding the vectors
BATCH = 64  # listings per model call in the embedding pass
_PASS = "embedding_pass"  # session flag: the embedding pass itself does not queue what it is about to embed


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


def stored(session: Session, kind: str, ids: Iterable[int], model: str) -> dict[int, tuple[str, Vector]]:
    ids = list(ids)
    if not ids:
        return {}
    rows = session.execute(
        sa.select(ListingEmbedding.entity_id, ListingEmbedding.text_hash, ListingEmbedding.vector).where(
            ListingEmbedding.entity_type == kind, ListingEmbedding.model == model, ListingEmbedding.entity_id.in_(ids)
        )
    ).all()
    return {i: (h, unpack(v)) for i, h, v in rows}


def attach(session: Session, kind: str, docs: dict[int, dict[str, Any] | None]) -> list[int]:
    """Give each document its stored vector for its current text, or an explicit "none yet" (Meilisearch wants
    one or the other once an embedder is set); queue those without one for the embedding pass."""
    embedder = embeddings.get_embedder()
    if embedder is None:
        return []
    have = stored(session, kind, [i for i, d in docs.items() if d is not None], embedder.identity)
    missing = []
    for i, doc in docs.items():
        if doc is None:
            continue
        found = have.get(i)
        if found is not None and found[0] == text_hash(embedding_text(doc)):
            doc["_vectors"] = {EMBEDDER_NAME: {"embeddings": found[1], "regenerate": False}}
            doc["embedding_model"] = embedder.identity
        else:
            doc["_vectors"] = {EMBEDDER_NAME: None}
            doc["embedding_model"] = None
            missing.append(i)
    if missing and not session.info.get(_PASS):
        queue(session, kind, missing)
    return missing


def attached(session: Session, kind: str, docs: dict[int, dict[str, Any] | None]) -> dict[int, dict[str, Any] | None]:
    attach(session, kind, docs)
    return docs


def queue(session: Session, kind: str, ids: list[int]) -> None:
    """Queue listings for the embedding pass (once: rows still pending are not repeated)."""
    pending = set(
        session.scalars(
            sa.select(OutboxEvent.entity_id).where(
                OutboxEvent.topic == EMBED_TOPIC,
                OutboxEvent.entity_type == kind,
                OutboxEvent.processed_at.is_(None),
                OutboxEvent.entity_id.in_(ids),
            )
        )
    )
    for i in ids:
        if i not in pending:
            outbox.emit(session, EMBED_TOPIC, kind, i)


Embedded = tuple[str, Vector, list[str], list[Vector]]  # text hash, vector, sentences, their vectors


def store(session: Session, kind: str, vectors: dict[int, Embedded], model: str) -> None:
    """Keep each listing's vector (one per listing and model; a new text replaces the old vector)."""
    if not vectors:
        return
    session.execute(
        sa.delete(ListingEmbedding).where(
            ListingEmbedding.entity_type == kind,
            ListingEmbedding.model == model,
            ListingEmbedding.entity_id.in_(list(vectors)),
        )
    )
    session.add_all(
        ListingEmbedding(
            entity_type=kind,
            entity_id=i,
            model=model,
            text_hash=h,
            dimensions=len(v),
            vector=pack(v),
            sentences=ss,
            sentence_vectors=b"".join(pack(x) for x in sv),
        )
        for i, (h, v, ss, sv) in vectors.items()
    )
    session.flush()


def embed_documents(
    embedder: Embedder, kind: str, docs: dict[int, dict[str, Any] | None], missing: list[int]
) -> dict[int, Embedded]:
    """Embed the texts of `missing` documents and their sentences in one call; attach the vectors to the documents."""
    present = {i: d for i in missing if (d := docs.get(i)) is not None}
    texts = {i: embedding_text(d) for i, d in present.items()}
    sentences = {i: explain.sentences(d.get("summary") or d.get("description") or "") for i, d in present.items()}
    flat = list(texts.values()) + [s for ss in sentences.values() for s in ss]
    vectors = embedder.embed(flat, "passage") if flat else []
    out = {}
    rest = iter(vectors[len(texts) :])
    for (i, text), vector in zip(texts.items(), vectors, strict=False):
        out[i] = (text_hash(text), vector, sentences[i], [next(rest) for _ in sentences[i]])
        present[i]["_vectors"] = {EMBEDDER_NAME: {"embeddings": vector, "regenerate": False}}
        present[i]["embedding_model"] = embedder.identity
    return out


# Sentences and their vectors of listings recently shown in a match, by (kind, id, model, text hash): a listing's
# sentences change only with its text, so an entry is never stale, and the listings a market's matches show
# repeat. About 5 KB each (three sentences of 384 float32).
SENTENCE_CACHE_SIZE = 4096
_sentences: OrderedDict[tuple[str, int, str, str], tuple[list[str], Any]] = OrderedDict()
_sentences_lock = threading.Lock()


def sentence_vectors(
    session: Session, kind: str, ids: Iterable[int], model: str, hashes: Mapping[int, str] | None = None
) -> dict[int, tuple[list[str], Any]]:
    """The stored sentences of listings, with their vectors as one float32 matrix (explaining without the model).

    With `hashes` (id → `text_hash` of the text the caller shows), only vectors of exactly that text are
    returned — an edited listing whose new vectors have not landed yet has none — and they are remembered in
    a process-wide LRU, so a listing shown again costs no database read."""
    ids = list(ids)
    if not ids:
        return {}
    out: dict[int, tuple[list[str], Any]] = {}
    if hashes is not None:
        with _sentences_lock:
            for i in ids:
                key = (kind, i, model, hashes.get(i, ""))
                found = _sentences.get(key)
                if found is not None:
                    _sentences.move_to_end(key)
                    out[i] = found
        ids = [i for i in ids if i not in out]
        if not ids:
            return out
    rows = session.execute(
        sa.select(
            ListingEmbedding.entity_id,
            ListingEmbedding.dimensions,
            ListingEmbedding.text_hash,
            ListingEmbedding.sentences,
            ListingEmbedding.sentence_vectors,
        ).where(
            ListingEmbedding.entity_type == kind, ListingEmbedding.model == model, ListingEmbedding.entity_id.in_(ids)
        )
    ).all()
    import numpy as np

    fresh: dict[int, tuple[list[str], Any]] = {}
    for i, dims, stored_hash, ss, blob in rows:
        if hashes is not None and hashes.get(i) != stored_hash:
            continue  # vectors of an older text: the new ones have not landed yet
        ss = list(ss or [])
        fresh[i] = (ss, np.frombuffer(blob, dtype="<f4").reshape(len(ss), dims) if ss else [])
    if hashes is not None and fresh:
        with _sentences_lock:
            for i, value in fresh.items():
                _sentences[(kind, i, model, hashes[i])] = value
            while len(_sentences) > SENTENCE_CACHE_SIZE:
                _sentences.popitem(last=False)
    return {**out, **fresh}


def _load(kind_ids: dict[str, set[int]], extractor: TermExtractor):
    """Current documents (with the vectors already stored) and which still need one; read-only."""
    with session_scope() as session:
        session.info[_PASS] = True
        # versions first, as the lexical pass reads them: finish() re-sends whatever moved on meanwhile
        versions = {k: indexer.versions_of(session, k, ids) for k, ids in kind_ids.items()}
        docs = {k: indexer.load_documents(session, k, ids, extractor) for k, ids in kind_ids.items()}
        missing = {
            k: [i for i, d in by_id.items() if d is not None and d.get("embedding_model") is None]
            for k, by_id in docs.items()
        }
    return docs, missing, versions


def embed_and_push(
    client: MeiliClient, embedder: Embedder, extractor: TermExtractor, kind_ids: dict[str, set[int]]
) -> tuple[indexer.Batch, int]:
    """Embed what lacks a vector (outside any transaction: a model call may take seconds), store, push."""
    docs, missing, versions = _load(kind_ids, extractor)
    computed = {k: embed_documents(embedder, k, docs[k], ids) for k, ids in missing.items()}
    with session_scope() as session:
        for kind, vectors in computed.items():
            store(session, kind, vectors, embedder.identity)
    batch = indexer.Batch(indexer.Claimed([], kind_ids, {}), docs, versions=versions)
    indexer.send(client, batch)
    return batch, sum(len(v) for v in computed.values())


def embed_pending(
    client: MeiliClient,
    extractor: TermExtractor,
    *,
    limit: int = BATCH,
    max_batches: int = 1000,
) -> indexer.DrainResult:
    """The embedding pass: drain `search.embed` in batches (see the module docstring)."""
    total = indexer.DrainResult()
    embedder = embeddings.get_embedder()
    for _ in range(max_batches):
        claimed = indexer.claim_batch(limit, topic=EMBED_TOPIC)
        if not claimed.ids:
            break
        if embedder is None:  # lexical-only: nothing to compute, nothing to wait for
            _mark_processed(claimed.ids)
            total.processed += len(claimed.ids)
            continue
        try:
            batch, _ = embed_and_push(client, embedder, extractor, claimed.entities)
            batch.claimed = claimed
            indexer.finish(client, batch, total)  # public listings get a saved-search row (meaning may now fit)
        except Exception as exc:  # noqa: BLE001 - the rows carry the error and come back after a backoff
            total.error = f"{type(exc).__name__}: {exc}"
            indexer._retry_later(claimed, total.error)
            total.retried += len(claimed.ids)
            break
    return total


def _mark_processed(ids: list[int]) -> None:
    from market.core.db import utcnow

    with session_scope() as session:
        session.execute(sa.update(OutboxEvent).where(OutboxEvent.id.in_(ids)).values(processed_at=utcnow()))


def source_vector(doc: dict[str, Any]) -> Vector | None:
    """The query vector of a listing being matched (cached: the same listing matched again costs nothing)."""
    cache = embeddings.query_cache()
    if cache is None:
        return None
    return cache.one(embedding_text(doc), "query")


def embed_all(
    client: MeiliClient,
    extractor: TermExtractor,
    *,
    batch: int = BATCH,
    on_start: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Give every public listing a vector from the current model (after a model change: all of them), pushing
    each batch as it is done, then forget vectors of other models. Listings keep their lexical documents
    meanwhile, so search never stops; each is found by meaning again once its batch lands."""
    embedder = embeddings.get_embedder()
    if embedder is None:
        return {}
    kinds = ("achievement", "demand", "call") if indexer.calls_indexable() else ("achievement", "demand")
    with session_scope() as session:
        ids = {kind: indexer._all_public_ids(session, kind) for kind in kinds}
    if on_start:
        on_start(sum(len(v) for v in ids.values()))
    counts: dict[str, int] = {}
    for kind, all_ids in ids.items():
        counts[kind] = 0
        for start in range(0, len(all_ids), batch):
            chunk = set(all_ids[start : start + batch])
            sent, computed = embed_and_push(client, embedder, extractor, {kind: chunk})
            for task in sent.tasks:
                client.wait_task(task, timeout=600)
            counts[kind] += computed
            if on_progress:
                on_progress(len(chunk))
    with session_scope() as session:
        session.execute(sa.delete(ListingEmbedding).where(ListingEmbedding.model != embedder.identity))
    return counts
