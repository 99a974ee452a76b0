"""Prometheus metrics: request latency by route template, task outcomes, and state read from the database at scrape.

Processes: with PROMETHEUS_MULTIPROC_DIR set (the embedded stack sets it; set it for several uvicorn
workers or a prefork Celery worker on one host), every process writes its samples there and /metrics
adds them up. Without it, /metrics shows this process only. The database-derived gauges (outbox backlog,
index lag, webhook deliveries) are computed at scrape time, so they are right in either mode.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric

from market.core.logging import REQUEST_ID_HEADER, new_request_id, request_id_var

log = logging.getLogger(__name__)
access_log = logging.getLogger("market.access")

REQUEST_LATENCY = Histogram(
    "market_http_request_duration_seconds",
    "HTTP request latency by route template (not raw path).",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
TASK_DURATION = Histogram(
    "market_task_duration_seconds",
    "Celery task run time by task and outcome (succeeded, failed, retried).",
    ["task", "outcome"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 1800),
)
TASK_FAILURES = Counter(
    "market_task_failures_total",
    "Celery task runs that failed: raised (exception), will retry (retry), or returned an error (reported).",
    ["task", "reason"],
)
WEBHOOK_FAILURES = Counter(
    "market_webhook_delivery_failures_total",
    "Webhook delivery attempts that failed (final: no more retries).",
    ["final"],
)
SUBSIDY_RUN_DURATION = Histogram(
    "market_subsidy_run_duration_seconds",
    "Subsidy run computations (the compute task) by outcome.",
    ["outcome"],
    buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600),
)


class StateCollector:
    """Gauges read from the database on each scrape (right whatever process drains the outbox)."""

    def collect(self) -> Iterator[Metric]:
        from market.core.db import session_scope, utcnow
        from market.core.outbox import OutboxEvent

        up = GaugeMetricFamily("market_metrics_database_up", "1 if the state gauges could be read from the database.")
        try:
            with session_scope() as session:
                rows = session.execute(
                    sa.select(OutboxEvent.topic, sa.func.count(), sa.func.min(OutboxEvent.created_at))
                    .where(OutboxEvent.processed_at.is_(None))
                    .group_by(OutboxEvent.topic)
                ).all()
                deliveries = _webhook_counts(session)
        except Exception as exc:  # noqa: BLE001 - a scrape during a database outage still answers
            log.debug("state metrics unavailable: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        now = utcnow()
        backlog = GaugeMetricFamily(
            "market_outbox_pending", "Outbox rows not yet processed, per topic.", labels=["topic"]
        )
        age = GaugeMetricFamily(
            "market_outbox_oldest_age_seconds", "Age of the oldest unprocessed outbox row, per topic.", labels=["topic"]
        )
        lag = GaugeMetricFamily(
            "market_search_index_lag_seconds", "Index lag: age of the oldest search change not yet in Meilisearch."
        )
        lag_value = 0.0
        for topic, count, oldest in rows:
            seconds = max((now - _aware(oldest)).total_seconds(), 0.0) if oldest else 0.0
            backlog.add_metric([topic], count)
            age.add_metric([topic], seconds)
            if topic == _search_topic():
                lag_value = seconds
        lag.add_metric([], lag_value)
        yield backlog
        yield age
        yield lag
        hooks = GaugeMetricFamily("market_webhook_deliveries", "Webhook deliveries by status.", labels=["status"])
        for status, count in deliveries.items():
            hooks.add_metric([status], count)
        yield hooks


def _search_topic() -> str:
    from market.core.outbox import SEARCH_INDEX

    return SEARCH_INDEX


def _webhook_counts(session) -> dict[str, int]:
    try:
        from market.matching.models import WebhookDelivery
    except ModuleNotFoundError:
        return {}
    counts = {"pending": 0, "delivered": 0, "failed": 0}
    for status, count in session.execute(
        sa.select(WebhookDelivery.status, sa.func.count()).group_by(WebhookDelivery.status)
    ):
        counts[status] = count
    return counts


def _aware(value):
    import datetime as dt

    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


class _ThisProcess:
    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def render() -> tuple[bytes, str]:
    """The exposition text for /metrics."""
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_ThisProcess())
    registry.register(StateCollector())
    return generate_latest(registry), CONTENT_TYPE_LATEST


# -- the HTTP side: request id, latency by route template, one access line per request ----------------


class RequestMiddleware:
    """Pure ASGI: sets the request id (X-Request-ID in, echoed out), times the request by its route template."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = None
        for name, value in scope.get("headers", []):
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        rid = new_request_id(incoming)
        token = request_id_var.set(rid)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (REQUEST_ID_HEADER.lower().encode(), rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None) or "<unmatched>"
            method = scope.get("method", "")
            if route != "/metrics":
                REQUEST_LATENCY.labels(method, route, str(status)).observe(elapsed)
            access_log.info(
                "%s %s %s %.1fms",
                method,
                route,
                status,
                elapsed * 1000,
                extra={"method": method, "route": route, "status": status, "duration_ms": round(elapsed * 1000, 2)},
            )
            request_id_var.reset(token)


# -- the Celery side: connected by workers.ops -------------------------------------------------------


def observe_task(task_name: str, seconds: float, state: str | None, retval: Any) -> None:
    """A task run ended: a drain that returns {"error": …} counts as failed, not as succeeded."""
    if state == "SUCCESS" and isinstance(retval, dict) and retval.get("error"):
        outcome = "failed"
        TASK_FAILURES.labels(task_name, "reported").inc()
    elif state == "SUCCESS":
        outcome = "succeeded"
    elif state == "RETRY":
        outcome = "retried"
        TASK_FAILURES.labels(task_name, "retry").inc()
    else:
        outcome = "failed"
        TASK_FAILURES.labels(task_name, "exception").inc()
    TASK_DURATION.labels(task_name, outcome).observe(seconds)
    if task_name == "market.subsidies.compute_run":
        SUBSIDY_RUN_DURATION.labels(outcome).observe(seconds)
    if task_name == "market.search.deliver_webhook" and outcome != "succeeded":
        WEBHOOK_FAILURES.labels("false" if outcome == "retried" else "true").inc()
