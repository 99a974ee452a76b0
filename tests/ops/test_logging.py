"""Logs: JSON lines with a request id that is echoed to the client and carried into the tasks the request causes."""

from __future__ import annotations

import io
import json
import logging
import re

import pytest
import sqlalchemy as sa

from market.core.db import create_db_engine, get_engine, set_engine
from market.core.logging import configure_logging
from market.embedded import free_port
from tests.search.conftest import post
from tests.services import wait_until


@pytest.fixture
def log_lines():
    """The root logger writing JSON into a buffer for the test; restored afterwards."""
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    buffer = io.StringIO()
    configure_logging("INFO", stream=buffer, force=True)

    def lines() -> list[dict]:
        return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]

    yield lines
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in saved_handlers:
        root.addHandler(handler)
    root.setLevel(saved_level)


def test_request_id_is_echoed_or_generated(client):
    r = client.get("/healthz", headers={"X-Request-ID": "req-abc.123"})
    assert r.headers["X-Request-ID"] == "req-abc.123"
    generated = client.get("/healthz").headers["X-Request-ID"]
    assert len(generated) == 32 and int(generated, 16) >= 0
    # not a sane id (too long, or a header trying to smuggle text into the logs): replaced
    assert client.get("/healthz", headers={"X-Request-ID": "x" * 300}).headers["X-Request-ID"] != "x" * 300
    assert " " not in client.get("/healthz", headers={"X-Request-ID": "a b"}).headers["X-Request-ID"]
    # error responses carry it too
    missing = client.get("/api/v1/achievements/987654", headers={"X-Request-ID": "req-404"})
    assert missing.status_code in (401, 404) and missing.headers["X-Request-ID"] == "req-404"


def test_access_log_is_one_json_line_with_route_and_request_id(client, log_lines):
    client.get("/api/v1/achievements/5", headers={"X-Request-ID": "req-json-1"})
    access = [line for line in log_lines() if line["logger"] == "market.access"]
    assert access, log_lines()
    line = access[-1]
    assert line["request_id"] == "req-json-1"
    assert line["route"] == "/api/v1/achievements/{listing_id}"
    assert {"time", "level", "message", "status", "duration_ms", "method"} <= set(line)


def test_database_down_is_a_503_logged_once_not_a_traceback_per_request(client, log_lines):
    from market.core.health import database_outage

    database_outage.ok()  # a fresh outage starts here
    healthy = get_engine()
    dead = create_db_engine(f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/none", poolclass=sa.NullPool)
    set_engine(dead)
    try:
        responses = [client.get("/api/v1/achievements") for _ in range(5)]
    finally:
        set_engine(healthy)
        dead.dispose()
    assert {r.status_code for r in responses} == {503}
    assert responses[0].json()["error"]["code"] == "database_unavailable"
    warnings = [
        line for line in log_lines() if line["level"] in ("WARNING", "ERROR") and "again" not in line["message"]
    ]
    assert len(warnings) == 1, warnings
    assert "database unavailable" in warnings[0]["message"]
    # readiness sees the database back: the recovery is logged once
    assert client.get("/readyz").json()["components"]["database"]["status"] == "ok"
    assert any("database available again" in line["message"] for line in log_lines())
    assert not any("exc_info" in line or "Traceback" in json.dumps(line) for line in log_lines())


@pytest.mark.slow
def test_request_id_travels_into_the_worker_and_its_log_lines(client, world, celery_worker, meili):
    worker = celery_worker(queues="search,default")
    member = world.member()
    r = client.post(
        "/api/v1/achievements", json={**_achievement()}, headers={**member.headers, "X-Request-ID": "req-into-task-7"}
    )
    assert r.status_code == 201, r.text

    def task_lines() -> list[dict]:
        out = []
        for raw in worker.log().splitlines():
            if raw.startswith("{"):
                line = json.loads(raw)
                if line.get("request_id") == "req-into-task-7":
                    out.append(line)
        return out

    # the drain task this request's commit nudged logs its run time under the request's id
    wait_until(lambda: any("market.search.drain" in line["message"] for line in task_lines()), timeout=60)
    lines = task_lines()
    post(client, member, "achievement")  # a request without our id: its task lines carry another one
    wait_until(lambda: worker.log().count("task market.search.drain took") >= 2, timeout=60)
    assert len(task_lines()) == len(lines)


def _achievement() -> dict:
    from tests.search.conftest import ACHIEVEMENT

    return ACHIEVEMENT


@pytest.mark.slow
def test_market_api_logs_json_from_every_uvicorn_worker_and_metrics_add_up(tmp_path):
    """The container's command: two uvicorn workers, JSON access lines with request ids, one /metrics for both."""
    import os
    import subprocess
    import sys
    import time

    import httpx

    from market.core.config import PROJECT_ROOT

    env = {k: v for k, v in os.environ.items() if not k.startswith(("MARKET_", "PROMETHEUS_"))}
    env.update(
        {
            "MARKET_DATA_DIR": str(tmp_path / "var"),
            "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prom"),
            "MARKET_SECRET_KEY": "a-real-secret-for-this-test-0123456789",
        }
    )
    (tmp_path / "prom").mkdir()
    subprocess.run(
        [sys.executable, "-m", "market.cli", "migrate"], cwd=PROJECT_ROOT, env=env, check=True, capture_output=True
    )
    port = free_port()
    with open(tmp_path / "api.log", "wb") as out:
        api = subprocess.Popen(
            [sys.executable, "-m", "market.cli", "api", "--port", str(port), "--workers", "2"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: _get(f"{base}/healthz"), timeout=60)
        for i in range(20):
            with httpx.Client() as c:  # a new connection each time: both workers get some
                assert c.get(f"{base}/healthz", headers={"X-Request-ID": f"req-api-{i}"}).status_code == 200
        text = httpx.get(f"{base}/metrics").text
        counted = re.search(
            r'market_http_request_duration_seconds_count\{method="GET",route="/healthz",status="200"\} (\S+)', text
        )
        assert counted and float(counted.group(1)) >= 20, text[:2000]
        time.sleep(0.5)
        lines = [json.loads(line) for line in (tmp_path / "api.log").read_text().splitlines() if line.startswith("{")]
        access = {line["request_id"] for line in lines if line["logger"] == "market.access"}
        assert {f"req-api-{i}" for i in range(20)} <= access
    finally:
        os.killpg(api.pid, 15)
        api.wait(30)


def _get(url: str) -> bool:
    import httpx

    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def test_uvicorn_workers_log_no_line_per_meilisearch_request():
    # each uvicorn worker applies uvicorn_log_config(): httpx and httpcore (every Meilisearch call) warn only
    from market.core.logging import uvicorn_log_config

    for level in ("DEBUG", "INFO"):
        loggers = uvicorn_log_config(level)["loggers"]
        assert loggers["httpx"]["level"] == loggers["httpcore"]["level"] == logging.WARNING, level
    assert uvicorn_log_config("ERROR")["loggers"]["httpx"]["level"] == logging.ERROR
