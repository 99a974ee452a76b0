"""The embedded stack for a zero-setup run: the same code path as production, its servers started here.

One stack per data directory, held by a lock file that the kernel releases however the stack ends
(even `kill -9`). Every child carries MARKET_STACK_DIR=<data dir> in its environment and has a pid file
under <data dir>/run/, so the next start finds and stops whatever a killed stack left behind, and a
supervisor restarts a child that dies while serving.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO, TypeVar

from market.core.config import PROJECT_ROOT, get_settings
from market.embedded import Meilisearch, Process, Redis, master_key_file, spawn, start_meilisearch, start_redis

log = logging.getLogger("market.stack")
P = TypeVar("P", bound=Process)

STACK_MARK = "MARKET_STACK_DIR"
WORKER_MODULE = "workers"  # `python -m workers`: the Celery worker with beat (workers/__main__.py)
# A child that dies more often than this is left down (readiness reports it) instead of restarted forever.
MAX_RESTARTS, RESTART_WINDOW = 5, 60.0


class StackAlreadyRunning(RuntimeError):
    pass


class EmbeddedStack:
    """Starts whatever is not configured (Meilisearch, Redis) plus a Celery worker with beat; stops them on exit."""

    def __init__(self, *, start_worker: bool = True, supervise: bool = True) -> None:
        self.start_worker = start_worker
        self.supervise = supervise
        self.processes: list[Process] = []
        self._lock_file: TextIO | None = None
        self._stopping = threading.Event()
        self._supervisor: threading.Thread | None = None
        self._restarts: dict[str, list[float]] = {}

    # -- start and stop ---------------------------------------------------------------------------

    def __enter__(self) -> EmbeddedStack:
        settings = get_settings()
        self.data = data = Path(settings.data_dir).resolve()
        self.run_dir = data / "run"
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._lock()
        try:
            for what in cleanup_leftovers(data):
                print(f"stopped a leftover of an earlier run: {what}", flush=True)
            self._start(settings, data)
        except BaseException:
            self.close()
            raise
        if self.supervise:
            self._supervisor = threading.Thread(target=self._supervise, name="stack-supervisor", daemon=True)
            self._supervisor.start()
        return self

    def _start(self, settings, data: Path) -> None:
        # Metrics of the API and the worker's processes meet in one directory (prometheus-client multiprocess).
        prom = data / "prometheus"
        shutil.rmtree(prom, ignore_errors=True)
        prom.mkdir()
        os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(prom))
        if not settings.secret_key:
            key_file = data / "secret_key"
            if not key_file.exists():
                import secrets

                key_file.write_text(secrets.token_urlsafe(32))
                key_file.chmod(0o600)
            os.environ["MARKET_SECRET_KEY"] = key_file.read_text().strip()
        mark = {STACK_MARK: str(data)}
        if not settings.meili_url:
            meili_dir = data / "meilisearch"
            meili = _started(
                self,
                lambda: start_meilisearch(
                    meili_dir,
                    port=int(os.environ.get("MARKET_MEILI_PORT", "7700")),
                    master_key=master_key_file(meili_dir),
                    env=mark,
                ),
            )
            os.environ["MARKET_MEILI_URL"] = meili.url
            os.environ["MARKET_MEILI_MASTER_KEY"] = meili.master_key
            _announce_meilisearch(meili)
            print(f"meilisearch: {meili.url} (data in {meili.data_dir})", flush=True)
        if not settings.redis_url:
            redis = _started(self, lambda: start_redis(data / "redis", env=mark))
            os.environ["MARKET_REDIS_URL"] = redis.url
            print(f"redis: {redis.url}", flush=True)
        get_settings.cache_clear()  # what connects later (the API, its nudgers, the worker) reads these URLs
        self.migrate()
        self._bootstrap_search()
        if self.start_worker:
            worker = Process(name="worker", log_path=data / "worker.log", env=mark)
            self.processes.append(worker)
            popen = self._spawn_worker(worker)
            print(f"celery worker + beat: pid {popen.pid} (log {worker.log_path})", flush=True)

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop every child (its whole process group) and release the data directory; safe to call twice."""
        self._stopping.set()
        if self._supervisor is not None and self._supervisor is not threading.current_thread():
            self._supervisor.join(15)
        for proc in reversed(self.processes):
            with contextlib.suppress(Exception):
                proc.stop()
            with contextlib.suppress(FileNotFoundError):
                (self.run_dir / f"{proc.name}.pid").unlink()
        _withdraw_meilisearch(self.processes)
        self.processes.clear()
        if self._lock_file is not None:
            with contextlib.suppress(FileNotFoundError):
                (self.run_dir / "stack.pid").unlink()
            self._lock_file.close()  # releases the lock
            self._lock_file = None

    def _lock(self) -> None:
        lock = open(self.run_dir / "stack.lock", "a+")  # noqa: SIM115 - held for the stack's lifetime
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            pid = _read_text(self.run_dir / "stack.pid") or "?"
            raise StackAlreadyRunning(
                f"another `market serve` (pid {pid}) is running on {self.data}; stop it first or set MARKET_DATA_DIR"
            ) from None
        self._lock_file = lock
        (self.run_dir / "stack.pid").write_text(f"{os.getpid()}\n")

    def _record(self, proc: Process) -> None:
        if proc.popen is not None:
            (self.run_dir / f"{proc.name}.pid").write_text(f"{proc.popen.pid} {_start_time(proc.popen.pid)}\n")

    # -- supervision ------------------------------------------------------------------------------

    def _supervise(self) -> None:
        while not self._stopping.wait(0.5):
            for proc in list(self.processes):
                if proc.popen is None or proc.popen.poll() is None or self._stopping.is_set():
                    continue
                self._restart(proc)

    def _restart(self, proc: Process) -> None:
        now = time.monotonic()
        recent = [t for t in self._restarts.get(proc.name, []) if now - t < RESTART_WINDOW]
        if len(recent) >= MAX_RESTARTS:
            if len(recent) == MAX_RESTARTS:
                log.error("%s died %d times within %ds; left stopped", proc.name, MAX_RESTARTS, RESTART_WINDOW)
                recent.append(now)
                self._restarts[proc.name] = recent
            return
        self._restarts[proc.name] = [*recent, now]
        status = proc.popen.returncode if proc.popen is not None else None
        log.warning("%s exited with status %s; restarting it", proc.name, status)
        print(f"{proc.name} exited with status {status}; restarting", flush=True)
        proc.stop()  # reap what is left of its process group
        try:
            if proc.name == "worker":
                self._spawn_worker(proc)
            elif isinstance(proc, Meilisearch | Redis):
                proc.start()  # Meilisearch and Redis restart in place
            self._record(proc)
        except Exception:  # noqa: BLE001 - tried again on the next round, within the limit
            log.exception("restarting %s failed", proc.name)

    # -- pieces -----------------------------------------------------------------------------------

    @staticmethod
    def migrate() -> None:
        from market.core.migrations import upgrade

        upgrade()

    @staticmethod
    def _bootstrap_search() -> None:
        from market.matching.indexing import bootstrap

        bootstrap()

    def _spawn_worker(self, proc: Process) -> subprocess.Popen:
        proc.die_with_parent = True
        proc.popen = popen = spawn(
            [
                sys.executable,
                "-m",
                WORKER_MODULE,  # started by name: market never imports workers (it serves every queue, with beat)
                "--loglevel=INFO",
                "--concurrency=2",
                "--schedule",
                str(self.data / "celerybeat-schedule"),
            ],
            cwd=PROJECT_ROOT,
            env={**os.environ, **proc.env},
            log_path=proc.log_path or self.data / "worker.log",
            die_with_parent=True,
        )
        self._record(proc)
        return popen

    def load_demo(self) -> None:
        from market.core.db import session_scope
        from market.demo import load_demo

        with session_scope() as session:
            print(f"demo data: {load_demo(session)}", flush=True)
        # --demo only: the demo's console users get the known demo password, printed here.
        from market.demo.console_logins import banner, enable_console_logins

        with session_scope() as session:
            logins = enable_console_logins(session)
        print(banner(logins), flush=True)

    def serve(self, host: str, port: int, workers: int = 1) -> None:
        import uvicorn

        from market.app import create_app
        from market.core.logging import uvicorn_log_config

        # uvicorn re-raises SIGTERM/SIGINT after its graceful shutdown; turn that into SystemExit so
        # the stack's __exit__ still stops Meilisearch, Redis and the worker.
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, _exit_on_signal)
        print(f"API on http://{host}:{port}  (OpenAPI docs: http://{host}:{port}/docs)", flush=True)
        if workers > 1:  # worker processes build the app themselves; the stack's URLs reach them in os.environ
            os.environ[STACK_MARK] = str(self.data)  # marked: a later start stops any left by a `kill -9`
            uvicorn.run(
                "market.app:create_app",
                factory=True,
                workers=workers,
                host=host,
                port=port,
                log_config=uvicorn_log_config(),
                access_log=False,
                # a worker importing the app on a busy machine may take longer than uvicorn's 5 s to answer its first
                # health ping; it would be killed and restarted for nothing
                timeout_worker_healthcheck=30,
            )
            return
        uvicorn.run(create_app(), host=host, port=port, log_config=uvicorn_log_config(), access_log=False)


def _started(stack: EmbeddedStack, start: Callable[[], P]) -> P:
    """Start a child; it joins the stack's list (and so is stopped) even when it fails half-way."""
    proc = start()
    proc.die_with_parent = True
    stack.processes.append(proc)
    stack._record(proc)
    return proc


def _announce_meilisearch(meili: Meilisearch) -> None:
    """Let `market search drain | reindex` use this Meilisearch instead of starting one on its data directory."""
    from search import runtime

    if meili.popen is not None:  # just started
        runtime.announce(meili.data_dir, meili.url, meili.master_key, meili.popen.pid)


def _withdraw_meilisearch(processes: list[Process]) -> None:
    from search import runtime

    for proc in processes:
        if isinstance(proc, Meilisearch):
            runtime.withdraw(proc.data_dir)


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def running_stack(data: Path) -> str | None:
    """The pid of a live `market serve` on this data directory (its lock is held), else None."""
    lock_path = Path(data).resolve() / "run" / "stack.lock"
    if not lock_path.exists():
        return None
    with open(lock_path, "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_text(lock_path.parent / "stack.pid") or "?"
        fcntl.flock(lock, fcntl.LOCK_UN)
    return None


# -- leftovers of a stack that was killed -------------------------------------------------------------


def _read_text(path: Path) -> str:
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        return ""


def _stat(pid: int | str) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name: [state, ppid, pgrp, …]; None if gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot (/proc): a recycled pid has another."""
    fields = _stat(pid)
    return fields[19] if fields else ""


def _leftovers(data: Path, recorded: dict[int, int]) -> set[int]:
    """Live processes of an earlier stack: members of a recorded process group (not younger pid reuse:
    started no earlier than the recorded leader), or carrying the stack's mark for this directory.

    The mark alone is not enough: Redis and Celery rewrite their process titles over their environment.
    """
    needle = f"{STACK_MARK}={data}".encode() + b"\0"
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        fields = _stat(entry.name)
        if not fields or fields[0] == "Z":
            continue
        pgrp, start = int(fields[2]), int(fields[19])
        if pgrp in recorded and start >= recorded[pgrp]:
            found.add(int(entry.name))
            continue
        try:
            if needle in (entry / "environ").read_bytes():
                found.add(int(entry.name))
        except OSError:
            continue
    return found


def cleanup_leftovers(data: Path, timeout: float = 10.0) -> list[str]:
    """Stop whatever an earlier stack on this data directory left running; returns what was found.

    Only called with the stack lock held, so nothing recorded for this directory can belong to a live stack.
    """
    data = Path(data).resolve()
    recorded: dict[int, int] = {}
    names: dict[int, str] = {}
    for pid_file in (data / "run").glob("*.pid"):
        parts = _read_text(pid_file).split()
        if pid_file.name != "stack.pid" and len(parts) == 2 and parts[0].isdigit() and parts[1].isdigit():
            recorded[int(parts[0])] = int(parts[1])
            names[int(parts[0])] = pid_file.stem
    found = _leftovers(data, recorded)
    described = [f"{names.get(pid, 'process')} (pid {pid})" for pid in sorted(found)]
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        for pid in found:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while found and time.monotonic() < deadline:
            found = {pid for pid in found if (f := _stat(pid)) and f[0] != "Z"}
            time.sleep(0.1)
    for pid_file in (data / "run").glob("*.pid"):
        if pid_file.name != "stack.pid":
            pid_file.unlink()
    return described
