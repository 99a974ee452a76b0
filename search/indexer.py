"""Keeping the index in step with the database: the outbox drain and the full reindex with index swap.

The drain claims outbox rows with a lease (available_at pushed forward), pushes the *current*
state of each entity, and marks rows processed only after Meilisearch reports the task
succeeded. A worker killed mid-batch leaves its rows to reappear when the lease runs out.
"""

from __future__ import annotations

import datetime as dt
import importlib
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from market.accounts.models import Organisation
from market.core import outbox
from market.core.db import session_scope, utcnow
from market.core.outbox import Claimed, OutboxEvent
from market.listings.models import Achievement, Demand
from search import documents
from search.client import MeiliClient, SearchError
from search.settings import KINDS, index_uid, settings_for
from search.terms import TermExtractor

log = logging.getLogger(__name__)

TOPIC = "search.index"
# A listing became (or stayed) public in the index: saved searches are checked against it.
NOTIFY_TOPIC = "search.notify"
# How long a claimed batch stays invisible to other drainers (a killed worker's rows return after it).
LEASE = dt.timedelta(seconds=float(os.environ.get("MARKET_SEARCH_LEASE_SECONDS", "120")))
BATCH = 500


@dataclass
class DrainResult:
    processed: int = 0
    retried: int = 0
    batches: int = 0
    # (kind, id) of entities now public in the index; each also gets a NOTIFY_TOPIC outbox row.
    public: list[tuple[str, int]] = field(default_factory=list)
    error: str | None = None


def claim_batch(limit: int = BATCH, lease: dt.timedelta = LEASE, topic: str = TOPIC) -> Claimed:
    """Take up to `limit` due rows and push their availability past the lease (committed at once)."""
    return outbox.claim(topic, limit, lease)


def _org_names(session: Session, org_ids: Iterable[int]) -> dict[int, str]:
    ids = set(org_ids)
    if not ids:
        return {}
    return dict(session.execute(sa.select(Organisation.id, Organisation.name).where(Organisation.id.in_(ids))).all())


def _calls_module():
    try:
        return importlib.import_module("market.calls.service")
    except ModuleNotFoundError:
        return None


def calls_indexable() -> bool:
    calls = _calls_module()
    return calls is not None and hasattr(calls, "search_document")


def _call_documents(session: Session, ids: set[int], extractor: TermExtractor) -> dict[int, dict[str, Any] | None]:
    """Open calls are indexed when the calls domain exposes search_document (guarded: it may not exist)."""
    if not calls_indexable():
        return {}
    project = _calls_module().search_document
    return {i: documents.call_document(project(session, i), extractor) for i in ids}


def load_documents(
    session: Session, kind: str, ids: set[int], extractor: TermExtractor
) -> dict[int, dict[str, Any] | None]:
    """Current document per id; None means "must not be in the index" (draft, closed, deleted)."""
    from search import vectors  # the embedding step: stored vectors attached, missing ones queued

    if kind == "call":
        return vectors.attached(session, kind, _call_documents(session, ids, extractor))
    model = {"achievement": Achievement, "demand": Demand}.get(kind)
    if model is None:
        return {}
    rows = session.scalars(sa.select(model).where(model.id.in_(ids))).all()
    names = _org_names(session, (r.org_id for r in rows))
    out: dict[int, dict[str, Any] | None] = dict.fromkeys(ids)
    public = [r for r in rows if r.status in documents.PUBLIC_STATES]
    if kind == "achievement":
        from market.evaluations.service import summaries  # finished evaluations: grades, evaluated maturity

        evaluated = summaries(session, (r.id for r in public))
        for row in public:
            out[row.id] = documents.achievement_document(
                row, names.get(row.org_id, ""), extractor, evaluated.get(row.id)
            )
    else:
        for row in public:
            out[row.id] = documents.demand_document(row, names.get(row.org_id, ""), extractor)
    return vectors.attached(session, kind, out)


def _model(kind: str) -> Any:
    if kind == "call":
        calls = importlib.import_module("market.calls.models") if calls_indexable() else None
        return getattr(calls, "Call", None)
    return {"achievement": Achievement, "demand": Demand}.get(kind)


def versions_of(session: Session, kind: str, ids: set[int]) -> dict[int, int | None]:
    """Each entity's version now; None for one that no longer exists."""
    model = _model(kind)
    if model is None or not ids:
        return {}
    found = dict(session.execute(sa.select(model.id, model.version).where(model.id.in_(ids))).all())
    return {**dict.fromkeys(ids), **found}


@dataclass
class Batch:
    claimed: Claimed
    docs: dict[str, dict[int, dict[str, Any] | None]]
    tasks: list[dict[str, Any]] = field(default_factory=list)
    # The version each document (or deletion) was read at: what finish() compares with the current one.
    versions: dict[str, dict[int, int | None]] = field(default_factory=dict)


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
    for kind, docs in batch.docs.items():
        uid = index_uid(kind)
        present = [d for d in docs.values() if d is not None]
        absent = [i for i, d in docs.items() if d is None]
        if present:
            batch.tasks.append(client.add_documents(uid, present))
        if absent:
            batch.tasks.append(client.delete_documents(uid, absent))


def push(client: MeiliClient, docs_by_kind: dict[str, dict[int, dict[str, Any] | None]]) -> None:
    """Send additions and deletions, then wait until Meilisearch has applied them (raises if it did not)."""
    batch = Batch(Claimed([], {}, {}), docs_by_kind)
    send(client, batch)
    for task in batch.tasks:
        client.wait_task(task)


def finish(client: MeiliClient, batch: Batch, result: DrainResult) -> None:
    """Wait for the batch's tasks, then mark its rows processed, or due again if their entity changed meanwhile.

    Two drains may hold rows of the same entity (say "created" and "published") and their tasks may
    reach Meilisearch in either order. Whatever a drain sent — a document or a deletion — was the
    state at the version it read; once Meilisearch has applied it, a drain that finds the entity at
    another version leaves its row due, so the current state is sent again after the older one.
    The last operation applied for an entity is therefore always one read at its current version.
    """
    for task in batch.tasks:
        client.wait_task(task, timeout=600)
    with session_scope() as session:
        stale: set[tuple[str, int]] = set()
        for kind, by_id in batch.docs.items():
            read = batch.versions.get(kind, {})
            now_versions = versions_of(session, kind, set(by_id))
            for i, doc in by_id.items():
                if now_versions.get(i) != read.get(i):
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


def drain_once(client: MeiliClient, extractor: TermExtractor, limit: int = BATCH) -> DrainResult:
    """One batch: claim, load current state, push, wait, then mark processed (or schedule a retry)."""
    return drain(client, extractor, limit=limit, max_batches=1)


def _retry_later(claimed: Claimed, error: str) -> None:
    outbox.settle([], dict.fromkeys(claimed.ids, error))
    log.warning("search drain failed for %d outbox rows: %s", len(claimed.ids), error)


def drain(
    client: MeiliClient,
    extractor: TermExtractor,
    *,
    limit: int = BATCH,
    max_batches: int = 1000,
) -> DrainResult:
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


# -- settings and full reindex -------------------------------------------------------------------


def ensure_index(client: MeiliClient, uid: str) -> None:
    if client.get_index(uid) is None:
        try:
            client.wait_task(client.create_index(uid))
        except SearchError as exc:
            if exc.code != "search_task_failed":  # created concurrently: fine
                raise


def apply_settings(client: MeiliClient, kinds: Iterable[str] = KINDS) -> None:
    """Create missing indexes and (re)apply settings; Meilisearch treats identical settings as a no-op."""
    for kind in kinds:
        uid = index_uid(kind)
        ensure_index(client, uid)
        client.wait_task(client.update_settings(uid, settings_for(kind)), timeout=300)


def _all_public_ids(session: Session, kind: str) -> list[int]:
    if kind == "call":
        from market.calls import rules
        from market.calls.models import Call

        return list(
            session.scalars(sa.select(Call.id).where(Call.state.in_(rules.PUBLIC_CALL_STATES)).order_by(Call.id))
        )
    model = {"achievement": Achievement, "demand": Demand}[kind]
    return list(
        session.scalars(sa.select(model.id).where(model.status.in_(documents.PUBLIC_STATES)).order_by(model.id))
    )


def reindex(
    client: MeiliClient,
    extractor: TermExtractor,
    *,
    kinds: Iterable[str] | None = None,
    batch: int = 2000,
) -> dict[str, int]:
    """Build each index afresh under a temporary name, then swap it in: search is never empty meanwhile."""
    started = utcnow()
    if kinds is None:
        kinds = ("achievement", "demand", "call") if calls_indexable() else ("achievement", "demand")
    counts: dict[str, int] = {}
    for kind in kinds:
        live, fresh = index_uid(kind), index_uid(kind, "_rebuild")
        ensure_index(client, live)
        if client.get_index(fresh) is not None:
            client.wait_task(client.delete_index(fresh))
        client.wait_task(client.create_index(fresh))
        client.wait_task(client.update_settings(fresh, settings_for(kind)), timeout=300)
        with session_scope() as session:
            ids = _all_public_ids(session, kind)
        tasks = []
        for start in range(0, len(ids), batch):
            with session_scope() as session:
                docs = load_documents(session, kind, set(ids[start : start + batch]), extractor)
            present = [d for d in docs.values() if d is not None]
            if present:
                tasks.append(client.add_documents(fresh, present))
        for task in tasks:
            client.wait_task(task, timeout=600)
        swap = client.swap_indexes([(live, fresh)])
        drop = client.delete_index(fresh)  # the old contents, once swapped under the temporary name
        try:
            client.wait_task(swap)
        except SearchError as exc:
            # A key scoped to our indexes cannot read a swap task (it has no single index);
            # tasks run in order, so the deletion enqueued after it is our barrier.
            if exc.code != "search_task_not_found":
                raise
        client.wait_task(drop)
        counts[kind] = len(ids)
    # Changes drained into the old index while we were building are replayed into the new one.
    with session_scope() as session:
        session.execute(
            sa.update(OutboxEvent)
            .where(OutboxEvent.topic == TOPIC, OutboxEvent.created_at >= started - dt.timedelta(seconds=5))
            .values(processed_at=None, available_at=utcnow())
        )
    return counts
