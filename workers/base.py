"""The one task decorator: explicit dotted name, queue, retry with backoff, timing log."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger("market.tasks")


def task(name: str, *, queue: str = "default", max_retries: int = 8, **options: Any) -> Callable:
    """Register fn as Celery task `name`; transient failures retry with exponential backoff."""
    from workers.app import celery_app

    def decorate(fn: Callable) -> Any:
        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                log.info("task %s took %.3fs", name, time.perf_counter() - started)

        return celery_app.task(
            name=name,
            queue=queue,
            bind=False,
            autoretry_for=(Exception,),
            retry_backoff=True,
            retry_backoff_max=300,
            retry_jitter=True,
            max_retries=max_retries,
            **options,
        )(run)

    return decorate


def add_beat(name: str, task_name: str, seconds: float, queue: str = "default") -> None:
    """Add a periodic entry to the beat schedule."""
    from workers.app import celery_app

    celery_app.conf.beat_schedule[name] = {"task": task_name, "schedule": seconds, "options": {"queue": queue}}
