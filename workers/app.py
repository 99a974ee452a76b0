"""The Celery application: Redis broker, no result backend, every task through workers.base.task."""

from __future__ import annotations

from market.core.queue import broker_url, celery_app, make_celery  # noqa: F401 - the one app, shared with market

# Task modules: one per domain, each registering its tasks and beat entries.
TASK_MODULES = ["workers.search", "workers.contracts", "workers.subsidies", "workers.calls", "workers.maintenance"]
# Every queue a task is routed to; a worker that serves everything listens on all of them.
QUEUES = ("default", "search", "calls", "subsidies")
TASK_MODULES.append("workers.vouchers")  # innovation vouchers: expiry and notices (default queue)
TASK_MODULES.append("workers.brokers")  # technology brokers: notices (default queue)
TASK_MODULES.append("workers.commissioners")  # science commissioners: notices (default queue)


def load_task_modules() -> None:
    import importlib

    for name in TASK_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if not (exc.name and name.startswith(exc.name)):
                raise


load_task_modules()

# Operations: heartbeat beat entry, JSON logging, request ids into tasks, task metrics.
if "workers.ops" not in TASK_MODULES:
    TASK_MODULES.append("workers.ops")
    load_task_modules()
