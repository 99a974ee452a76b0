"""Work for the worker, sent by task name: `market` never imports `workers` (polar's worker/_enqueue.py does the same).

Both sides share the one Celery app made here: the worker registers its tasks on it (workers/app.py), the
API and the CLI only send to it. Nudges go through outbox.route(), after the commit, off the request's thread.
"""

from __future__ import annotations

from celery import Celery

from market.core.config import get_settings
from market.core.logging import request_id_var


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


def send(task_name: str, queue: str) -> None:
    """Send the task `task_name` (no arguments: the tasks drain durable rows) with this request's id."""
    rid = request_id_var.get()
    celery_app.send_task(task_name, queue=queue, retry=False, headers={"request_id": rid} if rid else None)
