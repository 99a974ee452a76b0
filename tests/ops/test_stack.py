"""The embedded stack (`market serve`) as an operator meets it: killed, restarted, stopped during an outage.

Each test runs the real stack in a subprocess on its own data directory and looks at the process
table afterwards: nothing it started may outlive it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from market.core.config import PROJECT_ROOT
from market.embedded import free_port

pytestmark = pytest.mark.slow


def _table() -> dict[int, tuple[int, int, int]]:
    """Live (not zombie) processes: pid → (parent, process group, start time)."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            table[int(entry.name)] = (int(fields[1]), int(fields[2]), int(fields[19]))
    return table


def _tree(root: int) -> dict[int, int]:
    """root and everything it started (children, their children, their process groups): pid → start time."""
    table = _table()
    found = {root}
    changed = True
    while changed:
        changed = False
        for pid, (ppid, pgrp, _) in table.items():
            if pid not in found and (ppid in found or pgrp in found):
                found.add(pid)
                changed = True
    return {pid: table[pid][2] for pid in found if pid in table}


def _ours(data: Path, snapshot: dict[int, int] | None = None) -> dict[int, str]:
    """Live processes of the stack: those in the snapshot (same start time), or naming or working in this
    data directory."""
    needles = (str(data).encode(), f"MARKET_STACK_DIR={data}".encode())
    found = {}
    for pid, (_, _, start) in _table().items():
        if pid == os.getpid():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            environ = Path(f"/proc/{pid}/environ").read_bytes()
            cwd = os.readlink(f"/proc/{pid}/cwd").encode()  # Redis works in its data directory
        except OSError:
            continue
        if (
            (snapshot and snapshot.get(pid) == start)
            or any(n in cmdline or n in environ for n in needles)
            or cwd.startswith(needles[0])
        ):
            found[pid] = cmdline.replace(b"\0", b" ").decode(errors="replace")[:120]
    return found


def _no_orphans(data: Path, snapshot: dict[int, int] | None = None, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while _ours(data, snapshot) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _ours(data, snapshot) == {}, f"processes left behind: {_ours(data, snapshot)}"


_started: list[Serve] = []


class Serve:
    """One `market serve` subprocess on a given data directory."""

    def __init__(self, data: Path, meili_port: int, **extra_env: str) -> None:
        self.data, self.port = data, free_port()
        self.seen: dict[int, int] = {}
        _started.append(self)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MARKET_", "PROMETHEUS_"))}
        env.update({"MARKET_DATA_DIR": str(data), "MARKET_MEILI_PORT": str(meili_port), **extra_env})
        self.out = data.parent / f"serve-{self.port}.out"
        with open(self.out, "wb") as out:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "market.cli", "serve", "--port", str(self.port)],
                cwd=PROJECT_ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def output(self) -> str:
        return self.out.read_text(errors="replace")

    def wait_up(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                pytest.fail(f"market serve exited with {self.popen.returncode}:\n{self.output()[-3000:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        pytest.fail(f"market serve did not come up:\n{self.output()[-3000:]}")

    def ready(self) -> dict:
        return httpx.get(f"http://127.0.0.1:{self.port}/readyz", timeout=10).json()

    def signal(self, sig: int) -> None:
        os.kill(self.popen.pid, sig)

    def stop(self, timeout: float = 60) -> int:
        if self.popen.poll() is None:
            self.signal(signal.SIGTERM)
        return self.popen.wait(timeout)

    def snapshot(self, at_least: int = 7, timeout: float = 60) -> dict[int, int]:
        """Every process of the running stack, once all are up: serve, Meilisearch, Redis, the worker,
        its beat and its two pool processes."""
        deadline = time.monotonic() + timeout
        while len(tree := _tree(self.popen.pid)) < at_least and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(tree) >= at_least, tree
        self.seen.update(tree)
        return tree

    def pid_of(self, name: str) -> int:
        return int((self.data / "run" / f"{name}.pid").read_text().split()[0])


@pytest.fixture
def data(tmp_path: Path):
    path = (tmp_path / "var").resolve()
    path.mkdir()
    yield path
    seen = {pid: start for serve in _started for pid, start in serve.seen.items()}
    _started.clear()
    for pid in _ours(path, seen):  # never leave anything behind, whatever the test did
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_a_killed_stack_leaves_nothing_that_blocks_the_next_start(data):
    meili_port = free_port()
    first = Serve(data, meili_port)
    first.wait_up()
    before = first.snapshot()
    first.signal(signal.SIGKILL)
    first.popen.wait(10)

    second = Serve(data, meili_port)
    second.wait_up()
    after = second.snapshot()
    components = second.ready()["components"]
    assert components["meilisearch"]["status"] == "ok", second.output()[-3000:]
    assert components["redis"]["status"] == "ok"
    assert components["database"]["status"] == "ok"
    # the restarted stack is whole: beat schedules the heartbeat, the worker runs it, and the API's
    # /metrics adds up the API's and the worker's processes (one multiprocess directory)
    base = f"http://127.0.0.1:{second.port}"
    deadline = time.monotonic() + 60
    while second.ready()["components"]["worker"]["status"] != "ok" and time.monotonic() < deadline:
        time.sleep(1)
    assert second.ready()["status"] == "ok", second.ready()
    metrics = httpx.get(f"{base}/metrics").text
    assert 'route="/readyz"' in metrics
    assert 'market_task_duration_seconds_count{outcome="succeeded",task="market.ops.heartbeat"}' in metrics
    second.stop()
    _no_orphans(data, {**before, **after})


def test_leftovers_recorded_in_pid_files_are_stopped_at_the_next_start(data):
    """A child that survived its stack (pid file + the stack's mark) is found and stopped."""
    from market.stack import STACK_MARK, cleanup_leftovers

    run = data / "run"
    run.mkdir()
    env = {**os.environ, STACK_MARK: str(data)}
    orphan = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"], env=env, start_new_session=True)
    stat = Path(f"/proc/{orphan.pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    (run / "meilisearch.pid").write_text(f"{orphan.pid} {stat}\n")
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"], start_new_session=True)
    try:
        found = cleanup_leftovers(data)
        assert found and str(orphan.pid) in found[0]
        assert orphan.wait(15) is not None
        assert stranger.poll() is None  # not ours: untouched
        assert not (run / "meilisearch.pid").exists()
    finally:
        stranger.kill()
        stranger.wait()
        orphan.kill()


def test_a_second_stack_on_the_same_data_dir_is_refused(data):
    meili_port = free_port()
    first = Serve(data, meili_port)
    first.wait_up()
    before = first.snapshot()
    second = Serve(data, free_port())
    assert second.popen.wait(60) != 0
    assert "another `market serve`" in second.output() and "Traceback" not in second.output()
    assert httpx.get(f"http://127.0.0.1:{first.port}/healthz").status_code == 200  # the first one untouched
    first.stop()
    _no_orphans(data, before)


def test_a_failed_start_stops_what_it_had_started(data):
    """Meilisearch and Redis are up when the migration fails: both must go (a failed start leaked a Redis)."""
    bad = Serve(data, free_port(), MARKET_DATABASE_URL=f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/none")
    assert bad.popen.wait(120) != 0
    assert "redis:" in bad.output() and "meilisearch:" in bad.output()  # both had been started
    _no_orphans(data)


def test_a_child_that_dies_while_serving_is_restarted(data):
    stack = Serve(data, free_port())
    stack.wait_up()
    before = stack.snapshot()
    for name in ("meilisearch", "redis", "worker"):
        old = stack.pid_of(name)
        os.killpg(old, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                new = stack.pid_of(name)
            except (FileNotFoundError, ValueError, IndexError):
                new = old
            if new != old and Path(f"/proc/{new}").exists():
                break
            time.sleep(0.2)
        else:
            pytest.fail(f"{name} was not restarted:\n{stack.output()[-3000:]}")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        components = stack.ready()["components"]
        if components["meilisearch"]["status"] == components["redis"]["status"] == "ok":
            break
        time.sleep(0.5)
    assert components["meilisearch"]["status"] == "ok" and components["redis"]["status"] == "ok"
    after = stack.snapshot()
    stack.stop()
    _no_orphans(data, {**before, **after})


def test_stopping_during_a_redis_outage_leaves_no_beat_behind(data):
    stack = Serve(data, free_port())
    stack.wait_up()
    before = stack.snapshot()
    redis = next(pid for pid in before if b"redis-server" in Path(f"/proc/{pid}/cmdline").read_bytes())
    os.kill(redis, signal.SIGSTOP)  # an outage: Redis hangs, the worker and beat cannot reach it
    try:
        time.sleep(2)
        stack.stop(timeout=90)
        _no_orphans(data, before, timeout=30)
    finally:
        try:
            os.kill(redis, signal.SIGCONT)
        except ProcessLookupError:
            pass
