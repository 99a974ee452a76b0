"""Synonyms (bureau-edited, used for query expansion at once), saved searches, the inbox and signed webhooks, per role."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sqlalchemy as sa

from market.accounts.roles import Role
from market.core.db import session_scope
from market.core.outbox import OutboxEvent
from market.core.vocab import OrgKind
from market.matching import flows, notifications, saved_searches
from search import runtime
from tests.search.conftest import drain, ids, post


@pytest.fixture
def people(pg_world):
    return {
        "institute": pg_world.member(OrgKind.institute, region_code="330203"),
        "firm": pg_world.member(OrgKind.enterprise, region_code="330212"),
        "broker": pg_world.member(OrgKind.intermediary, Role.member),
        "bureau": pg_world.bureau(Role.bureau_admin),
        "registrar": pg_world.bureau(Role.registrar),
    }


def test_synonyms_are_seeded_listed_and_edited_only_by_bureau(pg_client, meili, people):
    r = pg_client.get("/api/v1/synonyms", params={"page_size": 5})
    assert r.status_code == 200 and r.json()["total"] >= 200
    assert any("锂电" in g["terms"] for g in pg_client.get("/api/v1/synonyms", params={"term": "锂电"}).json()["items"])
    body = {"terms": ["甬江实验室", "YJL"]}
    assert pg_client.post("/api/v1/synonyms", json=body).status_code == 401
    assert pg_client.post("/api/v1/synonyms", json=body, headers=people["firm"].headers).status_code == 403
    r = pg_client.post("/api/v1/synonyms", json={"terms": ["同一个", "同一个"]}, headers=people["bureau"].headers)
    assert r.status_code == 422 and r.json()["error"]["code"] == "synonyms_too_few"

    inst = people["institute"]
    listing = post(
        pg_client, inst, "achievement", title="甬江实验室柔性电子材料", summary="柔性电子印刷墨水与器件技术成果。"
    )
    drain()
    assert ids(pg_client.get("/api/v1/search", params={"kind": "achievement", "q": "YJL"})) == []
    r = pg_client.post("/api/v1/synonyms", json=body, headers=people["registrar"].headers)
    assert r.status_code == 201, r.text
    group_id = r.json()["id"]
    # the dictionary is reloaded after commit and used for query expansion at once
    assert ids(pg_client.get("/api/v1/search", params={"kind": "achievement", "q": "YJL"})) == [listing]
    r = pg_client.put(
        f"/api/v1/synonyms/{group_id}", json={"terms": ["甬江实验室", "甬江"]}, headers=people["bureau"].headers
    )
    assert r.status_code == 200 and r.json()["terms"] == ["甬江实验室", "甬江"]
    assert pg_client.delete(f"/api/v1/synonyms/{group_id}", headers=people["firm"].headers).status_code == 403
    assert pg_client.delete(f"/api/v1/synonyms/{group_id}", headers=people["bureau"].headers).status_code == 204
    assert pg_client.put(f"/api/v1/synonyms/{group_id}", json=body, headers=people["bureau"].headers).status_code == 404


def test_a_new_dictionary_term_reindexes_the_listings_that_use_it(pg_client, meili, people):
    # The demand says 犯困 (no dictionary term), the achievement says 疲劳识别; neither side's indexed terms link them.
    inst, firm, bureau = people["institute"], people["firm"], people["bureau"]
    achievement = post(
        pg_client,
        inst,
        "achievement",
        title="驾驶员疲劳识别装置",
        keywords=["疲劳识别"],
        summary="近红外摄像头提取眼睑闭合度，实时识别驾驶员疲劳并声光提醒。",
        technical_field="modern_transport",
    )
    other = post(
        pg_client,
        inst,
        "achievement",
        title="公交客流统计方法",
        keywords=["客流"],
        summary="刷卡数据推算线路客流。",
        technical_field="modern_transport",
    )
    demand = post(
        pg_client,
        firm,
        "demand",
        title="公交司机开车犯困",
        keywords=["犯困"],
        description="夜班司机容易犯困，想装提醒装置。",
        technical_field="modern_transport",
    )
    drain()

    def matched_terms() -> list[str]:
        r = pg_client.get(f"/api/v1/match/demand/{demand}")
        assert r.status_code == 200, r.text
        return next((i["matched_terms"] for i in r.json()["items"] if i["listing"]["id"] == achievement), [])

    assert "疲劳识别" not in matched_terms()
    r = pg_client.post("/api/v1/synonyms", json={"terms": ["疲劳识别", "驾驶员疲劳", "犯困"]}, headers=bureau.headers)
    assert r.status_code == 201, r.text
    with session_scope() as s:  # queued in the edit's own transaction: the listings using a new term, no other
        queued = {
            (e.entity_type, e.entity_id)
            for e in s.scalars(
                sa.select(OutboxEvent).where(OutboxEvent.topic == "search.index", OutboxEvent.processed_at.is_(None))
            )
        }
    assert queued == {("achievement", achievement), ("demand", demand)} and ("achievement", other) not in queued
    drain()
    assert "疲劳识别" in matched_terms()


class Receiver:
    """A real HTTP endpoint on loopback that records what it gets and answers with a configurable status."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.status = 200
        self.delay = 0.0  # seconds before answering (a slow receiver)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.requests.append((dict(self.headers), body))
                time.sleep(outer.delay)
                self.send_response(outer.status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def allow_loopback_webhooks(monkeypatch):
    from market.core.config import get_settings

    monkeypatch.setenv("MARKET_WEBHOOK_ALLOW_PRIVATE_TARGETS", "true")
    get_settings.cache_clear()
    yield
    monkeypatch.delenv("MARKET_WEBHOOK_ALLOW_PRIVATE_TARGETS")
    get_settings.cache_clear()


@pytest.fixture
def receiver(allow_loopback_webhooks):
    r = Receiver()
    yield r
    r.close()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://10.1.2.3/x",
        "http://169.254.169.254/latest",
        "http://[::1]/x",
        "ftp://example.com/x",
        "not a url",
        # every IPv6 spelling of an internal address, and IPv4 ones getaddrinfo accepts
        "http://[::127.0.0.1]/x",
        "http://[::ffff:127.0.0.1]/x",
        "http://[::ffff:7f00:1]/x",
        "http://[::]/x",
        "http://[2002:7f00:1::1]/x",
        "http://[2002:c0a8:0101::1]/x",
        "http://[2002:a9fe:a9fe::]/x",
        "http://[64:ff9b::127.0.0.1]/x",
        "http://[64:ff9b::10.0.0.1]/x",
        "http://[64:ff9b::a9fe:a9fe]/x",
        "http://[64:ff9b:1::8.8.8.8]/x",
        "http://[fe80::1]/x",
        "http://[fc00::1]/x",
        "http://[fd12:3456::1]/x",
        "http://[ff02::1]/x",
        "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/x",
        "http://0.0.0.0/x",
        "http://2130706433/x",
        "http://0x7f.1/x",
        "http://127.1/x",
        "http://[::ffff:10.0.0.1]:8080/x",
    ],
)
def test_webhooks_to_internal_addresses_are_refused(pg_client, people, url):
    r = pg_client.post("/api/v1/webhooks", json={"url": url}, headers=people["firm"].headers)
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_webhook_url", r.text
    message = json.dumps(r.json())
    for resolved in ("127.0.0.1", "::1", "7f00", "10.0.0.1", "169.254"):  # the resolved address is never echoed
        assert resolved not in message or resolved in url, message


def _notify(kind: str, listing_id: int) -> list[int]:
    with session_scope() as s:
        created = saved_searches.notify_for_listing(s, kind, listing_id)
        return notifications.pending_deliveries(s, created)


def test_saved_searches_notify_inbox_and_signed_webhook(pg_client, meili, people, receiver):
    firm, inst, broker = people["firm"], people["institute"], people["broker"]
    demand = post(pg_client, firm, "demand")
    drain()
    assert (
        pg_client.post(
            "/api/v1/saved-searches", json={"name": "x", "target": "achievement", "query": "锂电"}
        ).status_code
        == 401
    )
    r = pg_client.post(
        "/api/v1/saved-searches",
        json={"name": "我的需求的匹配", "source_type": "demand", "source_id": demand, "min_score": 40},
        headers=firm.headers,
    )
    assert r.status_code == 201, r.text
    assert r.json()["target"] == "achievement"
    r = pg_client.post(
        "/api/v1/saved-searches",
        json={"name": "锂电成果", "target": "achievement", "query": "锂电", "filters": {"region_code": "330200"}},
        headers=broker.headers,
    )
    assert r.status_code == 201, r.text
    assert (
        pg_client.post(
            "/api/v1/saved-searches",
            json={"name": "bad", "target": "achievement", "query": " "},
            headers=broker.headers,
        ).json()["error"]["code"]
        == "query_required"
    )
    hook = pg_client.post("/api/v1/webhooks", json={"url": receiver.url}, headers=firm.headers)
    assert hook.status_code == 201
    secret, hook_id = hook.json()["secret"], hook.json()["id"]

    fits = post(pg_client, inst, "achievement")
    unrelated = post(
        pg_client,
        inst,
        "achievement",
        title="水稻赤眼蜂生物防治",
        technical_field="agriculture",
        summary="释放赤眼蜂防治水稻螟虫的技术。",
        keywords=["赤眼蜂"],
    )
    drain()
    deliveries = _notify("achievement", fits)
    assert _notify("achievement", unrelated) == []
    assert _notify("achievement", fits) == []  # once per search and listing

    firm_inbox = pg_client.get("/api/v1/inbox", headers=firm.headers).json()
    assert [n["listing_id"] for n in firm_inbox["items"]] == [fits]
    assert (
        firm_inbox["items"][0]["detail"]["score"] >= 0.4
        and "锂离子电池" in firm_inbox["items"][0]["detail"]["matched_terms"]
    )
    broker_inbox = pg_client.get("/api/v1/inbox", headers=broker.headers).json()
    assert [n["listing_id"] for n in broker_inbox["items"]] == [fits]
    assert pg_client.get("/api/v1/inbox", headers=inst.headers).json()["items"] == []
    note_id = firm_inbox["items"][0]["id"]
    assert pg_client.post(f"/api/v1/inbox/{note_id}/read", headers=broker.headers).status_code == 404
    assert pg_client.post(f"/api/v1/inbox/{note_id}/read", headers=firm.headers).json()["read_at"]
    assert pg_client.get("/api/v1/inbox", params={"unread": True}, headers=firm.headers).json()["total"] == 0

    # webhook: first attempt fails (receiver down with 500) and is logged; the retry succeeds, signed
    assert len(deliveries) == 1
    receiver.status = 500
    assert flows.deliver_webhook(deliveries[0]) == "retrying"
    receiver.status = 204
    assert flows.deliver_webhook(deliveries[0]) == "delivered"
    assert flows.deliver_webhook(deliveries[0]) == "skipped"  # idempotent
    log = pg_client.get(f"/api/v1/webhooks/{hook_id}/deliveries", headers=firm.headers).json()
    assert log[0]["status"] == "delivered" and log[0]["attempts"] == 2 and log[0]["last_status_code"] == 204
    assert pg_client.get(f"/api/v1/webhooks/{hook_id}/deliveries", headers=broker.headers).status_code == 404
    headers, body = receiver.requests[-1]
    t, v1 = (part.split("=", 1)[1] for part in headers["X-Market-Signature"].split(","))
    expected = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(v1, expected)
    assert json.loads(body)["listing_id"] == fits and headers["X-Market-Event"] == "saved_search.match"
    assert "secret" not in pg_client.get("/api/v1/webhooks", headers=firm.headers).json()[0]


def test_saved_search_on_someone_elses_draft_is_refused(pg_client, meili, people):
    draft = post(pg_client, people["firm"], "demand", publish=False)
    r = pg_client.post(
        "/api/v1/saved-searches",
        json={"name": "x", "source_type": "demand", "source_id": draft},
        headers=people["broker"].headers,
    )
    assert r.status_code == 404
    r = pg_client.post(
        "/api/v1/saved-searches", json={"name": "x", "source_type": "demand"}, headers=people["broker"].headers
    )
    assert r.status_code == 422
    mine = pg_client.post(
        "/api/v1/saved-searches",
        json={"name": "mine", "target": "demand", "query": "机器人"},
        headers=people["broker"].headers,
    ).json()["id"]
    assert pg_client.delete(f"/api/v1/saved-searches/{mine}", headers=people["firm"].headers).status_code == 404
    assert [s["id"] for s in pg_client.get("/api/v1/saved-searches", headers=people["broker"].headers).json()] == [mine]
    assert pg_client.delete(f"/api/v1/saved-searches/{mine}", headers=people["broker"].headers).status_code == 204


def test_many_query_searches_are_checked_in_one_request(pg_client, meili, people, monkeypatch):
    broker, inst = people["broker"], people["institute"]
    queries = {
        "动力电池": True,
        "正极材料": True,
        "高镍": True,
        "水稻": False,
        "赤眼蜂": False,
    }  # 动力电池 ≈ 锂电 (synonym)
    names = {}
    for q in queries:
        r = pg_client.post(
            "/api/v1/saved-searches", json={"name": q, "target": "achievement", "query": q}, headers=broker.headers
        )
        assert r.status_code == 201, r.text
        names[r.json()["id"]] = q
    listing = post(pg_client, inst, "achievement")
    drain()
    client = runtime.get_client()
    sent = []
    real = client.multi_search
    monkeypatch.setattr(client, "multi_search", lambda *a, **kw: sent.append(a) or real(*a, **kw))
    _notify("achievement", listing)
    assert len(sent) == 1  # five saved searches, their synonym variants included, one Meilisearch request
    inbox = pg_client.get("/api/v1/inbox", headers=broker.headers).json()["items"]
    assert sorted(n["detail"]["saved_search"] for n in inbox) == sorted(q for q, fits in queries.items() if fits)
    assert all(n["listing_id"] == listing and 0 < n["detail"]["score"] <= 1 for n in inbox)
