"""Readiness (/readyz: database, Meilisearch, Redis, worker heartbeat, index lag), the worker heartbeat, /metrics."""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from market.core.config import get_settings
from market.core.errors import ServiceUnavailable, error_body
from market.core.logging import OncePerOutage

HEARTBEAT_KEY = "market:worker:heartbeat"
HEARTBEAT_SECONDS = 15.0
COMPONENTS = ("database", "meilisearch", "redis", "worker", "index_lag")

router = APIRouter(tags=["ops"])
database_outage = OncePerOutage(logging.getLogger("market.database"), "database")


class DatabaseUnavailable(ServiceUnavailable):
    code = "database_unavailable"
    message = "数据库暂不可用，请稍后再试 (the database is temporarily unavailable)."


def install_outage_handlers(app: FastAPI) -> None:
    """A database that cannot be reached is a 503 with the one error shape, logged once per outage
    (not a 500 with a traceback on every request)."""

    async def _database_down(_: Request, exc: Exception) -> JSONResponse:
        database_outage.failed(exc)
        err = DatabaseUnavailable()
        return JSONResponse(error_body(err.code, err.message), status_code=503, headers={"Retry-After": "5"})

    app.add_exception_handler(sa.exc.OperationalError, _database_down)
    app.add_exception_handler(sa.exc.InterfaceError, _database_down)


def _limit(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


def redis_client(timeout: float = 1.0):
    """A plain Redis client on the broker URL (Celery's redis+socket:// spelled as redis-py's unix://)."""
    import redis

    url = get_settings().redis_url
    if not url:
        return None
    if url.startswith("redis+socket://"):
        url = "unix://" + url[len("redis+socket://") :]
    return redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)


def write_heartbeat() -> dict[str, Any]:
    """Run by the worker on a beat schedule: proves that beat schedules and a worker runs tasks."""
    beat = {"at": time.time(), "hostname": socket.gethostname(), "pid": os.getpid()}
    client = redis_client()
    if client is None:
        return beat
    try:
        client.set(HEARTBEAT_KEY, json.dumps(beat), ex=int(HEARTBEAT_SECONDS * 20))
    finally:
        client.close()
    return beat


def _database() -> dict[str, Any]:
    from market.core.db import get_engine

    try:
        with get_engine().connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.DBAPIError as exc:
        database_outage.failed(exc)
        raise
    database_outage.ok()
    return {"status": "ok"}


def _meilisearch() -> dict[str, Any]:
    from search import runtime

    if not (runtime.configured() or get_settings().meili_url):
        return {"status": "not_configured"}
    client = runtime.get_client()
    return {"status": "ok"} if client.healthy() else {"status": "down"}


def _redis_and_worker() -> tuple[dict[str, Any], dict[str, Any]]:
    client = redis_client()
    if client is None:
        return {"status": "not_configured"}, {"status": "unknown", "detail": "no Redis configured"}
    try:
        client.ping()
        raw = client.get(HEARTBEAT_KEY)
    except Exception as exc:  # noqa: BLE001 - reported, never raised
        return {"status": "down", "detail": type(exc).__name__}, {"status": "unknown", "detail": "Redis is down"}
    finally:
        client.close()
    if raw is None:
        return {"status": "ok"}, {"status": "down", "detail": "no heartbeat yet"}
    beat = json.loads(raw)
    age = max(time.time() - float(beat["at"]), 0.0)
    stale = age > _limit("MARKET_HEARTBEAT_STALE_SECONDS", HEARTBEAT_SECONDS * 4)
    return {"status": "ok"}, {
        "status": "stale" if stale else "ok",
        "age_seconds": round(age, 1),
        "hostname": beat.get("hostname"),
    }


def _index_lag() -> dict[str, Any]:
    from market.core.db import session_scope

    try:
        from market.matching.indexing import index_lag
    except ModuleNotFoundError:
        return {"status": "not_configured"}
    with session_scope() as session:
        lag = index_lag(session)
    limit = _limit("MARKET_READY_MAX_INDEX_LAG_SECONDS", 300)
    return {
        "status": "ok" if lag["lag_seconds"] <= limit else "behind",
        "lag_seconds": lag["lag_seconds"],
        "pending": lag["pending"],
        "limit_seconds": limit,
    }


_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="readyz")


def _timed(fn) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        result = fn()
    except Exception as exc:  # noqa: BLE001 - a failed check is a status, not an error
        result = {"status": "down", "detail": type(exc).__name__}
    ms = round((time.perf_counter() - started) * 1000, 1)
    if isinstance(result, tuple):
        return tuple({**r, "latency_ms": ms} for r in result)  # type: ignore[return-value]
    return {**result, "latency_ms": ms}


def check(only: set[str] | None = None) -> dict[str, Any]:
    """Each component's status, checked in parallel and bounded in time (a hung dependency is "timeout");
    overall "ok" only when every checked one is ok (or not configured)."""
    wanted = set(only or COMPONENTS)
    jobs = {
        name: fn
        for name, fn in (("database", _database), ("meilisearch", _meilisearch), ("index_lag", _index_lag))
        if name in wanted
    }
    if {"redis", "worker"} & wanted:
        jobs["redis+worker"] = _redis_and_worker
    futures = {name: _pool.submit(_timed, fn) for name, fn in jobs.items()}
    deadline = time.monotonic() + _limit("MARKET_READY_TIMEOUT_SECONDS", 3)
    components: dict[str, dict[str, Any]] = {}
    for name, future in futures.items():
        try:
            result = future.result(timeout=max(deadline - time.monotonic(), 0))
        except FuturesTimeout:
            result = {"status": "timeout"}
            if name == "redis+worker":
                result = (result, {"status": "unknown", "detail": "Redis did not answer"})
        if name == "redis+worker":
            if not isinstance(result, tuple):  # the check itself failed (e.g. a malformed Redis URL)
                result = (result, {"status": "unknown", "detail": "Redis is down"})
            for part, status in zip(("redis", "worker"), result, strict=True):
                if part in wanted:
                    components[part] = status
        else:
            components[name] = result
    components = {name: components[name] for name in COMPONENTS if name in components}
    ok = all(c["status"] in ("ok", "not_configured") for c in components.values())
    return {"status": "ok" if ok else "unavailable", "components": components}


@router.get("/readyz", summary="Readiness: database, Meilisearch, Redis, worker heartbeat, index lag")
async def readyz(response: Response) -> dict[str, Any]:
    result = await run_in_threadpool(check)
    response.status_code = 200 if result["status"] == "ok" else 503
    return result


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics() -> Response:
    from market.core.metrics import render

    body, content_type = await run_in_threadpool(render)
    return Response(body, media_type=content_type)
