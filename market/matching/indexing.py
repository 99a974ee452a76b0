"""Index upkeep: settings, start-up, the outbox drain and its embedding pass, reindexing, the lag."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from sqlalchemy.orm import Session

from market.core.db import session_scope
from market.matching.synonyms import current_extractor
from search import indexer, runtime, vectors

log = logging.getLogger(__name__)


def apply_index_settings() -> None:
    """Create the indexes and apply their settings (idempotent; start-up and CLI)."""
    indexer.apply_settings(runtime.get_client())


def search_startup() -> None:
    """Web/worker start-up: register the outbox nudger and apply index settings if a Meilisearch is configured.

    Without MARKET_MEILI_URL the embedded runner starts Meilisearch first (runtime.get_client()),
    so a bare create_app() in another domain's tests never spawns a search engine.
    """
    import importlib

    from market.core.config import get_settings
    from search.client import SearchUnavailable

    with contextlib.suppress(ModuleNotFoundError):
        importlib.import_module("workers.search")  # registers the after-commit nudger
    if runtime.configured() or get_settings().meili_url:
        try:
            apply_index_settings()
        except SearchUnavailable:
            log.warning("Meilisearch unavailable at start-up; run `market search apply-settings` once it is up")


def drain_index(limit: int = indexer.BATCH) -> indexer.DrainResult:
    """Drain the search outbox; each listing found public gets a NOTIFY_TOPIC row (see drain_notifications)."""
    with session_scope() as session:
        extractor = current_extractor(session)
    return indexer.drain(runtime.get_client(), extractor, limit=limit)


def embed_pending(limit: int = vectors.BATCH) -> indexer.DrainResult:
    """The embedding pass of the drain: vectors for listings indexed without one (search/vectors.py)."""
    with session_scope() as session:
        extractor = current_extractor(session)
    return vectors.embed_pending(runtime.get_client(), extractor, limit=limit)


def embed_all(on_start=None, on_progress=None) -> dict[str, int]:
    """Every public listing embedded by the current model (`market search embed`, e.g. after a model change)."""
    apply_index_settings()  # the embedder's dimensions may have changed with the model
    with session_scope() as session:
        extractor = current_extractor(session)
    return vectors.embed_all(runtime.get_client(), extractor, on_start=on_start, on_progress=on_progress)


def reindex() -> dict[str, int]:
    with session_scope() as session:
        extractor = current_extractor(session)
    return indexer.reindex(runtime.get_client(), extractor)


def index_lag(session: Session) -> dict[str, Any]:
    return indexer.index_lag(session)
