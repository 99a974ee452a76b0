"""Embedded servers: the Meilisearch master key stays out of the process list, any key works, logs rotate."""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

import httpx

from market import embedded
from market.embedded import start_meilisearch


def test_a_master_key_starting_with_a_dash_works_and_is_not_in_the_process_list(tmp_path):
    key = "-" + secrets.token_urlsafe(24)  # token_urlsafe gives such a key about one time in 64
    server = start_meilisearch(tmp_path / "meili", master_key=key)
    try:
        cmdline = Path(f"/proc/{server.popen.pid}/cmdline").read_bytes()
        assert key.encode() not in cmdline
        assert b"master-key" not in cmdline
        auth = {"Authorization": f"Bearer {key}"}
        assert httpx.get(f"{server.url}/keys", headers=auth).status_code == 200
        assert httpx.get(
            f"{server.url}/keys", headers={"Authorization": "Bearer wrong-key-0123456789"}
        ).status_code in (401, 403)
    finally:
        server.stop()


def test_master_key_file_is_private_and_stable(tmp_path):
    first = embedded.master_key_file(tmp_path / "m")
    assert embedded.master_key_file(tmp_path / "m") == first
    assert (tmp_path / "m" / "master.key").stat().st_mode & 0o077 == 0


def test_child_output_goes_to_a_rotated_size_capped_log(tmp_path, monkeypatch):
    from market.embedded import spawn

    monkeypatch.setattr(embedded, "LOG_MAX_BYTES", 10_000)
    log = tmp_path / "child.log"
    popen = spawn([sys.executable, "-c", "for i in range(3000): print('line', i, 'x' * 40)"], log_path=log)
    assert popen.wait(30) == 0
    import time

    deadline = time.monotonic() + 10
    while "line 2999" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    files = sorted(tmp_path.glob("child.log*"))
    assert [f.name for f in files] == ["child.log", "child.log.1", "child.log.2", "child.log.3"]
    assert all(f.stat().st_size <= 10_000 for f in files)
    assert "line 2999" in log.read_text()  # the newest lines are in the current file
