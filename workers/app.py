"""The Celery application: Redis broker, no result backend, every task through workers.base.task."""

from __future__ import annotations

from celery import Celery

from market.core.config import get_settings
from market.wiring import wire

# Task modules: one per domain, each registering its tasks and beat entries.
TASK_MODULES = ["workers.search", "workers.contracts", "workers.subsidies", "workers.calls", "workers.maintenance"]
# Every queue a task is routed to; a worker that serves everything listens on all of them.
QUEUES = ("default", "search", "calls", "subsidies")
TASK_MODULES.append("workers.vouchers")  # innovation vouchers: expiry and notices (default queue)
TASK_MODULES.append("workers.brokers")  # technology brokers: notices (default queue)
TASK_MODULES.append("workers.commissioners")  # science commissioners: notices (default queue)


def broker_url() -> str:
    url = get_settings().redis_url
    if not url:
        raise RuntimeError("MARKET_REDIS_URL is not set (the embedded run sets it to its own Redis)")
    return url


def make_celery() -> Celery:
    app = Celery("market")
    app.conf.update(
        broker_url=broker_url() if get_settings().redis_url else "memory://",
        task_ignore_result=True,
        result_backend=None,
        task_acks_late=True,  # a killed worker's task goes back to the queue
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": 300},
        task_default_queue="default",
        timezone="UTC",
        beat_schedule={},
    )
    return app


celery_app = make_celery()


def load_task_modules() -> None:
    import importlib

    for name in TASK_MODULES:
        importlib.import_module(name)


load_task_modules()
wire()  # the domains' subsidy fact sources, as the app registers them

# Operations: heartbeat beat entry, JSON logging, request ids into tasks, task metrics.
if "workers.ops" not in TASK_MODULES:
    TASK_MODULES.append("workers.ops")
    load_task_modules()
