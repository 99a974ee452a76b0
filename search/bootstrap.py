"""Start-up of search for the embedded stack: a scoped API key in place of the master key, then index settings."""

from __future__ import annotations

import os

from market.core.config import get_settings


def bootstrap() -> None:
    """Called once the stack's Meilisearch is up (MARKET_MEILI_URL and, when we started it, MARKET_MEILI_MASTER_KEY).

    The master key leaves the environment here: the app, the worker and anything started later
    see only the scoped key (search, documents, indexes, tasks, settings on the project's indexes).
    """
    from market.matching import indexing
    from search import runtime

    master = os.environ.pop("MARKET_MEILI_MASTER_KEY", "")
    settings = get_settings()
    if master and settings.meili_url and not settings.meili_api_key:
        os.environ["MARKET_MEILI_API_KEY"] = runtime.scoped_key(settings.meili_url, master, settings.meili_index_prefix)
        get_settings.cache_clear()
    runtime.configure(None)  # the next get_client() reads the settings again
    if get_settings().meili_url:
        runtime.get_client()
    indexing.search_startup()
