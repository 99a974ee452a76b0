"""Operations: the worker heartbeat (beat entry), logging set up by our module, request ids and metrics per task."""

from __future__ import annotations

import os
import time
from pathlib import Path

from celery.signals import before_task_publish, setup_logging, task_postrun, task_prerun, worker_init

from market.core import health
from market.core.logging import configure_logging, request_id_var
from market.core.metrics import observe_task
from workers.base import add_beat, task

HEARTBEAT = "market.ops.heartbeat"


@task(HEARTBEAT, queue="default", max_retries=0, expires=health.HEARTBEAT_SECONDS * 2)
def heartbeat() -> dict:
    """Beat sends it, a worker runs it: the key it writes is what /readyz calls the worker's heartbeat."""
    return health.write_heartbeat()


add_beat("ops-heartbeat", HEARTBEAT, health.HEARTBEAT_SECONDS, queue="default")


@setup_logging.connect
def _logging(**_: object) -> None:
    # Connected: Celery leaves the root logger to us (JSON lines with the request id, like the API's).
    configure_logging()


@before_task_publish.connect
def _carry_request_id(headers: dict | None = None, **_: object) -> None:
    rid = request_id_var.get()
    if rid and headers is not None and "request_id" not in headers:
        headers["request_id"] = rid


_started: dict[str, tuple[float, object]] = {}


@task_prerun.connect
def _task_started(task_id: str, task: object, **_: object) -> None:
    rid = getattr(task.request, "request_id", None)  # type: ignore[attr-defined]
    _started[task_id] = (time.perf_counter(), request_id_var.set(rid))


@task_postrun.connect
def _task_finished(task_id: str, task: object, retval: object = None, state: str | None = None, **_: object) -> None:
    started, token = _started.pop(task_id, (None, None))
    if token is not None:
        request_id_var.reset(token)  # type: ignore[arg-type]
    if started is not None:
        observe_task(task.name, time.perf_counter() - started, state, retval)  # type: ignore[attr-defined]


@worker_init.connect
def _serve_metrics(**_: object) -> None:
    """MARKET_METRICS_PORT: the worker's own /metrics (its pool processes' samples, with PROMETHEUS_MULTIPROC_DIR)."""
    port = os.environ.get("MARKET_METRICS_PORT")
    if not port:
        return
    from prometheus_client import REGISTRY, CollectorRegistry, multiprocess, start_http_server

    registry = REGISTRY
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        for stale in Path(directory).glob("*.db"):  # a restarted container's old samples
            stale.unlink()
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    start_http_server(int(port), registry=registry)
