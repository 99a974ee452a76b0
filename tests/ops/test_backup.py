"""`market backup` / `market restore`: the whole state comes back, the index holds no ghosts, ids are not reused."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from market.cli import main
from market.core.config import get_settings
from tests.search.conftest import drain, ids, post


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("MARKET_DATA_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    yield tmp_path / "var"
    get_settings.cache_clear()


def run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def found(client, q: str) -> set[int]:
    return set(ids(client.get("/api/v1/search", params={"kind": "achievement", "q": q, "page_size": 50})))


def test_restore_brings_back_the_backup_without_ghosts_in_the_index(client, meili, world, data_dir, tmp_path, request):
    member = world.member()
    kept = {post(client, member, "achievement", title=f"高镍正极材料工艺第{i}版") for i in range(3)}
    drain()
    out = run("backup", str(tmp_path / "backup"))
    assert "written to" in out
    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text())
    assert manifest["high_water"]["achievements"] == max(kept)

    # after the backup: three more listings are published, indexed, seen by the world
    ghosts = {post(client, member, "achievement", title=f"高镍正极材料新品第{i}号") for i in range(3)}
    drain()
    assert found(client, "高镍正极材料") == kept | ghosts

    sqlite = request.node.callspec.params["engine"] == "sqlite"
    if sqlite:
        # SQLite cannot continue after an id: the restore refuses until told the new ids were not seen outside
        refused = CliRunner().invoke(main, ["restore", str(tmp_path / "backup"), "--yes"])
        assert refused.exit_code != 0 and "issued ids after the backup" in refused.output, refused.output
        assert f"achievements {max(kept) + 1}–{max(ghosts)}" in refused.output
        assert found(client, "高镍正极材料") == kept | ghosts  # nothing was touched
    out = run("restore", str(tmp_path / "backup"), "--yes", *(["--allow-id-reuse"] if sqlite else []))
    assert "reindexed" in out
    assert found(client, "高镍正极材料") == kept  # the three ghosts are gone from the index
    for ghost in ghosts:
        assert client.get(f"/api/v1/achievements/{ghost}", headers=member.headers).status_code == 404
    for listing in kept:
        assert client.get(f"/api/v1/achievements/{listing}", headers=member.headers).status_code == 200

    if sqlite:
        pytest.xfail("SQLite issues max(id)+1 (tables have no AUTOINCREMENT): see README, Backup and restore")
    # an id the world saw before the restore is never handed to another listing
    fresh = post(client, member, "achievement", title="高镍正极材料恢复后")
    assert fresh not in ghosts and fresh > max(ghosts)


def test_restore_refuses_a_running_stack_and_a_non_backup(client, data_dir, tmp_path):
    import fcntl

    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(main, ["restore", str(tmp_path / "empty"), "--yes"])
    assert result.exit_code != 0 and "not a market backup" in result.output

    run_dir = data_dir / "run"
    run_dir.mkdir(parents=True)
    (run_dir / "stack.pid").write_text("4242\n")
    with open(run_dir / "stack.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        result = CliRunner().invoke(main, ["restore", str(tmp_path / "empty"), "--yes"])
    assert result.exit_code != 0 and "pid 4242" in result.output and "stop it first" in result.output

    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("")
    result = CliRunner().invoke(main, ["backup", str(tmp_path / "full")])
    assert result.exit_code != 0 and "not empty" in result.output
