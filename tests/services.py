"""Session-scoped real services for tests that need them: Meilisearch, Redis, a Celery worker.

(Owned by the search work; other domains import these fixtures by name.)
- `meili_server`: a real Meilisearch for the run (handle: .url, .master_key, .stop(), .start()).
- `meili`: a MeiliClient on a scoped (non-master) key with a fresh index prefix, settings applied,
  and the application pointed at it; indexes are deleted afterwards.
- `redis_server`: a real Redis on a unix socket; `celery_broker` points the Celery app at it.
- `celery_worker`: a factory starting a real worker subprocess on the current test database.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from market.core.config import PROJECT_ROOT
from market.embedded import Meilisearch, Redis, start_meilisearch, start_redis


def _test_root() -> Path:
    from tests.conftest import TEST_ROOT

    return TEST_ROOT


@pytest.fixture(scope="session")
def meili_server() -> Iterator[Meilisearch]:
    server = start_meilisearch(_test_root() / f"meili-{secrets.token_hex(3)}")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def meili_app_key(meili_server: Meilisearch) -> str:
    from search.runtime import scoped_key

    return scoped_key(meili_server.url, meili_server.master_key, "t")


@pytest.fixture
def meili(meili_server: Meilisearch, meili_app_key: str) -> Iterator:
    """The app's Meilisearch for one test: scoped key, own index prefix, settings and shipped synonyms applied."""
    from market.matching import synonyms
    from search import runtime, writer
    from search.client import MeiliClient
    from search.settings import KINDS, index_uid

    if not meili_server.popen or meili_server.popen.poll() is not None:
        meili_server.start()  # a previous test stopped it
    client = MeiliClient(meili_server.url, meili_app_key)
    prefix = f"t_{secrets.token_hex(4)}"
    runtime.configure(client, prefix)
    synonyms.reset_cache()
    writer.apply_settings(client)
    yield client
    if meili_server.popen and meili_server.popen.poll() is None:
        for kind in KINDS:
            for uid in (index_uid(kind), index_uid(kind, "_rebuild")):
                try:
                    client.delete_index(uid)
                except Exception:  # noqa: BLE001 - best-effort cleanup
                    pass
    runtime.configure(None)
    client.close()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[Redis]:
    server = start_redis(_test_root() / f"redis-{secrets.token_hex(3)}")
    yield server
    server.stop()


@pytest.fixture
def celery_broker(redis_server: Redis) -> Iterator[str]:
    """Point this process's Celery app at the real Redis (tasks sent from the test go there)."""
    from workers.app import celery_app

    def reset_pools() -> None:
        from kombu import pools

        if celery_app._pool is not None:
            celery_app._pool.force_close_all()
        celery_app._pool = None
        celery_app.amqp._producer_pool = None
        # kombu keeps producer pools per connection in a global registry; a closed one would be reused.
        pools.reset()

    old = celery_app.conf.broker_url
    celery_app.conf.broker_url = redis_server.url
    reset_pools()
    yield redis_server.url
    celery_app.conf.broker_url = old
    reset_pools()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens here once closed


@pytest.fixture
def redis_down():
    """Point this process's Celery app at a Redis that is not there (what an outage looks like to the API)."""
    from kombu import pools

    import workers.search  # noqa: F401 - registers the after-commit nudgers
    from market.core import outbox
    from workers.app import celery_app

    def reset_pools() -> None:
        if celery_app._pool is not None:
            celery_app._pool.force_close_all()
        celery_app._pool = None
        celery_app.amqp._producer_pool = None
        pools.reset()

    old = celery_app.conf.broker_url
    celery_app.conf.broker_url = f"redis://127.0.0.1:{_closed_port()}/0"
    reset_pools()
    outbox.nudger.reset()
    yield
    outbox.nudger.wait_idle(30)
    celery_app.conf.broker_url = old
    reset_pools()
    outbox.nudger.reset()


class Worker:
    def __init__(self, popen: subprocess.Popen, log_path: Path) -> None:
        self.popen, self.log_path = popen, log_path

    def kill(self) -> None:
        """SIGKILL the whole process group: no chance to finish or acknowledge anything."""
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(10)

    def stop(self) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@pytest.fixture
def celery_worker(
    celery_broker: str, meili_server: Meilisearch, meili_app_key: str, tmp_path: Path
) -> Iterator[Callable[..., Worker]]:
    """Factory: start a real `celery worker` subprocess on the current test database, Redis and Meilisearch."""
    from market.core.db import get_engine
    from search import runtime

    started: list[Worker] = []

    def start(queues: str = "search,default", extra_env: dict[str, str] | None = None) -> Worker:
        url = get_engine().url.render_as_string(hide_password=False)
        env = {
            **os.environ,
            "MARKET_DATABASE_URL": url,
            "MARKET_REDIS_URL": celery_broker,
            "MARKET_MEILI_URL": meili_server.url,
            "MARKET_MEILI_API_KEY": meili_app_key,
            "MARKET_MEILI_INDEX_PREFIX": runtime.index_prefix(),
            "MARKET_DATA_DIR": str(tmp_path / "worker-data"),
            **(extra_env or {}),
        }
        log_path = tmp_path / f"worker-{len(started)}.log"
        with open(log_path, "wb") as log:
            popen = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "workers.app:celery_app",
                    "worker",
                    "-Q",
                    queues,
                    "-c",
                    "1",
                    "-P",
                    "solo",
                    "--without-heartbeat",
                    "--without-gossip",
                    "--without-mingle",
                    "-l",
                    "info",
                ],
                cwd=PROJECT_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        worker = Worker(popen, log_path)
        started.append(worker)
        deadline = time.monotonic() + 60
        while "ready." not in worker.log():
            if popen.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("celery worker did not start:\n" + worker.log())
            time.sleep(0.2)
        return worker

    yield start
    for worker in started:
        worker.stop()


def wait_until(predicate: Callable[[], object], timeout: float = 30.0, interval: float = 0.1) -> object:
    """Poll until predicate() is truthy; fail the test with a clear message otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout}s")
        time.sleep(interval)


def engine_url(engine: sa.Engine) -> str:
    return engine.url.render_as_string(hide_password=False)
