"""Liveness and readiness: each component's status, 200 only when all are ready, 503 otherwise."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
import sqlalchemy as sa

from market.core import health
from market.core.config import get_settings
from market.core.db import session_scope, utcnow
from market.core.outbox import OutboxEvent
from tests.search.conftest import post
from tests.services import wait_until


@pytest.fixture
def redis_env(redis_server, monkeypatch):
    """The application (not only Celery) pointed at the real Redis."""
    monkeypatch.setenv("MARKET_REDIS_URL", redis_server.url)
    get_settings.cache_clear()
    client = health.redis_client()
    client.delete(health.HEARTBEAT_KEY)
    client.close()
    yield redis_server
    get_settings.cache_clear()


def test_liveness_answers_without_dependencies(client):
    assert client.get("/healthz").json() == {"status": "ok"}


def test_readiness_without_redis_or_worker_is_503_and_says_why(client):
    r = client.get("/readyz")
    assert r.status_code == 503
    body = r.json()
    assert body["status"] == "unavailable"
    assert body["components"]["database"]["status"] == "ok"
    assert body["components"]["redis"]["status"] == "not_configured"
    assert body["components"]["worker"]["status"] == "unknown"
    assert set(body["components"]) == set(health.COMPONENTS)


def test_readiness_ok_then_each_fault_shows_per_component(client, meili, meili_server, redis_env, world, monkeypatch):
    # no heartbeat yet: the worker is not proven alive
    r = client.get("/readyz")
    assert r.status_code == 503 and r.json()["components"]["worker"]["status"] == "down"

    health.write_heartbeat()
    r = client.get("/readyz")
    assert r.status_code == 200, r.json()
    assert {c["status"] for c in r.json()["components"].values()} == {"ok"}

    # a heartbeat older than the limit: stale
    monkeypatch.setenv("MARKET_HEARTBEAT_STALE_SECONDS", "0.01")
    time.sleep(0.05)
    r = client.get("/readyz")
    assert r.status_code == 503 and r.json()["components"]["worker"]["status"] == "stale"
    monkeypatch.delenv("MARKET_HEARTBEAT_STALE_SECONDS")

    # index lag: an undrained change older than the limit
    member = world.member()
    post(client, member, "achievement")
    with session_scope() as s:
        s.execute(sa.update(OutboxEvent).values(created_at=utcnow() - dt.timedelta(minutes=30)))
    r = client.get("/readyz")
    assert r.status_code == 503
    lag = r.json()["components"]["index_lag"]
    assert lag["status"] == "behind" and lag["lag_seconds"] >= 1800 and lag["pending"] >= 1
    with session_scope() as s:
        s.execute(sa.update(OutboxEvent).values(processed_at=utcnow()))
    assert client.get("/readyz").status_code == 200

    # Meilisearch down
    meili_server.stop()
    r = client.get("/readyz")
    assert r.status_code == 503
    assert r.json()["components"]["meilisearch"]["status"] == "down"
    assert r.json()["components"]["database"]["status"] == "ok"


def test_readiness_reports_redis_down(client, redis_env, monkeypatch):
    monkeypatch.setenv("MARKET_REDIS_URL", "redis+socket:///tmp/market-no-such-redis.sock")
    get_settings.cache_clear()
    r = client.get("/readyz")
    assert r.status_code == 503
    assert r.json()["components"]["redis"]["status"] == "down"
    assert r.json()["components"]["worker"]["status"] == "unknown"


def test_worker_writes_the_heartbeat(engine, celery_worker, redis_env):
    """The beat entry's task, run by a real worker, is what readiness reads."""
    from workers.app import celery_app
    from workers.ops import HEARTBEAT

    assert celery_app.conf.beat_schedule["ops-heartbeat"]["task"] == HEARTBEAT
    celery_worker(queues="default")
    celery_app.send_task(HEARTBEAT, queue="default")
    client = health.redis_client()
    raw = wait_until(lambda: client.get(health.HEARTBEAT_KEY), timeout=30)
    client.close()
    assert time.time() - json.loads(raw)["at"] < 30
    assert health.check({"worker"})["components"]["worker"]["status"] == "ok"


def test_ready_command_exits_by_status(engine, monkeypatch):
    from click.testing import CliRunner

    from market.cli import main

    monkeypatch.delenv("MARKET_REDIS_URL", raising=False)
    get_settings.cache_clear()
    ok = CliRunner().invoke(main, ["ready", "--only", "database"])
    assert ok.exit_code == 0 and json.loads(ok.output)["components"]["database"]["status"] == "ok"
    down = CliRunner().invoke(main, ["ready", "--only", "redis,worker"])
    assert down.exit_code == 1 and json.loads(down.output)["components"]["worker"]["status"] == "unknown"


def test_compose_uses_readiness_and_restarts_the_services():
    import yaml

    from market.core.config import PROJECT_ROOT

    services = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())["services"]
    assert "/readyz" in " ".join(services["api"]["healthcheck"]["test"])
    for name in ("worker", "beat"):
        assert services[name]["healthcheck"]["test"][1:4] == ["market", "ready", "--only"]
    for name in ("api", "worker", "beat"):
        assert services[name]["restart"] == "unless-stopped"


def test_a_hung_dependency_is_a_timeout_not_a_hung_probe(client, redis_env, monkeypatch):
    """Redis stopped (SIGSTOP: it accepts nothing, answers nothing): readiness still answers in time."""
    import os
    import signal

    monkeypatch.setenv("MARKET_READY_TIMEOUT_SECONDS", "0.5")
    os.kill(redis_env.popen.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        r = client.get("/readyz")
        elapsed = time.monotonic() - started
    finally:
        os.kill(redis_env.popen.pid, signal.SIGCONT)
    assert r.status_code == 503
    assert r.json()["components"]["redis"]["status"] in ("timeout", "down")
    assert r.json()["components"]["database"]["status"] == "ok"
    assert elapsed < 2.5
