"""The embedded stack's search start-up: the app gets a scoped key, never the master key, and the indexes exist."""

import secrets

import httpx

from market.core.config import get_settings
from search import runtime
from search.client import SearchError


def test_bootstrap_swaps_master_key_for_scoped_key_and_applies_settings(pg_engine, meili_server, monkeypatch):
    prefix = f"boot{secrets.token_hex(3)}"
    monkeypatch.setenv("MARKET_MEILI_URL", meili_server.url)
    monkeypatch.setenv("MARKET_MEILI_MASTER_KEY", meili_server.master_key)
    monkeypatch.setenv("MARKET_MEILI_INDEX_PREFIX", prefix)
    monkeypatch.delenv("MARKET_MEILI_API_KEY", raising=False)
    get_settings.cache_clear()
    try:
        from market.matching.indexing import bootstrap

        bootstrap()
        import os

        assert "MARKET_MEILI_MASTER_KEY" not in os.environ
        key = get_settings().meili_api_key
        assert key and key != meili_server.master_key
        client = runtime.get_client()
        assert client.api_key == key
        assert client.get_index(f"{prefix}_achievements") is not None
        # the key is scoped: no key management, no other indexes
        assert httpx.get(f"{meili_server.url}/keys", headers={"Authorization": f"Bearer {key}"}).status_code == 403
        try:
            client.create_index("someone_else")
            raise AssertionError("scoped key created an index outside its prefix")
        except SearchError as exc:
            assert exc.code in ("search_invalid_api_key", "search_index_not_accessible") or "forbidden" in exc.code
    finally:
        runtime.configure(None)
        get_settings.cache_clear()
