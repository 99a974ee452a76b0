"""The search index kept in step with the database: the outbox drain (a lexical pass, then an embedding pass),
the full rebuild, index settings, start-up and the lag.

Domains mark what changed (an outbox row on `outbox.SEARCH_INDEX`, written with the change). The drain claims
rows with a lease (available_at pushed forward), reads the *current* state of each entity, hands plain
documents to search/writer.py, and marks rows processed only after Meilisearch reports the task succeeded.
A worker killed mid-batch leaves its rows to reappear when the lease runs out. The worker's tasks
(workers/search.py) only call the functions here; a write nudges them by task name once it commits.

The lexical pass never waits for a model: it attaches the vector stored for the document's current text and
model, or none, and queues the listing on `embedding.EMBED_TOPIC`. The embedding pass claims those rows in
batches, embeds the texts that have no vector yet in one call, stores the vectors and pushes the current
documents again, now with their vectors. A listing is therefore searchable by its words at once and by its
meaning once its vector lands; a model or Meilisearch outage leaves the rows to come back after a backoff.
"""

from __future__ import annotations

import atexit
import datetime as dt
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from market.accounts.service import org_names
from market.calls.models import Call
from market.core import outbox
from market.core.config import get_settings
from market.core.db import session_scope, utcnow
from market.core.outbox import Claimed, OutboxEvent
from market.evaluations import service as evaluations
from market.listings.models import Achievement, Demand
from market.matching import embedding
from market.matching.listings import document_of
from market.matching.models import ListingEmbedding
from market.matching.synonyms import current_extractor
from search import documents, embeddings, runtime, vectors, writer
from search.client import MeiliClient, SearchUnavailable
from search.embeddings import Embedder
from search.settings import KINDS
from search.terms import TermExtractor

log = logging.getLogger(__name__)

TOPIC = outbox.SEARCH_INDEX
# A listing became (or stayed) public in the index: saved searches are checked against it.
NOTIFY_TOPIC = "search.notify"
# How long a claimed batch stays invisible to other drainers (a killed worker's rows return after it).
LEASE = dt.timedelta(seconds=float(os.environ.get("MARKET_SEARCH_LEASE_SECONDS", "120")))
BATCH = 500
_MODELS: dict[str, Any] = {"achievement": Achievement, "demand": Demand, "call": Call}

# The worker's tasks by name: workers/search.py registers them under these names (market never imports it).
QUEUE = "search"
DRAIN_TASK = "market.search.drain"
NOTIFY_TASK = "market.search.notify"
EMBED_TASK = "market.search.embed"
outbox.route(TOPIC, DRAIN_TASK, QUEUE)
outbox.route(NOTIFY_TOPIC, NOTIFY_TASK, QUEUE)
outbox.route(embedding.EMBED_TOPIC, EMBED_TASK, QUEUE)


@dataclass
class DrainResult:
    processed: int = 0
    retried: int = 0
    batches: int = 0
    # (kind, id) of entities now public in the index; each also gets a NOTIFY_TOPIC outbox row.
    public: list[tuple[str, int]] = field(default_factory=list)
    error: str | None = None


@dataclass
class Batch:
    claimed: Claimed
    docs: writer.Documents
    tasks: list[dict[str, Any]] = field(default_factory=list)
    # The version each document (or deletion) was read at: what finish() compares with the current one.
    versions: dict[str, dict[int, int | None]] = field(default_factory=dict)


# -- what the index must show ---------------------------------------------------------------------------


def claim_batch(limit: int = BATCH, lease: dt.timedelta = LEASE, topic: str = TOPIC) -> Claimed:
    """Take up to `limit` due rows and push their availability past the lease (committed at once)."""
    return outbox.claim(topic, limit, lease)


def load_documents(
    session: Session, kind: str, ids: set[int], extractor: TermExtractor
) -> dict[int, dict[str, Any] | None]:
    """Current document per id, its stored vector attached; None means "must not be in the index" (draft, closed,
    deleted)."""
    out: dict[int, dict[str, Any] | None] = dict.fromkeys(ids)
    if kind == "call":
        from market.calls.service import search_document

        out = {i: documents.call_document(search_document(session, i), extractor) for i in ids}
    elif kind in ("achievement", "demand"):
        model = _MODELS[kind]
        rows = session.scalars(sa.select(model).where(model.id.in_(ids))).all()
        names = org_names(session, (r.org_id for r in rows))
        public = [r for r in rows if r.status in documents.PUBLIC_STATES]
        # an achievement's finished evaluation is part of its document (grades, evaluated maturity)
        evaluated = evaluations.summaries(session, (r.id for r in public)) if kind == "achievement" else {}
        for row in public:
            out[row.id] = document_of(kind, row, extractor, names.get(row.org_id, ""), evaluated.get(row.id))
    else:
        return {}
    return embedding.attached(session, kind, out)


def versions_of(session: Session, kind: str, ids: set[int]) -> dict[int, int | None]:
    """Each entity's version now; None for one that no longer exists."""
    model = _MODELS.get(kind)
    if model is None or not ids:
        return {}
    found: dict[int, int | None] = dict.fromkeys(ids)
    for i, version in session.execute(sa.select(model.id, model.version).where(model.id.in_(ids))):
        found[i] = version
    return found


def _all_public_ids(session: Session, kind: str) -> list[int]:
    if kind == "call":
        from market.calls import rules

        return list(
            session.scalars(sa.select(Call.id).where(Call.state.in_(rules.PUBLIC_CALL_STATES)).order_by(Call.id))
        )
    model = _MODELS[kind]
    return list(
        session.scalars(sa.select(model.id).where(model.status.in_(documents.PUBLIC_STATES)).order_by(model.id))
    )


# -- the lexical pass ----------------------------------------------------------------------------------------


def prepare(extractor: TermExtractor, limit: int = BATCH) -> Batch | None:
    """Claim due rows and load the current state of their entities (None when nothing is due)."""
    claimed = claim_batch(limit)
    if not claimed.ids:
        return None
    try:
        with session_scope() as session:
            # versions first: a change committed between the two reads makes the batch look stale (retried),
            # never fresh
            versions = {k: versions_of(session, k, ids) for k, ids in claimed.entities.items()}
            docs = {k: load_documents(session, k, ids, extractor) for k, ids in claimed.entities.items()}
    except Exception as exc:
        _retry_later(claimed, f"{type(exc).__name__}: {exc}")
        raise
    return Batch(claimed, docs, versions=versions)


def send(client: MeiliClient, batch: Batch) -> None:
    """Enqueue the batch's additions and deletions (Meilisearch applies tasks in order)."""
    batch.tasks.extend(writer.send(client, batch.docs))


def finish(client: MeiliClient, batch: Batch, result: DrainResult) -> None:
    """Wait for the batch's tasks, then mark its rows processed, or due again if their entity changed meanwhile.

    Two drains may hold rows of the same entity (say "created" and "published") and their tasks may
    reach Meilisearch in either order. Whatever a drain sent — a document or a deletion — was the
    state at the version it read; once Meilisearch has applied it, a drain that finds the entity at
    another version leaves its row due, so the current state is sent again after the older one.
    The last operation applied for an entity is therefore always one read at its current version.

    Likewise for vectors: a document read before its vector was stored, and pushed without it, may land after
    the embedding pass pushed the vector, erasing it; its row stays due, so it is sent again with the vector.
    """
    writer.wait(client, batch.tasks)
    with session_scope() as session:
        stale: set[tuple[str, int]] = set()
        for kind, by_id in batch.docs.items():
            read = batch.versions.get(kind, {})
            now_versions = versions_of(session, kind, set(by_id))
            landed = embedding.landed_since(session, kind, by_id)
            for i, doc in by_id.items():
                if now_versions.get(i) != read.get(i) or i in landed:
                    stale.add((kind, i))
                elif doc is not None:
                    result.public.append((kind, i))
                    outbox.emit(session, NOTIFY_TOPIC, kind, i)
        rows = session.scalars(sa.select(OutboxEvent).where(OutboxEvent.id.in_(batch.claimed.ids))).all()
        now = utcnow()
        for row in rows:
            if (row.entity_type, row.entity_id) in stale:
                row.available_at = now
                result.retried += 1
            else:
                row.processed_at = now
                row.last_error = None
                result.processed += 1
    result.batches += 1


def _retry_later(claimed: Claimed, error: str) -> None:
    outbox.settle([], dict.fromkeys(claimed.ids, error))
    log.warning("search drain failed for %d outbox rows: %s", len(claimed.ids), error)


def drain(client: MeiliClient, extractor: TermExtractor, *, limit: int = BATCH, max_batches: int = 1000) -> DrainResult:
    """Drain until nothing is due, one batch in flight while the next is prepared; a failure stops the drain
    and its rows come back after a backoff."""
    total = DrainResult()
    unfinished: list[Batch] = []  # sent, not yet waited for: at most two at a time
    prepared = 0
    try:
        while True:
            nxt = prepare(extractor, limit) if prepared < max_batches else None
            if nxt is not None:
                prepared += 1
                unfinished.append(nxt)
                send(client, nxt)
            if len(unfinished) > 1 or (nxt is None and unfinished):
                finish(client, unfinished[0], total)
                unfinished.pop(0)
            if nxt is None and not unfinished:
                break
    except Exception as exc:  # noqa: BLE001 - the rows carry the error and come back after a backoff
        total.error = f"{type(exc).__name__}: {exc}"
        for batch in unfinished:
            _retry_later(batch.claimed, total.error)
            total.retried += len(batch.claimed.ids)
    return total


def drain_once(client: MeiliClient, extractor: TermExtractor, limit: int = BATCH) -> DrainResult:
    """One batch: claim, load current state, push, wait, then mark processed (or schedule a retry)."""
    return drain(client, extractor, limit=limit, max_batches=1)


# -- the embedding pass -------------------------------------------------------------------------------------


def _load_for_embedding(kind_ids: dict[str, set[int]], extractor: TermExtractor):
    """Current documents (with the vectors already stored) and which still need one; read-only."""
    with session_scope() as session:
        embedding.in_embedding_pass(session)
        # versions first, as the lexical pass reads them: finish() re-sends whatever moved on meanwhile
        versions = {k: versions_of(session, k, ids) for k, ids in kind_ids.items()}
        docs = {k: load_documents(session, k, ids, extractor) for k, ids in kind_ids.items()}
        missing = {
            k: [i for i, d in by_id.items() if d is not None and d.get("embedding_model") is None]
            for k, by_id in docs.items()
        }
    return docs, missing, versions


def embed_and_push(
    client: MeiliClient, embedder: Embedder, extractor: TermExtractor, kind_ids: dict[str, set[int]]
) -> tuple[Batch, int]:
    """Embed what lacks a vector (outside any transaction: a model call may take seconds), store, push."""
    docs, missing, versions = _load_for_embedding(kind_ids, extractor)
    computed = {k: vectors.embed_documents(embedder, k, docs[k], ids) for k, ids in missing.items()}
    with session_scope() as session:
        for kind, found in computed.items():
            embedding.store(session, kind, found, embedder.identity)
    batch = Batch(Claimed([], kind_ids, {}), docs, versions=versions)
    send(client, batch)
    return batch, sum(len(v) for v in computed.values())


def embedding_pass(
    client: MeiliClient, extractor: TermExtractor, *, limit: int = vectors.BATCH, max_batches: int = 1000
) -> DrainResult:
    """Drain `embedding.EMBED_TOPIC` in batches (see the module docstring)."""
    total = DrainResult()
    embedder = embeddings.get_embedder()
    for _ in range(max_batches):
        claimed = claim_batch(limit, topic=embedding.EMBED_TOPIC)
        if not claimed.ids:
            break
        if embedder is None:  # lexical-only: nothing to compute, nothing to wait for
            outbox.settle(claimed.ids)
            total.processed += len(claimed.ids)
            continue
        try:
            batch, _ = embed_and_push(client, embedder, extractor, claimed.entities)
            batch.claimed = claimed
            finish(client, batch, total)  # public listings get a saved-search row (meaning may now fit)
        except Exception as exc:  # noqa: BLE001 - the rows carry the error and come back after a backoff
            total.error = f"{type(exc).__name__}: {exc}"
            _retry_later(claimed, total.error)
            total.retried += len(claimed.ids)
            break
    return total


def embed_everything(
    client: MeiliClient,
    extractor: TermExtractor,
    *,
    batch: int = vectors.BATCH,
    on_start: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Give every public listing a vector from the current model (after a model change: all of them), pushing
    each batch as it is done, then forget vectors of other models. Listings keep their lexical documents
    meanwhile, so search never stops; each is found by meaning again once its batch lands."""
    embedder = embeddings.get_embedder()
    if embedder is None:
        return {}
    with session_scope() as session:
        ids = {kind: _all_public_ids(session, kind) for kind in KINDS}
    if on_start:
        on_start(sum(len(v) for v in ids.values()))
    counts: dict[str, int] = {}
    for kind, all_ids in ids.items():
        counts[kind] = 0
        for start in range(0, len(all_ids), batch):
            chunk = set(all_ids[start : start + batch])
            sent, computed = embed_and_push(client, embedder, extractor, {kind: chunk})
            writer.wait(client, sent.tasks)
            counts[kind] += computed
            if on_progress:
                on_progress(len(chunk))
    with session_scope() as session:
        session.execute(sa.delete(ListingEmbedding).where(ListingEmbedding.model != embedder.identity))
    return counts


# -- the full rebuild -----------------------------------------------------------------------------------------


def rebuild(
    client: MeiliClient, extractor: TermExtractor, *, kinds: Iterable[str] = KINDS, batch: int = 2000
) -> dict[str, int]:
    """Build each index afresh under a temporary name, then swap it in: search is never empty meanwhile."""
    started = utcnow()
    counts: dict[str, int] = {}
    for kind in kinds:
        with session_scope() as session:
            ids = _all_public_ids(session, kind)

        def batches(kind: str = kind, ids: list[int] = ids) -> Iterator[list[dict[str, Any]]]:
            for start in range(0, len(ids), batch):
                with session_scope() as session:
                    docs = load_documents(session, kind, set(ids[start : start + batch]), extractor)
                yield [d for d in docs.values() if d is not None]

        writer.rebuild(client, kind, batches())
        counts[kind] = len(ids)
    # Changes drained into the old index while we were building are replayed into the new one.
    with session_scope() as session:
        session.execute(
            sa.update(OutboxEvent)
            .where(OutboxEvent.topic == TOPIC, OutboxEvent.created_at >= started - dt.timedelta(seconds=5))
            .values(processed_at=None, available_at=utcnow())
        )
    return counts


def index_lag(session: Session, topic: str = TOPIC) -> dict[str, Any]:
    """Oldest undrained outbox entry: its age in seconds (0 when all caught up) and the backlog size."""
    oldest, pending = session.execute(
        sa.select(sa.func.min(OutboxEvent.created_at), sa.func.count()).where(
            OutboxEvent.topic == topic, OutboxEvent.processed_at.is_(None)
        )
    ).one()
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=dt.UTC)
    age = (utcnow() - oldest).total_seconds() if oldest else 0.0
    return {"pending": int(pending), "oldest_created_at": oldest, "lag_seconds": round(max(age, 0.0), 3)}


# -- what the CLI, the worker and start-up call ------------------------------------------------------------------


def _extractor() -> TermExtractor:
    with session_scope() as session:
        return current_extractor(session)


def apply_index_settings() -> None:
    """Create the indexes and apply their settings (idempotent; start-up and CLI)."""
    writer.apply_settings(runtime.get_client())


def search_startup() -> None:
    """Web start-up: apply index settings if a Meilisearch is configured.

    Without MARKET_MEILI_URL the embedded runner starts Meilisearch first (runtime.get_client()),
    so a bare create_app() in another domain's tests never spawns a search engine.
    """
    if runtime.configured() or get_settings().meili_url:
        try:
            apply_index_settings()
        except SearchUnavailable:
            log.warning("Meilisearch unavailable at start-up; run `market search apply-settings` once it is up")


def drain_index(limit: int = BATCH) -> DrainResult:
    """Drain the search outbox; each listing found public gets a NOTIFY_TOPIC row (see drain_notifications)."""
    return drain(runtime.get_client(), _extractor(), limit=limit)


def embed_pending(limit: int = vectors.BATCH) -> DrainResult:
    """The embedding pass of the drain: vectors for listings indexed without one."""
    return embedding_pass(runtime.get_client(), _extractor(), limit=limit)


def embed_all(
    on_start: Callable[[int], None] | None = None, on_progress: Callable[[int], None] | None = None
) -> dict[str, int]:
    """Every public listing embedded by the current model (`market search embed`, e.g. after a model change)."""
    apply_index_settings()  # the embedder's dimensions may have changed with the model
    return embed_everything(runtime.get_client(), _extractor(), on_start=on_start, on_progress=on_progress)


def reindex() -> dict[str, int]:
    return rebuild(runtime.get_client(), _extractor())


# -- start-up -------------------------------------------------------------------------------------------------------


def start_local_meilisearch(data_dir: Path) -> MeiliClient:
    """Start (once per process) a Meilisearch under data_dir when none is configured or running; its master key
    stays in a file beside the data, the client gets a scoped key."""
    from market.embedded import master_key_file, start_meilisearch

    server = start_meilisearch(data_dir, master_key=master_key_file(data_dir))
    atexit.register(server.stop)
    return MeiliClient(server.url, runtime.scoped_key(server.url, server.master_key, runtime.index_prefix()))


runtime.use_local_server(start_local_meilisearch)


def bootstrap() -> None:
    """The embedded stack's search start-up, once its Meilisearch is up (MARKET_MEILI_URL and, when the stack
    started it, MARKET_MEILI_MASTER_KEY).

    The master key leaves the environment here: the app, the worker and anything started later
    see only the scoped key (search, documents, indexes, tasks, settings on the project's indexes).
    """
    master = os.environ.pop("MARKET_MEILI_MASTER_KEY", "")
    settings = get_settings()
    if master and settings.meili_url and not settings.meili_api_key:
        os.environ["MARKET_MEILI_API_KEY"] = runtime.scoped_key(settings.meili_url, master, settings.meili_index_prefix)
        get_settings.cache_clear()
    runtime.configure(None)  # the next get_client() reads the settings again
    if get_settings().meili_url:
        runtime.get_client()
    search_startup()
