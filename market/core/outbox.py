"""Transactional outbox: intents written in the same transaction as the data they follow.

A row here means "something outside the database (search index, webhook, a computation, …) must
happen about entity X". Workers drain it; a beat entry drains every topic on a schedule, so
nothing is lost if Redis, the worker or the target is down. The post-commit nudge only makes it
sooner: it is handed to one background thread and never delays or fails the write.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column

from market.core.db import (
    Base,
    BigIntPK,
    IdMixin,
    JSONType,
    UTCDateTime,
    after_commit,
    is_sqlite,
    session_scope,
    utcnow,
)

log = logging.getLogger(__name__)


class OutboxEvent(IdMixin, Base):
    __tablename__ = "outbox"
    __table_args__ = (sa.Index("ix_outbox_pending", "topic", "processed_at", "available_at"),)

    topic: Mapped[str] = mapped_column(sa.String(60))
    entity_type: Mapped[str] = mapped_column(sa.String(40))
    entity_id: Mapped[int] = mapped_column(BigIntPK)
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    available_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    processed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text)


# A listing or an open call changed what search must show: written by the domain with the change, drained into
# Meilisearch by market/matching/indexing.py.
SEARCH_INDEX = "search.index"

# topic -> callable run after commit to nudge a drainer (see route(); a no-op if unset).
_nudgers: dict[str, Any] = {}


def register_nudger(topic: str, nudge: Any) -> None:
    _nudgers[topic] = nudge


def route(topic: str, task_name: str, queue: str) -> None:
    """Nudge `topic`'s drainer by sending the worker's task `task_name` (by name: market never imports workers)."""

    def nudge() -> None:
        from market.core import queue as tasks

        tasks.send(task_name, queue)

    register_nudger(topic, nudge)


def emit(session: Session, topic: str, entity_type: str, entity_id: int, payload: dict[str, Any] | None = None) -> None:
    """Record an intent in the caller's transaction and nudge the drainer once it commits."""
    session.add(OutboxEvent(topic=topic, entity_type=entity_type, entity_id=entity_id, payload=payload))
    nudge_after_commit(session, topic)


def nudge_after_commit(session: Session, topic: str) -> None:
    """Nudge `topic`'s drainer once the caller's transaction commits (once per transaction and topic)."""
    if topic in _nudgers and not session.info.get(f"nudge:{topic}"):
        session.info[f"nudge:{topic}"] = True

        def _send() -> None:
            session.info.pop(f"nudge:{topic}", None)
            nudger.request(topic)

        after_commit(session, _send)


# -- the nudge: best effort, off the request's thread ------------------------------------------


class Nudger:
    """One daemon thread sends nudges; a write only marks its topic (microseconds, no connection held).

    Requests for the same topic coalesce. A failing nudge is logged once per outage (a warning on
    the first failure, an info line on recovery), and while the broker is down further nudges are
    skipped for `quiet` seconds: the beat entry drains the outbox anyway.
    """

    def __init__(self, quiet: float = 5.0) -> None:
        self.quiet = quiet
        self._wanted: dict[str, contextvars.Context] = {}  # topic → the latest requester's context
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._busy = False
        self.down_since: float | None = None
        self._skip_until = 0.0

    def request(self, topic: str) -> None:
        with self._cond:
            self._wanted[topic] = contextvars.copy_context()  # its request id reaches the task's headers
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="outbox-nudger", daemon=True)
                self._thread.start()
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._wanted:
                    self._cond.wait()
                topics, self._wanted = sorted(self._wanted.items()), {}
                self._busy = True
            try:
                for topic, context in topics:
                    context.run(self._send, topic)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _send(self, topic: str) -> None:
        nudge = _nudgers.get(topic)
        if nudge is None or time.monotonic() < self._skip_until:
            return
        try:
            nudge()
        except Exception as exc:  # noqa: BLE001 - a nudge is best effort; the beat sweep catches up
            self._skip_until = time.monotonic() + self.quiet
            if self.down_since is None:
                self.down_since = time.monotonic()
                log.warning(
                    "cannot nudge the workers (%s: %s); the scheduled sweep will catch up", type(exc).__name__, exc
                )
            return
        if self.down_since is not None:
            log.info("nudging the workers works again (after %.0f s)", time.monotonic() - self.down_since)
            self.down_since = None

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until every requested nudge has been tried (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._wanted or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def reset(self) -> None:
        self.down_since, self._skip_until = None, 0.0


nudger = Nudger()


# -- claiming rows: one way for every drainer ---------------------------------------------------


@dataclass
class Claimed:
    ids: list[int] = field(default_factory=list)
    entities: dict[str, set[int]] = field(default_factory=dict)
    attempts: dict[int, int] = field(default_factory=dict)
    rows: list[tuple[int, str, int, dict[str, Any] | None]] = field(default_factory=list)  # id, type, entity, payload


def claim(topic: str, limit: int, lease: dt.timedelta) -> Claimed:
    """Take up to `limit` due rows of `topic` and push their availability past the lease (committed at once).

    A drainer killed mid-work leaves its rows to reappear when the lease runs out.
    """
    with session_scope() as session:
        now = utcnow()
        stmt = (
            sa.select(OutboxEvent)
            .where(OutboxEvent.topic == topic, OutboxEvent.processed_at.is_(None), OutboxEvent.available_at <= now)
            .order_by(OutboxEvent.id)
            .limit(limit)
        )
        if not is_sqlite(session):
            stmt = stmt.with_for_update(skip_locked=True)
        claimed = Claimed()
        for row in session.scalars(stmt).all():
            row.available_at = now + lease
            row.attempts = (row.attempts or 0) + 1
            claimed.ids.append(row.id)
            claimed.attempts[row.id] = row.attempts
            claimed.entities.setdefault(row.entity_type, set()).add(row.entity_id)
            claimed.rows.append((row.id, row.entity_type, row.entity_id, row.payload))
        return claimed


def backoff(attempts: int) -> dt.timedelta:
    """2 s, 4 s, 8 s … capped at 5 minutes."""
    return dt.timedelta(seconds=min(2 ** max(attempts, 1), 300))


def settle(done: list[int], failed: dict[int, str] | None = None) -> None:
    """Mark rows processed, and put failed ones back after a backoff with their error."""
    failed = failed or {}
    with session_scope() as session:
        now = utcnow()
        ids = [*done, *failed]
        for row in session.scalars(sa.select(OutboxEvent).where(OutboxEvent.id.in_(ids))).all() if ids else []:
            if row.id in failed:
                row.available_at = now + backoff(row.attempts)
                row.last_error = failed[row.id][:2000]
            else:
                row.processed_at, row.last_error = now, None


def drain_topic(
    topic: str,
    handle: Callable[[str, int, dict[str, Any] | None], None],
    *,
    limit: int = 50,
    lease: dt.timedelta = dt.timedelta(minutes=15),
    max_batches: int = 100,
) -> dict[str, int]:
    """Run `handle(entity_type, entity_id, payload)` for each due row, one row at a time, until none is due.

    A row whose handler raises comes back after a backoff; the error stays on the row.
    """
    counts = {"processed": 0, "failed": 0}
    for _ in range(max_batches):
        claimed = claim(topic, limit, lease)
        if not claimed.ids:
            break
        for row_id, entity_type, entity_id, payload in claimed.rows:
            try:
                handle(entity_type, entity_id, payload)
            except Exception as exc:  # noqa: BLE001 - kept on the row, retried after a backoff
                log.warning("%s for %s %s failed: %s: %s", topic, entity_type, entity_id, type(exc).__name__, exc)
                settle([], {row_id: f"{type(exc).__name__}: {exc}"})
                counts["failed"] += 1
            else:
                settle([row_id])
                counts["processed"] += 1
    return counts


def prune(session: Session, older_than: dt.timedelta) -> int:
    """Delete processed rows older than `older_than` (pending and failing rows always stay)."""
    cutoff = utcnow() - older_than
    result = session.execute(
        sa.delete(OutboxEvent).where(OutboxEvent.processed_at.is_not(None), OutboxEvent.processed_at < cutoff)
    )
    return result.rowcount or 0
