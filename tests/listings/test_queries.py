"""What a hot listing request costs: the SQL it sends and its trips to the worker threads (both databases).

No timings: these count statements (an engine event listener) and worker-thread trips (a counting wrapper
around anyio's), which is what the load benchmark (bench/load.py) showed to matter and what silently grows
when someone adds a query per row or a sync dependency.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import anyio.to_thread
import pytest
import sqlalchemy as sa

from market.core.vocab import OrgKind
from tests.listings.payloads import achievement_body

CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "PRAGMA")


@contextmanager
def statements(engine: sa.Engine) -> Iterator[list[str]]:
    """The statements sent while the block runs (COMMIT / ROLLBACK included), normalised to one line each."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(" ".join(statement.split()))

    def commit(_conn: Any) -> None:
        seen.append("COMMIT")

    def rollback(_conn: Any) -> None:
        seen.append("ROLLBACK")

    listeners = (("before_cursor_execute", record), ("commit", commit), ("rollback", rollback))
    for name, fn in listeners:
        sa.event.listen(engine, name, fn)
    try:
        yield seen
    finally:
        for name, fn in listeners:
            sa.event.remove(engine, name, fn)


def queries(seen: list[str]) -> list[str]:
    return [s for s in seen if not s.startswith(CONTROL)]


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the callables each request sends to the worker threads (anyio.to_thread.run_sync)."""
    sent: list[str] = []
    real = anyio.to_thread.run_sync

    async def counting(func: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(getattr(func, "__qualname__", repr(func)))
        return await real(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counting)
    return sent


def _publish(client, member, n: int) -> list[int]:
    ids = []
    for i in range(n):
        r = client.post(
            "/api/v1/achievements", json=achievement_body(title=f"钙钛矿叠层电池 {i} 号"), headers=member.headers
        )
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
        r = client.post(
            f"/api/v1/achievements/{ids[-1]}/transitions", json={"action": "publish"}, headers=member.headers
        )
        assert r.status_code == 200, r.text
    return ids


LIST = {"technical_field": "new_energy", "status": "published", "region_code": "330000", "page_size": 20}


def test_a_list_is_a_count_and_one_page_select_however_many_rows(client, world, engine, trips):
    uni = world.member(OrgKind.university)
    _publish(client, uni, 2)
    with statements(engine) as few:
        r = client.get("/api/v1/achievements", params=LIST)
    assert r.status_code == 200 and r.json()["total"] == 2
    _publish(client, uni, 5)
    trips.clear()
    with statements(engine) as many:
        r = client.get("/api/v1/achievements", params=LIST)
    assert r.status_code == 200 and r.json()["total"] == 7 and len(r.json()["items"]) == 7
    # count(*), the page and the page's finished evaluations (achievements show theirs); nothing per row
    assert len(queries(many)) == len(queries(few)) == 3, many
    assert queries(many)[0].startswith("SELECT count(*)")
    assert "FROM evaluations" in queries(many)[2]
    assert many.count("COMMIT") == 1
    assert len(trips) == 1, trips  # the whole unit of work in one trip to the worker threads


def test_a_list_with_a_token_adds_one_credential_select(client, world, engine, trips):
    uni = world.member(OrgKind.university)
    _publish(client, uni, 3)
    trips.clear()
    with statements(engine) as seen:
        r = client.get("/api/v1/achievements", params=LIST, headers=uni.headers)
    assert r.status_code == 200 and r.json()["total"] == 3
    assert len(queries(seen)) == 4, seen
    assert "credentials" in queries(seen)[0]
    assert len(trips) == 1, trips


def test_a_get_is_the_listing_and_its_evaluation(client, world, engine, trips):
    uni = world.member(OrgKind.university)
    (listing_id,) = _publish(client, uni, 1)
    trips.clear()
    with statements(engine) as seen:
        r = client.get(f"/api/v1/achievements/{listing_id}")
    assert r.status_code == 200 and r.json()["id"] == listing_id
    # the achievement, then its latest finished evaluation
    assert len(queries(seen)) == 2 and "FROM achievements" in queries(seen)[0], seen
    assert "FROM evaluations" in queries(seen)[1], seen
    assert len(trips) == 1, trips


def test_a_create_is_the_credential_and_three_inserts_in_one_trip(client, world, engine, trips):
    uni = world.member(OrgKind.university)
    trips.clear()
    with statements(engine) as seen:
        r = client.post("/api/v1/achievements", json=achievement_body(), headers=uni.headers)
    assert r.status_code == 201, r.text
    sent = queries(seen)
    assert "credentials" in sent[0] and len(sent) == 4, seen
    assert [s.split()[2] for s in sent[1:]] == ["achievements", "audit_log", "outbox"]
    assert seen.count("COMMIT") == 1
    assert len(trips) == 1, trips


def test_the_one_trip_keeps_errors_and_access_as_they_were(client, world):
    """Moving the work into one trip changes nobody's access: anonymous creates, drafts, bad filters."""
    uni = world.member(OrgKind.university)
    r = client.post("/api/v1/achievements", json=achievement_body())
    assert r.status_code == 401 and r.json()["error"]["code"] and r.headers.get("www-authenticate") == "Bearer"
    r = client.post("/api/v1/achievements", json=achievement_body(), headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_token"
    draft = client.post("/api/v1/achievements", json=achievement_body(), headers=uni.headers).json()
    assert client.get(f"/api/v1/achievements/{draft['id']}").status_code == 404  # a draft, to the public
    assert client.get(f"/api/v1/achievements/{draft['id']}", headers=uni.headers).json()["id"] == draft["id"]
    listed = client.get("/api/v1/achievements", headers=uni.headers).json()
    assert [i["id"] for i in listed["items"]] == [draft["id"]]  # own drafts listed for the owner …
    assert client.get("/api/v1/achievements").json()["total"] == 0  # … and for nobody else
    r = client.get("/api/v1/achievements", params={"min_price": "9", "max_price": "1"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_range"
    r = client.get("/api/v1/achievements", params={"sort": "colour"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_sort"
    assert client.get("/api/v1/demands/999999").json()["error"]["code"] == "listing_not_found"
