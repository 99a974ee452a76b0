"""Listing vectors kept in the database (ListingEmbedding): read back, attached to documents, stored, and queued
for the embedding pass of the drain (market/matching/indexing.py)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from market.core import outbox
from market.core.outbox import OutboxEvent
from market.matching.models import ListingEmbedding
from search import embeddings, vectors
from search.embeddings import Vector

EMBED_TOPIC = "search.embed"
_PASS = "embedding_pass"  # session flag: the embedding pass itself does not queue what it is about to embed


def in_embedding_pass(session: Session) -> None:
    """Mark `session` as the embedding pass's own read (it embeds what lacks a vector instead of queueing it)."""
    session.info[_PASS] = True


def stored(session: Session, kind: str, ids: Iterable[int], model: str) -> dict[int, tuple[str, Vector]]:
    ids = list(ids)
    if not ids:
        return {}
    rows = session.execute(
        sa.select(ListingEmbedding.entity_id, ListingEmbedding.text_hash, ListingEmbedding.vector).where(
            ListingEmbedding.entity_type == kind, ListingEmbedding.model == model, ListingEmbedding.entity_id.in_(ids)
        )
    ).all()
    return {i: (h, vectors.unpack(v)) for i, h, v in rows}


def stored_hashes(session: Session, kind: str, ids: Iterable[int], model: str) -> dict[int, str]:
    """The text hash of each listing's stored vector (without reading the vector)."""
    ids = list(ids)
    if not ids:
        return {}
    rows = session.execute(
        sa.select(ListingEmbedding.entity_id, ListingEmbedding.text_hash).where(
            ListingEmbedding.entity_type == kind, ListingEmbedding.model == model, ListingEmbedding.entity_id.in_(ids)
        )
    )
    return {i: h for i, h in rows}


def landed_since(session: Session, kind: str, docs: dict[int, dict[str, Any] | None]) -> set[int]:
    """Documents read without a vector whose vector for that very text has been stored since: a push of them may
    have landed after the embedding pass's own and erased the vector, so they must be sent again (with it)."""
    embedder = embeddings.get_embedder()
    bare = {i: d for i, d in docs.items() if d is not None and "_vectors" in d and d.get("embedding_model") is None}
    if embedder is None or not bare:
        return set()
    have = stored_hashes(session, kind, bare, embedder.identity)
    return {i for i, d in bare.items() if have.get(i) == vectors.text_hash(vectors.embedding_text(d))}


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
        if found is not None and found[0] == vectors.text_hash(vectors.embedding_text(doc)):
            vectors.with_vector(doc, found[1], embedder.identity)
        else:
            vectors.without_vector(doc)
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


def store(session: Session, kind: str, found: dict[int, vectors.Embedded], model: str) -> None:
    """Keep each listing's vector (one per listing and model; a new text replaces the old vector)."""
    if not found:
        return
    session.execute(
        sa.delete(ListingEmbedding).where(
            ListingEmbedding.entity_type == kind,
            ListingEmbedding.model == model,
            ListingEmbedding.entity_id.in_(list(found)),
        )
    )
    session.add_all(
        ListingEmbedding(
            entity_type=kind,
            entity_id=i,
            model=model,
            text_hash=h,
            dimensions=len(v),
            vector=vectors.pack(v),
            sentences=ss,
            sentence_vectors=b"".join(vectors.pack(x) for x in sv),
        )
        for i, (h, v, ss, sv) in found.items()
    )
    session.flush()


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
