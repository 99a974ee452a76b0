"""Logging set up once for the API and the worker: JSON lines carrying the request id that caused them.

The request id comes from the incoming X-Request-ID (or is generated), is echoed in the response,
travels into every Celery task the request sends (a task header) and is set again while that task runs.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
import time
import uuid
from contextvars import ContextVar

from pythonjsonlogger.json import JsonFormatter

REQUEST_ID_HEADER = "X-Request-ID"
request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
# What we accept from a client as its request id: short, printable, no log injection.
_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

_configured = False


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = request_id_var.get()
        return True


def formatter() -> logging.Formatter:
    """JSON lines (default) or text (MARKET_LOG_FORMAT=text), both with the request id."""
    if os.environ.get("MARKET_LOG_FORMAT", "json") == "text":
        return logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
    return JsonFormatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        json_ensure_ascii=False,
    )


def uvicorn_log_config(level: str | None = None) -> dict:
    """The same logging for uvicorn, which applies it in each of its worker processes."""
    level = (level or os.environ.get("MARKET_LOG_LEVEL") or "INFO").upper()
    quiet = {"handlers": [], "propagate": True}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "market.core.logging.RequestIdFilter"}},
        "formatters": {"market": {"()": "market.core.logging.formatter"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "market",
                "filters": ["request_id"],
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            "uvicorn": quiet,
            "uvicorn.error": quiet,
            "uvicorn.access": quiet,
            # one INFO line per Meilisearch request would drown the log, as in configure_logging
            **{name: {"level": max(logging.getLevelName(level), logging.WARNING)} for name in ("httpx", "httpcore")},
        },
    }


def configure_logging(level: str | None = None, *, stream=None, force: bool = False) -> None:
    """Root logger → one handler writing JSON lines (MARKET_LOG_FORMAT=text for a terminal); idempotent."""
    global _configured
    if _configured and not force:
        return
    level = (level or os.environ.get("MARKET_LOG_LEVEL") or "INFO").upper()
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # uvicorn's and celery's own loggers go through the root handler (one format for everything).
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "celery", "celery.task", "celery.worker"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    # every Meilisearch call is an httpx request: one INFO line each would drown the log (our own lines say
    # what failed); warnings still come through
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    _configured = True


def new_request_id(incoming: str | None = None) -> str:
    """The client's id if it is a sane one, else a fresh one."""
    if incoming and _VALID_ID.match(incoming):
        return incoming
    return uuid.uuid4().hex


class OncePerOutage:
    """Log a dependency failure once, then at most every `every` seconds, and its recovery once."""

    def __init__(self, logger: logging.Logger, what: str, every: float = 60.0) -> None:
        self.logger, self.what, self.every = logger, what, every
        self._down_since: float | None = None
        self._last = 0.0
        self._suppressed = 0
        self._lock = threading.Lock()

    def failed(self, exc: BaseException) -> None:
        now = time.monotonic()
        with self._lock:
            first = self._down_since is None
            if first:
                self._down_since = now
            if first or now - self._last >= self.every:
                suppressed, self._suppressed, self._last = self._suppressed, 0, now
            else:
                self._suppressed += 1
                return
        self.logger.warning(
            "%s unavailable: %s: %s%s",
            self.what,
            type(exc).__name__,
            str(exc).splitlines()[0] if str(exc) else "",
            f" ({suppressed} more failures not logged)" if suppressed else "",
        )

    def ok(self) -> None:
        with self._lock:
            if self._down_since is None:
                return
            down, self._down_since = time.monotonic() - self._down_since, None
        self.logger.warning("%s available again after %.1fs", self.what, down)
