"""Writing documents into Meilisearch: additions and deletions in order, index settings, and a rebuild with swap.

What to write, and when, is the market's business (market/matching/indexing.py drains the outbox and hands
plain documents here); this module only talks to Meilisearch.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from search.client import MeiliClient, SearchError
from search.settings import KINDS, index_uid, settings_for

# Documents per kind and id; None means "must not be in the index" (draft, closed, deleted).
Documents = dict[str, dict[int, dict[str, Any] | None]]


def send(client: MeiliClient, docs_by_kind: Documents) -> list[dict[str, Any]]:
    """Enqueue additions and deletions (Meilisearch applies tasks in order); the tasks to wait for."""
    tasks = []
    for kind, docs in docs_by_kind.items():
        uid = index_uid(kind)
        present = [d for d in docs.values() if d is not None]
        absent: list[int | str] = [i for i, d in docs.items() if d is None]
        if present:
            tasks.append(client.add_documents(uid, present))
        if absent:
            tasks.append(client.delete_documents(uid, absent))
    return tasks


def wait(client: MeiliClient, tasks: Iterable[dict[str, Any]], timeout: float = 600) -> None:
    """Wait until Meilisearch has applied every task (raises if one failed)."""
    for task in tasks:
        client.wait_task(task, timeout=timeout)


def push(client: MeiliClient, docs_by_kind: Documents) -> None:
    """Send additions and deletions, then wait until Meilisearch has applied them (raises if it did not)."""
    wait(client, send(client, docs_by_kind), timeout=60)


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


def rebuild(client: MeiliClient, kind: str, batches: Iterable[list[dict[str, Any]]]) -> None:
    """Build `kind`'s index afresh under a temporary name from `batches` of documents, then swap it in:
    search is never empty meanwhile."""
    live, fresh = index_uid(kind), index_uid(kind, "_rebuild")
    ensure_index(client, live)
    if client.get_index(fresh) is not None:
        client.wait_task(client.delete_index(fresh))
    client.wait_task(client.create_index(fresh))
    client.wait_task(client.update_settings(fresh, settings_for(kind)), timeout=300)
    tasks = [client.add_documents(fresh, docs) for docs in batches if docs]
    wait(client, tasks)
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
