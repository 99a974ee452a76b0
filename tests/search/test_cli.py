"""The search CLI: apply settings, drain, lag and a full reindex, against the real engine."""

import json

from click.testing import CliRunner

from market.core.vocab import OrgKind
from search.cli import commands, search_group
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
