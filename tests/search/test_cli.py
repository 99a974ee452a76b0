"""The search CLI: apply settings, drain, lag and a full reindex, against the real engine."""

import json

from click.testing import CliRunner

from market.core.vocab import OrgKind
from market.matching.cli import commands, search_group
from tests.search.conftest import ids, post


def test_cli_drain_lag_reindex(pg_client, pg_world, meili):
    assert search_group in commands
    listing = post(pg_client, pg_world.member(OrgKind.institute), "achievement")
    runner = CliRunner()
    lag = runner.invoke(search_group, ["lag"])
    assert lag.exit_code == 0 and json.loads(lag.output)["pending"] == 2
    drained = runner.invoke(search_group, ["drain"])
    assert drained.exit_code == 0, drained.output
    assert json.loads(drained.output)["processed"] == 2
    assert runner.invoke(search_group, ["apply-settings"]).exit_code == 0
    rebuilt = runner.invoke(search_group, ["reindex"])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert json.loads(rebuilt.output)["reindexed"]["achievement"] == 1
    assert ids(pg_client.get("/api/v1/search", params={"kind": "achievement", "q": "锂电"})) == [listing]


def test_cli_drain_notifies_saved_searches_like_the_worker(pg_client, pg_world, meili):
    broker = pg_world.member(OrgKind.intermediary)
    r = pg_client.post(
        "/api/v1/saved-searches",
        json={"name": "锂电成果", "target": "achievement", "query": "锂电"},
        headers=broker.headers,
    )
    assert r.status_code == 201, r.text
    listing = post(pg_client, pg_world.member(OrgKind.institute), "achievement")
    drained = CliRunner().invoke(search_group, ["drain"])
    assert drained.exit_code == 0, drained.output
    inbox = pg_client.get("/api/v1/inbox", headers=broker.headers).json()
    assert [n["listing_id"] for n in inbox["items"]] == [listing]


def test_cli_uses_the_running_stacks_meilisearch_instead_of_starting_one(meili_server, tmp_path, monkeypatch):
    import os

    import pytest

    from market.core.config import get_settings
    from search import runtime
    from search.client import SearchUnavailable

    data = tmp_path / "meilisearch"
    data.mkdir()
    # what `market serve` leaves for other processes: its Meilisearch on that data directory
    runtime.announce(data, meili_server.url, meili_server.master_key, meili_server.popen.pid)
    assert oct((data / runtime.RUNNING_FILE).stat().st_mode & 0o777) == "0o600"
    monkeypatch.setenv("MARKET_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MARKET_MEILI_URL", "")
    get_settings.cache_clear()
    runtime.configure(None, "t_cli")

    def start_second(_data_dir):
        pytest.fail("a second Meilisearch was started on the stack's data directory")

    monkeypatch.setattr(runtime, "_local_server", start_second)
    try:
        client = runtime.get_client()
        assert client.url == meili_server.url  # no second server started
        assert client.api_key != meili_server.master_key  # the app's scoped key, as for its own server
        runtime.configure(None, "t_cli")
        # announced by a process that is alive but whose Meilisearch does not answer: refused, clearly
        runtime.announce(data, "http://127.0.0.1:9", "k", os.getpid())
        with pytest.raises(SearchUnavailable, match="does not answer"):
            runtime.get_client()
    finally:
        runtime.configure(None)
        get_settings.cache_clear()
