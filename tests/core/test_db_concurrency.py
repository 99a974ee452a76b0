"""Readers never wait for readers or for the writer; writers never deadlock upgrading a read lock (both databases).

On SQLite every transaction used to begin IMMEDIATE, so a read queued behind every other read and write
(up to the 30 s busy timeout). Now read-only units (GET/HEAD requests, `session_scope(write=False)`) begin
deferred on a WAL snapshot; writing units still take the write lock up front; and a read-only unit cannot
write at all, so the lock-upgrade failure of a deferred transaction that later writes cannot happen.
"""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa

from market.core.db import ReadOnlyUnitOfWork, session_scope
from market.matching.models import SynonymGroup
from tests.listings.payloads import achievement_body

PROBE = sa.Table("perf_probe", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True), sa.Column("n", sa.Integer))
WAIT = 5.0  # far below SQLite's 30 s busy timeout: a reader that queued would miss it


@pytest.fixture
def probe(engine: sa.Engine) -> sa.Table:
    PROBE.create(engine)
    return PROBE


def _count(session) -> int:
    return session.execute(sa.select(sa.func.count()).select_from(PROBE)).scalar_one()


class HeldWrite:
    """A writing unit of work that has written (holds SQLite's write lock) until released."""

    def __init__(self) -> None:
        self.holding = threading.Event()
        self.release = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        try:
            with session_scope(write=True) as s:
                s.execute(PROBE.insert().values(n=1))
                self.holding.set()
                self.release.wait(WAIT * 3)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc
            self.holding.set()

    def __enter__(self) -> HeldWrite:
        self.thread.start()
        assert self.holding.wait(WAIT), "the writer could not start"
        assert self.error is None, self.error
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.thread.join(WAIT * 3)
        assert self.error is None, self.error


def _in_thread(fn) -> tuple[object, float]:
    """Run fn in another thread; its result and how long it took (fails if it does not finish in WAIT)."""
    out: dict[str, object] = {}

    def run() -> None:
        try:
            out["value"] = fn()
        except BaseException as exc:  # noqa: BLE001
            out["error"] = exc

    t0 = time.monotonic()
    thread = threading.Thread(target=run)
    thread.start()
    thread.join(WAIT)
    assert not thread.is_alive(), f"still waiting after {WAIT}s (queued behind a lock)"
    if "error" in out:
        raise out["error"]  # type: ignore[misc]
    return out["value"], time.monotonic() - t0


def test_readers_do_not_wait_for_each_other_nor_for_a_held_write(probe) -> None:
    with session_scope(write=False) as first:
        assert _count(first) == 0  # a read transaction is open and stays open
        with HeldWrite():
            value, seconds = _in_thread(lambda: _read_count())
            assert value == 0  # the writer's row is not committed yet
            assert seconds < 2
            assert _count(first) == 0
    assert _read_count() == 1


def _read_count() -> int:
    with session_scope(write=False) as s:
        return _count(s)


def test_a_writer_does_not_wait_for_open_readers(probe) -> None:
    with session_scope(write=False) as reader:
        assert _count(reader) == 0

        def write() -> int:
            with session_scope(write=True) as s:
                s.execute(PROBE.insert().values(n=2))
            return 1

        _, seconds = _in_thread(write)
        assert seconds < 2
    assert _read_count() == 1


def test_two_read_then_write_transactions_both_commit(probe) -> None:
    """The lock-upgrade deadlock: both read, then both write. Writers take the lock first, so both succeed."""
    both_read = threading.Barrier(2)
    errors: list[BaseException] = []

    def read_then_write() -> None:
        try:
            with session_scope(write=True) as s:
                seen = _count(s)
                try:
                    both_read.wait(1)  # on SQLite the second cannot get here before the first commits
                except threading.BrokenBarrierError:
                    pass
                s.execute(PROBE.insert().values(n=seen))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=read_then_write) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT * 2)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    assert _read_count() == 2


def test_a_read_only_unit_cannot_write(probe) -> None:
    with pytest.raises(ReadOnlyUnitOfWork):
        with session_scope(write=False) as s:
            s.execute(PROBE.insert().values(n=1))
    with pytest.raises(ReadOnlyUnitOfWork):
        with session_scope(write=False) as s:
            s.add(SynonymGroup(terms=["甲", "乙"]))
            s.flush()
    # Raw SQL is refused by the database itself (SQLite query_only, PostgreSQL READ ONLY transaction).
    with pytest.raises(sa.exc.DBAPIError):
        with session_scope(write=False) as s:
            s.execute(sa.text("INSERT INTO perf_probe (n) VALUES (1)"))
    # The pooled connection is writable again for the next writing unit.
    with session_scope(write=True) as s:
        s.execute(sa.text("INSERT INTO perf_probe (n) VALUES (1)"))
    assert _read_count() == 1


def test_api_reads_answer_while_a_write_is_held_and_concurrent_creates_all_succeed(client, world, probe) -> None:
    member = world.member()
    created = client.post("/api/v1/achievements", json=achievement_body(), headers=member.headers)
    assert created.status_code == 201, created.text
    listing_id = created.json()["id"]
    with HeldWrite():
        for path in ("/api/v1/achievements", f"/api/v1/achievements/{listing_id}"):
            response, seconds = _in_thread(lambda p=path: client.get(p, headers=member.headers))
            assert response.status_code == 200, response.text
            assert seconds < 2
    statuses: list[int] = []

    def create() -> None:
        statuses.append(
            client.post("/api/v1/achievements", json=achievement_body(), headers=member.headers).status_code
        )

    threads = [threading.Thread(target=create) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT * 4)
    assert statuses == [201] * 6


def test_a_get_that_writes_is_served_again_as_a_writer(client, world) -> None:
    """Subsidy policies install their shipped presets on first read: the GET is replayed as a writer, not a 500."""
    assert client.get("/api/v1/subsidies/policies").status_code == 401
    assert client.get("/api/v1/subsidies/policies", headers=world.member().headers).status_code == 403
    admin = world.bureau()
    first = client.get("/api/v1/subsidies/policies", headers=admin.headers)
    assert first.status_code == 200, first.text
    assert first.json()  # the presets, now stored
    assert client.get("/api/v1/subsidies/policies", headers=admin.headers).json() == first.json()
