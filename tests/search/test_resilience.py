"""Never lose a write: Meilisearch down, a worker killed mid-batch, the Celery path end to end (real services)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
import sqlalchemy as sa

from market.core.db import session_scope
from market.core.outbox import OutboxEvent
from market.core.vocab import OrgKind
from market.matching import indexing
from search import runtime
from search.settings import index_uid
from tests.search.conftest import drain, ids, post
from tests.services import engine_url, wait_until


def _indexed_ids(kind: str = "achievement") -> set[int]:
    hits = runtime.get_client().search(index_uid(kind), {"q": "", "limit": 1000, "attributesToRetrieve": ["id"]})
    return {h["id"] for h in hits["hits"]}


def _pending() -> int:
    with session_scope() as s:
        return s.scalar(
            sa.select(sa.func.count()).where(OutboxEvent.topic == indexing.TOPIC, OutboxEvent.processed_at.is_(None))
        )


def test_writes_survive_meilisearch_outage_and_index_converges(pg_client, pg_world, meili, meili_server):
    inst = pg_world.member(OrgKind.institute)
    before = post(pg_client, inst, "achievement")
    drain()
    meili_server.stop()
    try:
        # writes still succeed while the engine is down …
        during = [post(pg_client, inst, "achievement", title=f"锂离子电池隔膜涂层 {i}") for i in range(5)]
        # … search says so with a clear code …
        r = pg_client.get("/api/v1/search", params={"kind": "achievement", "q": "电池"})
        assert r.status_code == 503 and r.json()["error"]["code"] == "search_unavailable"
        assert pg_client.get(f"/api/v1/match/achievement/{before}").status_code == 503
        # … and the drain keeps every row, with the error and a backoff
        result = indexing.drain_once(runtime.get_client(), _extractor())
        assert result.error and result.processed == 0
        with session_scope() as s:
            rows = s.scalars(
                sa.select(OutboxEvent).where(OutboxEvent.topic == indexing.TOPIC, OutboxEvent.processed_at.is_(None))
            ).all()
            assert len(rows) == 10 and all(r.last_error and r.attempts == 1 for r in rows)
    finally:
        meili_server.start()
    wait_until(lambda: (drain(), _pending() == 0)[1], timeout=60, interval=0.5)
    assert _indexed_ids() == {before, *during}


def _extractor():
    from market.matching import synonyms

    with session_scope() as s:
        return synonyms.current_extractor(s)


KILLED_WORKER = textwrap.dedent(
    """
    import os, signal
    from market.core.db import create_db_engine, set_engine, session_scope
    from market.matching import synonyms
    from market.matching import indexing
    from search import runtime
    from search.client import MeiliClient
    from search.settings import index_uid
    import datetime as dt

    set_engine(create_db_engine(os.environ["DB"]))
    runtime.configure(MeiliClient(os.environ["MEILI"], os.environ["KEY"]), os.environ["PREFIX"])
    claimed = indexing.claim_batch(limit=3, lease=dt.timedelta(seconds=float(os.environ["LEASE"])))
    with session_scope() as s:
        ex = synonyms.current_extractor(s)
        docs = {k: indexing.load_documents(s, k, ids, ex) for k, ids in claimed.entities.items()}
    client = runtime.get_client()
    for kind, by_id in docs.items():  # half-done: sent, never waited for, never marked
        client.add_documents(index_uid(kind), [d for d in by_id.values() if d][:1])
    print(len(claimed.ids), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


def test_worker_killed_mid_batch_loses_nothing(pg_client, pg_world, pg_engine, meili, meili_server, meili_app_key):
    inst = pg_world.member(OrgKind.institute)
    listing_ids = [post(pg_client, inst, "achievement", title=f"钙钛矿光伏组件封装 {i}") for i in range(4)]
    env = {
        **os.environ,
        "DB": engine_url(pg_engine),
        "MEILI": meili_server.url,
        "KEY": meili_app_key,
        "PREFIX": runtime.index_prefix(),
        "LEASE": "3",
    }
    proc = subprocess.run([sys.executable, "-c", KILLED_WORKER], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == -9, proc.stderr
    assert proc.stdout.strip() == "3"  # it held three rows when it died
    # the leased rows are invisible to other drainers until the lease runs out …
    first = indexing.drain_once(runtime.get_client(), _extractor())
    assert first.processed == 5 and _pending() == 3
    # … then they come back, and everything reaches the index
    wait_until(lambda: (drain(), _pending() == 0)[1], timeout=30, interval=0.5)
    assert _indexed_ids() == set(listing_ids)


@pytest.mark.slow
def test_celery_worker_drains_after_commit_and_a_killed_worker_is_replaced(pg_client, pg_world, meili, celery_worker):
    import workers.search  # noqa: F401 - registers the after-commit nudger in this process

    lease = {"MARKET_SEARCH_LEASE_SECONDS": "3"}
    worker = celery_worker(extra_env=lease)
    inst = pg_world.member(OrgKind.institute)
    first = post(pg_client, inst, "achievement")
    wait_until(lambda: first in _indexed_ids(), timeout=60)
    worker.kill()
    # Redis and the worker gone for this write: the outbox keeps it; a new worker catches up
    second = post(pg_client, inst, "achievement", title="固态电解质薄膜制备")
    assert second not in _indexed_ids()
    celery_worker(extra_env=lease)
    from workers.search import drain_search_index

    drain_search_index.apply_async(retry=False)  # what the beat entry sends every 30 s
    wait_until(lambda: second in _indexed_ids(), timeout=60)
    wait_until(lambda: _pending() == 0, timeout=30)
    assert ids(pg_client.get("/api/v1/search", params={"kind": "achievement", "q": "固态电解质"})) == [second]
