"""/metrics: request latency by route template, outbox backlog and index lag, task outcomes from a real worker."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from market.core.db import session_scope, utcnow
from market.core.metrics import observe_task
from market.core.outbox import OutboxEvent
from tests.search.conftest import post
from tests.services import wait_until


def scrape(client) -> dict[tuple[str, tuple], float]:
    r = client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    return _samples(r.text)


def _samples(text: str) -> dict[tuple[str, tuple], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_request_latency_is_labelled_by_route_template_not_raw_path(client, world):
    member = world.member()
    listing = post(client, member, "achievement", publish=False)
    route = "/api/v1/achievements/{listing_id}"
    before = scrape(client)
    for _ in range(3):
        assert client.get(f"/api/v1/achievements/{listing}", headers=member.headers).status_code == 200
    client.get("/api/v1/achievements/999999999", headers=member.headers)
    after = scrape(client)
    count = "market_http_request_duration_seconds_count"
    assert (
        value(after, count, method="GET", route=route, status="200")
        - value(before, count, method="GET", route=route, status="200")
        == 3
    )
    assert value(after, count, method="GET", route=route, status="404") >= 1
    routes = {dict(labels).get("route") for (name, labels) in after if name.startswith("market_http_request")}
    assert route in routes
    assert not [r for r in routes if r and re.search(r"/\d+(/|$)", r)], routes  # no raw ids, ever
    client.get("/no/such/path/123")
    assert 'route="<unmatched>"' in client.get("/metrics").text


def test_outbox_backlog_oldest_age_and_index_lag_move(client, world):
    member = world.member()
    with session_scope() as s:
        s.execute(sa.update(OutboxEvent).values(processed_at=utcnow()))
    base = scrape(client)
    assert value(base, "market_outbox_pending", topic="search.index") == 0
    assert value(base, "market_search_index_lag_seconds") == 0
    assert value(base, "market_metrics_database_up") == 1

    post(client, member, "achievement")
    with session_scope() as s:
        s.execute(sa.update(OutboxEvent).values(created_at=utcnow() - dt.timedelta(seconds=120)))
    backlog = scrape(client)
    assert value(backlog, "market_outbox_pending", topic="search.index") >= 1
    assert value(backlog, "market_outbox_oldest_age_seconds", topic="search.index") >= 120
    assert value(backlog, "market_search_index_lag_seconds") >= 120

    with session_scope() as s:
        s.execute(sa.update(OutboxEvent).values(processed_at=utcnow()))
    drained = scrape(client)
    assert value(drained, "market_outbox_pending", topic="search.index") == 0
    assert value(drained, "market_search_index_lag_seconds") == 0


def test_task_outcomes_a_drain_that_reports_an_error_is_a_failure():
    """The drain task returns {"error": …} instead of raising: it must not count as succeeded."""
    from prometheus_client import REGISTRY

    def get(name, **labels):
        return REGISTRY.get_sample_value(name, labels) or 0.0

    failed = get("market_task_failures_total", task="market.search.drain", reason="reported")
    ok = get("market_task_duration_seconds_count", task="market.search.drain", outcome="succeeded")
    observe_task("market.search.drain", 0.2, "SUCCESS", {"processed": 0, "error": "SearchUnavailable: down"})
    observe_task("market.search.drain", 0.1, "SUCCESS", {"processed": 3, "error": None})
    assert get("market_task_failures_total", task="market.search.drain", reason="reported") == failed + 1
    assert get("market_task_duration_seconds_count", task="market.search.drain", outcome="succeeded") == ok + 1

    sub = get("market_subsidy_run_duration_seconds_count", outcome="succeeded")
    observe_task("market.subsidies.compute_run", 1.5, "SUCCESS", None)
    assert get("market_subsidy_run_duration_seconds_count", outcome="succeeded") == sub + 1

    hooks = get("market_webhook_delivery_failures_total", final="false")
    observe_task("market.search.deliver_webhook", 0.3, "RETRY", None)
    assert get("market_webhook_delivery_failures_total", final="false") == hooks + 1
    assert get("market_task_failures_total", task="market.search.deliver_webhook", reason="retry") >= 1


@pytest.mark.slow
def test_a_real_worker_reports_a_failed_drain_through_metrics(client, world, celery_worker, tmp_path, monkeypatch):
    """Worker processes write their samples to the multiprocess directory; /metrics adds them up."""
    from market.embedded import free_port

    prom = tmp_path / "prom"
    prom.mkdir()
    worker = celery_worker(
        queues="search,default",
        extra_env={"PROMETHEUS_MULTIPROC_DIR": str(prom), "MARKET_MEILI_URL": f"http://127.0.0.1:{free_port()}"},
    )
    member = world.member()
    post(client, member, "achievement")  # the commit nudges a drain; Meilisearch is unreachable for the worker

    def reported() -> float:
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=str(prom))
        samples = _samples(generate_latest(registry).decode())
        return value(samples, "market_task_failures_total", task="market.search.drain", reason="reported")

    wait_until(reported, timeout=60)
    # the API's /metrics, pointed at the same directory, shows the worker's series
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(prom))
    text = client.get("/metrics").text
    assert re.search(r'market_task_failures_total\{.*reason="reported".*task="market.search.drain"', text), text
    assert 'market_task_duration_seconds_count{outcome="failed",task="market.search.drain"}' in text
    assert "ready." in worker.log()


@pytest.mark.slow
def test_the_worker_serves_its_own_metrics_port(engine, celery_worker, tmp_path):
    """Compose: the worker (prefork pool or not) answers on MARKET_METRICS_PORT with its task series."""
    import httpx

    from market.embedded import free_port
    from workers.app import celery_app
    from workers.ops import HEARTBEAT

    prom, port = tmp_path / "prom", free_port()
    prom.mkdir()
    (prom / "counter_999999.db").write_bytes(b"stale")  # an earlier run's file is cleared at start
    celery_worker(queues="default", extra_env={"PROMETHEUS_MULTIPROC_DIR": str(prom), "MARKET_METRICS_PORT": str(port)})
    assert not (prom / "counter_999999.db").exists()
    celery_app.send_task(HEARTBEAT, queue="default")
    series = 'market_task_duration_seconds_count{outcome="succeeded",task="market.ops.heartbeat"} 1.0'
    wait_until(lambda: series in httpx.get(f"http://127.0.0.1:{port}/metrics").text, timeout=30)
