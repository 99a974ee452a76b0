"""How units of work get their connection and their turn (market/core/db.py).

- SQLite: this process's writers wait their turn on a lock, not in SQLite's polling busy handler; a writer
  sends `BEGIN IMMEDIATE` only once the previous one has committed or rolled back, on every path out.
- PostgreSQL: a pooled connection is pinged only when it sat idle (not before every checkout, a round trip
  per request), and one the server dropped while idle is replaced without the caller noticing.

Ordering and counts, no timings (the join bounds only keep a broken build from hanging).
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
import sqlalchemy as sa

from market.core import db
from market.core.db import session_scope

PROBE = sa.Table("pool_probe", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True), sa.Column("n", sa.Integer))
JOIN = 20.0


@pytest.fixture
def sqlite_probe(sqlite_engine: sa.Engine) -> sa.Table:
    PROBE.create(sqlite_engine)
    return PROBE


def _log(engine: sa.Engine) -> list[tuple[str, str]]:
    """(thread name, what) for every BEGIN IMMEDIATE sent and every commit / rollback, in order."""
    log: list[tuple[str, str]] = []

    def statement(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        if sql.startswith("BEGIN IMMEDIATE"):
            log.append((threading.current_thread().name, "begin"))

    def commit(_conn: Any) -> None:
        log.append((threading.current_thread().name, "commit"))

    def rollback(_conn: Any) -> None:
        log.append((threading.current_thread().name, "rollback"))

    sa.event.listen(engine, "before_cursor_execute", statement)
    sa.event.listen(engine, "commit", commit)
    sa.event.listen(engine, "rollback", rollback)
    return log


def _writer(
    name: str,
    started: threading.Event | None = None,
    go: threading.Event | None = None,
    fail: bool = False,
    log: list[tuple[str, str]] | None = None,
):
    def run() -> None:
        try:
            with session_scope(write=True) as s:
                if log is not None:
                    log.append((name, "trying"))  # its first statement begins the transaction
                s.execute(PROBE.insert().values(n=1))
                if started is not None:
                    started.set()
                if go is not None:
                    assert go.wait(JOIN)
                if fail:
                    raise RuntimeError("rolled back on purpose")
        except RuntimeError:
            pass

    return threading.Thread(target=run, name=name)


def test_sqlite_writers_take_turns_in_the_process_not_in_the_busy_handler(sqlite_engine, sqlite_probe) -> None:
    engine = sqlite_engine  # SQLite's single writer: this queue exists on SQLite only
    log = _log(engine)
    holding, go = threading.Event(), threading.Event()
    first = _writer("first", holding, go, log=log)
    first.start()
    assert holding.wait(JOIN)
    waiting = [_writer(f"next-{i}", log=log) for i in range(3)]
    for t in waiting:
        t.start()
    for _ in range(int(JOIN / 0.05)):  # until all three are about to begin
        if sum(what == "trying" for _, what in log) == 4:
            break
        threading.Event().wait(0.05)
    threading.Event().wait(0.5)  # time enough to have sent BEGIN IMMEDIATE, had they not been queued
    # The waiting writers have not sent BEGIN IMMEDIATE (they would be polling SQLite's lock if they had).
    assert [who for who, what in log if what == "begin"] == ["first"]
    go.set()
    for t in [first, *waiting]:
        t.join(JOIN)
        assert not t.is_alive()
    begins = [(i, who) for i, (who, what) in enumerate(log) if what == "begin"]
    assert len(begins) == 4
    for (i, who), (j, _) in zip(begins, begins[1:], strict=False):
        # Between two BEGIN IMMEDIATEs, the first writer's transaction ended.
        assert (who, "commit") in log[i:j] or (who, "rollback") in log[i:j], log
    with session_scope(write=False) as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(PROBE)) == 4


def test_sqlite_a_rolled_back_or_failed_writer_hands_the_turn_on(sqlite_engine, sqlite_probe) -> None:
    # SQLite's single writer: this queue exists on SQLite only
    failing = _writer("failing", fail=True)
    failing.start()
    failing.join(JOIN)
    # A statement error inside a writing unit, then a plain commit: each next writer gets its turn.
    with pytest.raises(sa.exc.IntegrityError):
        with session_scope(write=True) as s:
            s.execute(PROBE.insert().values(id=1, n=1))
            s.execute(PROBE.insert().values(id=1, n=2))
    after = _writer("after")
    after.start()
    after.join(JOIN)
    assert not after.is_alive(), "the turn was never handed on"
    with session_scope(write=False) as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(PROBE)) == 1


@pytest.fixture
def pings(pg_engine: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    count: list[int] = []
    real = pg_engine.dialect.do_ping

    def counting(dbapi_connection: Any) -> bool:
        count.append(1)
        return real(dbapi_connection)

    monkeypatch.setattr(pg_engine.dialect, "do_ping", counting)
    return count


def _backend_pid() -> int:
    with session_scope(write=False) as s:
        return int(s.scalar(sa.text("SELECT pg_backend_pid()")))


def test_postgresql_a_connection_used_a_moment_ago_is_not_pinged(pg_engine, pings) -> None:
    pids = {_backend_pid() for _ in range(5)}
    assert len(pids) == 1  # the same pooled connection each time
    assert pings == []


def test_postgresql_an_idle_connection_the_server_dropped_is_replaced(
    pg_engine, pings, postgres_server, monkeypatch
) -> None:
    old = _backend_pid()
    admin = sa.create_engine(postgres_server, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    with admin.connect() as conn:
        assert conn.scalar(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": old})
    admin.dispose()
    monkeypatch.setattr(db, "PING_WHEN_IDLE_FOR", 0.0)  # it has now been idle long enough to be pinged
    new = _backend_pid()  # no error: the ping failed, the pool opened a new connection
    assert new != old
    assert len(pings) == 1
