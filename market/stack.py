"""The embedded stack for a zero-setup run: the same code path as production, its servers started here."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from market.core.config import PROJECT_ROOT, get_settings
from market.embedded import Process, start_meilisearch, start_redis


class EmbeddedStack:
    """Starts whatever is not configured (Meilisearch, Redis) plus a Celery worker with beat; stops them on exit."""

    def __init__(self, *, start_worker: bool = True) -> None:
        self.start_worker = start_worker
        self.processes: list[Process] = []

    def __enter__(self) -> EmbeddedStack:
        settings = get_settings()
        data = Path(settings.data_dir)
        data.mkdir(parents=True, exist_ok=True)
        if not settings.secret_key:
            key_file = data / "secret_key"
            if not key_file.exists():
                import secrets

                key_file.write_text(secrets.token_urlsafe(32))
                key_file.chmod(0o600)
            os.environ["MARKET_SECRET_KEY"] = key_file.read_text().strip()
        if not settings.meili_url:
            meili = start_meilisearch(data / "meilisearch", port=int(os.environ.get("MARKET_MEILI_PORT", "7700")))
            self.processes.append(meili)
            os.environ["MARKET_MEILI_URL"] = meili.url
            os.environ["MARKET_MEILI_MASTER_KEY"] = meili.master_key
            _announce_meilisearch(meili)
            print(f"meilisearch: {meili.url} (data in {meili.data_dir})", flush=True)
        if not settings.redis_url:
            redis = start_redis(data / "redis")
            self.processes.append(redis)
            os.environ["MARKET_REDIS_URL"] = redis.url
            print(f"redis: {redis.url}", flush=True)
        get_settings.cache_clear()
        self._reload_celery()
        self.migrate()
        self._bootstrap_search()
        if self.start_worker:
            self.processes.append(self._start_worker(data))
        return self

    def __exit__(self, *exc: object) -> None:
        for proc in reversed(self.processes):
            proc.stop()
        _withdraw_meilisearch(self.processes)

    @staticmethod
    def _reload_celery() -> None:
        from workers import app as worker_app

        worker_app.celery_app.conf.broker_url = worker_app.broker_url()

    @staticmethod
    def migrate() -> None:
        from market.core.migrations import upgrade

        upgrade()

    @staticmethod
    def _bootstrap_search() -> None:
        try:
            from search.bootstrap import bootstrap
        except ModuleNotFoundError:
            return
        bootstrap()

    @staticmethod
    def _start_worker(data: Path) -> Process:
        from workers.app import QUEUES

        log = open(data / "worker.log", "ab")  # noqa: SIM115 - handed to the child
        popen = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "workers.app", "worker", "-B", "--loglevel=INFO",
             "--concurrency=2", "-Q", ",".join(QUEUES), "--schedule", str(data / "celerybeat-schedule")],
            cwd=PROJECT_ROOT, env=os.environ.copy(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        print(f"celery worker + beat: pid {popen.pid} (log {data / 'worker.log'})", flush=True)
        return Process(name="worker", popen=popen, log_path=data / "worker.log")

    def load_demo(self) -> None:
        from market.core.db import session_scope
        from market.demo import load_demo

        with session_scope() as session:
            print(f"demo data: {load_demo(session)}", flush=True)

    def serve(self, host: str, port: int) -> None:
        import uvicorn

        from market.app import create_app

        # uvicorn re-raises SIGTERM/SIGINT after its graceful shutdown; turn that into SystemExit so
        # the stack's __exit__ still stops Meilisearch, Redis and the worker.
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, _exit_on_signal)
        print(f"API on http://{host}:{port}  (OpenAPI docs: http://{host}:{port}/docs)", flush=True)
        uvicorn.run(create_app(), host=host, port=port, log_level="info")


def _announce_meilisearch(meili: object) -> None:
    """Let `market search drain | reindex` use this Meilisearch instead of starting one on its data directory."""
    from search import runtime

    runtime.announce(meili.data_dir, meili.url, meili.master_key, meili.popen.pid)


def _withdraw_meilisearch(processes: list[Process]) -> None:
    from search import runtime

    for proc in processes:
        if proc.name == "meilisearch":
            runtime.withdraw(proc.data_dir)


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)
