"""Throughput and tails under concurrent load: the real server (uvicorn, N workers) driven by wrk.

For each database (SQLite, PostgreSQL) and worker count (1, 2) the script builds a fresh schema with the demo
listings indexed in a Meilisearch it starts, runs `uvicorn market.app:create_app` exactly as `market api` does,
and drives it with wrk (a C load generator, not Python threads competing for the same cores) at 1, 8 and 32
connections, for: healthz (the ceiling), a filtered list, get one, search, match, create an achievement (POST
with a bearer token, a wrk Lua script), file a contract (the seller) and register it (the registrar: contracts
filed beforehand, each registered once), submit a bid to an open call (each organisation bids once per call:
fifty bidders and as many published calls as the run needs), and raw Meilisearch sent the very requests the
API's search and match send (the same multi-search), in the same run. Each row prints req/s, p50 / p90 / p99, and req/s as a share
of healthz at the same database, worker count and connections.

wrk comes from Debian (`apt-get install wrk`); `./dev bench-setup` installs it when missing.

    .venv/bin/python bench/load.py                                   # everything, ~2 s per row (~6 min)
    .venv/bin/python bench/load.py --db sqlite --workers 1 --connections 8 --duration 5
    .venv/bin/python bench/load.py --only list,get --json
    # before/after in one run: the same rows against a checkout of older code, interleaved row by row
    mkdir /tmp/base && git archive <commit> | tar -x -C /tmp/base
    .venv/bin/python bench/load.py --baseline /tmp/base
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# Run as a script, bench/ comes first on sys.path and bench/search.py would shadow the `search` package.
sys.path[:0] = [str(ROOT)]

import httpx  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from bench._harness import (  # noqa: E402
    LIST_FILTERS,
    bootstrap,
    contract_body,
    contract_parties,
    create_pg_database,
    migrate,
    payloads,
    server_env,
    start_server,
    stop_server,
)
from bench.calls import bid_body, publish_call, seed  # noqa: E402

ENDPOINTS = (
    "healthz",
    "list",
    "get",
    "search",
    "raw-search",
    "match",
    "raw-match",
    "create",
    "file",
    "register",
    "bid",
)
WRITES = ("create", "file", "register", "bid")
BIDDERS = 50  # organisations that bid; each may bid once on each call
READS = ("list", "get", "search", "match")


@dataclass
class Row:
    db: str
    workers: int
    endpoint: str
    connections: int
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    bad: int  # non-2xx answers plus socket errors and timeouts
    code: str = "this tree"  # or "baseline" (--baseline)
    ceiling: float = 0.0  # healthz req/s at the same db / workers / connections / code
    load: float = 0.0  # the machine's 1-minute load average when the row ended

    def cells(self) -> list[str]:
        share = f"{self.rps / self.ceiling:.0%}" if self.ceiling else "—"
        return [
            self.code,
            self.db,
            str(self.workers),
            self.endpoint,
            str(self.connections),
            f"{self.rps:,.0f}",
            f"{self.p50_ms:.1f}",
            f"{self.p90_ms:.1f}",
            f"{self.p99_ms:.1f}",
            share,
            f"{self.load:.1f}",
            str(self.bad),
        ]


HEADER = [
    "code",
    "db",
    "workers",
    "endpoint",
    "conns",
    "req/s",
    "p50 ms",
    "p90 ms",
    "p99 ms",
    "÷ healthz",
    "load",
    "bad",
]

LUA_DONE = r"""
bad_sample = ""
response = function(status, headers, body)
  if status >= 300 and bad_sample == "" then bad_sample = status .. " " .. string.sub(body or "", 1, 300) end
end
done = function(summary, latency, requests)
  for _, t in ipairs(all_threads) do
    local sample = t:get("bad_sample")
    if sample ~= nil and sample ~= "" then
      io.write("WRKBAD " .. (string.gsub(sample, "%s", " ")) .. "\n")
      break
    end
  end
  local e = summary.errors
  io.write(string.format("WRKJSON {\"requests\": %d, \"duration_us\": %d, \"p50\": %d, \"p90\": %d, \"p99\": %d, \"bad\": %d}\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    e.status + e.connect + e.read + e.write + e.timeout))
end
"""


def _lua_string(s: str) -> str:
    level = "=" * 3
    assert f"]{level}]" not in s
    return f"[{level}[{s}]{level}]"


def lua_script(
    method: str,
    targets: list[str],
    headers: dict[str, str],
    bodies: list[str] | None = None,
    tokens: list[str] | None = None,
    idempotency: str = "",
) -> str:
    """A wrk script sending item k = thread + threads × i (so each item once, across threads, until they wrap).

    Item k: `targets[k]`, `bodies[k]` (when given), `headers`, a bearer token `tokens[k]` (when given) and an
    Idempotency-Key `idempotency` + k (when given); each list is cycled.
    """
    lines = [f"wrk.method = {_lua_string(method)}"]
    lines.append(
        "local base = {" + ", ".join(f"[ {_lua_string(k)} ] = {_lua_string(v)}" for k, v in headers.items()) + "}"
    )
    lines.append("local targets = {" + ", ".join(_lua_string(t) for t in targets) + "}")
    lines.append("local bodies = {" + ", ".join(_lua_string(b) for b in (bodies or [])) + "}")
    lines.append("local tokens = {" + ", ".join(_lua_string(t) for t in (tokens or [])) + "}")
    lines.append(f"local idem = {_lua_string(idempotency)}")
    lines.append(
        """local counter, me, threads = 0, 0, 1
local made = 0
all_threads = {}
setup = function(thread)
  table.insert(all_threads, thread)
  thread:set("thread_no", made)
  made = made + 1
end
init = function(args)
  me = thread_no or 0
  threads = tonumber(args[1]) or 1
end
request = function()
  local k = me + threads * counter
  counter = counter + 1
  local h = {}
  for name, value in pairs(base) do h[name] = value end
  if #tokens > 0 then h["Authorization"] = "Bearer " .. tokens[(k % #tokens) + 1] end
  if idem ~= "" then h["Idempotency-Key"] = idem .. k end
  local body = nil
  if #bodies > 0 then body = bodies[(k % #bodies) + 1] end
  return wrk.format(nil, targets[(k % #targets) + 1], h, body)
end"""
    )
    return "\n".join(lines) + LUA_DONE


def run_wrk(base: str, script: str, connections: int, duration: float, workdir: Path) -> dict:
    path = workdir / f"wrk-{time.monotonic_ns()}.lua"
    path.write_text(script, encoding="utf-8")
    threads = min(connections, 2)
    cmd = [
        "wrk",
        "-t",
        str(threads),
        "-c",
        str(connections),
        "-d",
        f"{max(1, round(duration))}s",
        "--timeout",
        "10s",
        "-s",
        str(path),
        base,
        "--",
        str(threads),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60)
    match = re.search(r"WRKJSON (\{.*\})", out.stdout)
    if out.returncode != 0 or not match:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stdout[-1000:]} {out.stderr[-1000:]}")
    result = json.loads(match.group(1))
    bad = re.search(r"WRKBAD (.*)", out.stdout)
    result["bad_sample"] = bad.group(1) if bad else ""
    return result


def to_row(db: str, workers: int, endpoint: str, connections: int, w: dict) -> Row:
    seconds = w["duration_us"] / 1e6
    return Row(
        db,
        workers,
        endpoint,
        connections,
        w["requests"],
        seconds,
        w["requests"] / seconds if seconds else 0.0,
        w["p50"] / 1000,
        w["p90"] / 1000,
        w["p99"] / 1000,
        w["bad"],
    )


def median_row(runs: list[Row]) -> Row:
    """One row for repeated runs: the median req/s and percentiles, all requests and bad answers, the last load."""
    if len(runs) == 1:
        return runs[0]
    row = Row(**{**asdict(runs[-1]), "requests": sum(r.requests for r in runs), "bad": sum(r.bad for r in runs)})
    row.seconds = sum(r.seconds for r in runs)
    row.rps = statistics.median(r.rps for r in runs)
    row.p50_ms = statistics.median(r.p50_ms for r in runs)
    row.p90_ms = statistics.median(r.p90_ms for r in runs)
    row.p99_ms = statistics.median(r.p99_ms for r in runs)
    return row


@dataclass
class Prepared:
    """What every request of one database's run needs: ids, a query, the raw Meilisearch bodies."""

    token: str
    achievement_id: int
    demand_id: int
    word: str
    raw_search: dict
    raw_match: dict
    meili_key: str
    prefix: str
    parties: dict[str, str]  # contract_parties(): registrar and seller tokens, seller and buyer organisation ids
    officer_token: str  # publishes the open calls the bids go to
    firm_id: int  # the organisation posing them
    bidders: list[tuple[int, str]]  # (organisation id, bearer token), BIDDERS of them


def prepare(url: str, meili, prefix: str, demo_listings: int) -> Prepared:
    """Schema, users and demo data (bench/api.py's bootstrap), indexed in Meilisearch under `prefix`."""
    from market.accounts.models import User
    from market.core.db import create_db_engine, session_scope, set_engine
    from market.listings.models import Achievement, Demand
    from market.matching import indexing, listings, match, synonyms
    from search import query, runtime
    from search.client import MeiliClient
    from search.settings import index_uid

    migrate(url)
    token = bootstrap(url, demo_listings)
    parties = contract_parties(url)
    engine = create_db_engine(url)
    set_engine(engine)
    officer_token, bidder_tokens, firm_id = seed(BIDDERS)
    with session_scope(write=False) as s:
        org_of = dict(s.execute(sa.select(User.username, User.org_id).where(User.username.like("bidder%"))).all())
    bidders = [(org_of[f"bidder{i}"], t) for i, t in enumerate(bidder_tokens)]
    key = runtime.scoped_key(meili.url, meili.master_key, prefix)
    client = MeiliClient(meili.url, key, timeout=120)
    runtime.configure(client, prefix)
    try:
        indexing.apply_index_settings()
        result = indexing.drain_index()
        assert result.error is None, result.error
        with session_scope(write=False) as s:
            achievement = s.scalars(
                sa.select(Achievement).where(Achievement.status == "published").order_by(Achievement.id)
            ).first()
            demand = s.scalars(sa.select(Demand).where(Demand.status == "published").order_by(Demand.id)).first()
            assert achievement is not None and demand is not None, "the demo data has no published listings"
            extractor = synonyms.current_extractor(s)
            word = (achievement.keywords or [achievement.title[:4]])[0]
            variants = extractor.variants(extractor.terms(word))
            queries, federation, single = query.search_request(
                index_uid("achievement"),
                "achievement",
                word,
                variants,
                query.SearchFilters(),
                sort="relevance",
                offset=0,
                limit=20,
            )
            raw_search = (
                {"path": f"/indexes/{index_uid('achievement')}/search", "body": single}
                if single is not None
                else {
                    "path": "/multi-search",
                    "body": {"queries": queries, **({"federation": federation} if federation else {})},
                }
            )
            match_queries = match.match_request(extractor, "demand", listings.document_of("demand", demand, extractor))
            raw_match = {
                "path": "/multi-search",
                "body": {"queries": match_queries, "federation": query.match_federation()},
            }
            prepared = Prepared(
                token,
                achievement.id,
                demand.id,
                word,
                raw_search,
                raw_match,
                key,
                prefix,
                parties,
                officer_token,
                firm_id,
                bidders,
            )
    finally:
        engine.dispose()
    return prepared


class Supply:
    """Single-use items for the register and bid rows, read from the database before each run.

    A contract is registered once: the register row gets contracts filed (status submitted) and not yet
    registered, filing more through the API first when the file rows left too few. An organisation bids once
    per call: the bid row gets (call, bidder) pairs without a bid, publishing more calls first when needed.
    An item is handed out once: a request still in flight when wrk stopped may commit after the next read.
    """

    def __init__(self, url: str, p: Prepared) -> None:
        from market.core.db import create_db_engine

        self.p = p
        self.engine = create_db_engine(url, poolclass=sa.NullPool)
        self.handed: set[Any] = set()

    def _hand_out(self, items: list[Any], n: int) -> list[Any]:
        fresh = [i for i in items if i not in self.handed][:n]
        self.handed.update(fresh)
        return fresh

    def close(self) -> None:
        self.engine.dispose()

    def filed(self, base: str, n: int) -> list[int]:
        from market.contracts.models import Contract

        stmt = sa.select(Contract.id).where(Contract.status == "submitted").order_by(Contract.id)
        with self.engine.connect() as conn:
            ids = list(conn.scalars(stmt))
        ids = [i for i in ids if i not in self.handed]
        if len(ids) < n:
            body = contract_body(int(self.p.parties["seller_org"]), int(self.p.parties["buyer_org"]))
            headers = {"Authorization": f"Bearer {self.p.parties['seller']}"}
            with httpx.Client(base_url=base, headers=headers, timeout=60) as c:
                for _ in range(n - len(ids)):
                    ids.append(c.post("/api/v1/contracts", json=body).raise_for_status().json()["id"])
        return self._hand_out(ids, n)

    def bid_pairs(self, base: str, n: int) -> list[tuple[int, str]]:
        """(call id, bidder token) pairs with no bid yet, call by call (many bidders on one call at a time)."""
        import datetime as dt

        from market.calls.models import Bid, Call

        while True:
            with self.engine.connect() as conn:
                calls = list(
                    conn.scalars(sa.select(Call.id).where(Call.posing_org_id == self.p.firm_id).order_by(Call.id))
                )
                taken = {(c, o) for c, o in conn.execute(sa.select(Bid.call_id, Bid.lead_org_id))}
            pairs = [(c, t) for c in calls for org, t in self.p.bidders if (c, org) not in taken]
            pairs = [pair for pair in pairs if pair not in self.handed]
            if len(pairs) >= n:
                return self._hand_out(pairs, n)
            deadline = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=6)).replace(microsecond=0)
            for _ in range((n - len(pairs)) // len(self.p.bidders) + 1):
                publish_call(base, self.p.officer_token, self.p.firm_id, deadline)


def targets_for(
    endpoint: str, p: Prepared, bodies: list[str], supply: Supply | None = None, base: str = "", need: int = 0
) -> tuple[str, list[str], dict[str, str], list[str] | None, list[str] | None, str, bool]:
    """(method, targets, headers, bodies, per-item tokens, idempotency prefix, against_meilisearch)."""
    json_type = {"Content-Type": "application/json"}
    if endpoint == "file":
        body = json.dumps(contract_body(int(p.parties["seller_org"]), int(p.parties["buyer_org"])))
        headers = {"Authorization": f"Bearer {p.parties['seller']}", **json_type}
        return "POST", ["/api/v1/contracts"], headers, [body], None, f"load-{time.time_ns()}-", False
    if endpoint == "register":
        assert supply is not None
        ids = supply.filed(base, need)
        targets = [f"/api/v1/contracts/{i}/register" for i in ids]
        return "POST", targets, {"Authorization": f"Bearer {p.parties['registrar']}"}, None, None, "", False
    if endpoint == "bid":
        assert supply is not None
        pairs = supply.bid_pairs(base, need)
        bid_bodies = [json.dumps(bid_body(i), ensure_ascii=False) for i in range(10)]
        targets = [f"/api/v1/calls/{c}/bids" for c, _ in pairs]
        return "POST", targets, json_type, bid_bodies, [t for _, t in pairs], "", False
    method, targets, headers, body_list, raw = _static_targets(endpoint, p, bodies)
    return method, targets, headers, body_list, None, "", raw


def _static_targets(
    endpoint: str, p: Prepared, bodies: list[str]
) -> tuple[str, list[str], dict[str, str], list[str] | None, bool]:
    """(method, targets, headers, bodies, against_meilisearch)."""
    auth = {"Authorization": f"Bearer {p.token}"}
    if endpoint == "healthz":
        return "GET", ["/healthz"], {}, None, False
    if endpoint == "list":
        paths = [
            "/api/v1/achievements?" + urllib.parse.urlencode({**f, "status": "published", "page_size": 20})
            for f in LIST_FILTERS
        ]
        return "GET", paths, {}, None, False
    if endpoint == "get":
        return "GET", [f"/api/v1/achievements/{p.achievement_id}"], {}, None, False
    if endpoint == "search":
        return "GET", ["/api/v1/search?" + urllib.parse.urlencode({"q": p.word})], {}, None, False
    if endpoint == "match":
        return "GET", [f"/api/v1/match/demand/{p.demand_id}"], auth, None, False
    if endpoint in ("raw-search", "raw-match"):
        raw = p.raw_search if endpoint == "raw-search" else p.raw_match
        headers = {"Authorization": f"Bearer {p.meili_key}", "Content-Type": "application/json"}
        return "POST", [raw["path"]], headers, [json.dumps(raw["body"], ensure_ascii=False)], True
    if endpoint == "create":
        return "POST", ["/api/v1/achievements"], {**auth, "Content-Type": "application/json"}, bodies, False
    raise ValueError(endpoint)


def bench_database(db: str, args: argparse.Namespace, meili, workdir: Path) -> list[Row]:
    from market.embedded import start_postgres

    data_dir = workdir / db
    data_dir.mkdir(parents=True)
    env = server_env(data_dir, meili_url=meili.url, meili_index_prefix=f"load{db[:2]}", log_level="WARNING")
    pg = None
    rows: list[Row] = []
    supply: Supply | None = None
    try:
        if db == "postgresql":
            pg = start_postgres(data_dir / "pg")
            url = create_pg_database(pg.url, "market_load")
            env["MARKET_DATABASE_URL"] = url
        else:
            url = f"sqlite:///{data_dir / 'market.sqlite3'}"
        prepared = prepare(url, meili, env["MARKET_MEILI_INDEX_PREFIX"], args.demo_listings)
        supply = Supply(url, prepared)
        env["MARKET_MEILI_API_KEY"] = prepared.meili_key
        bodies = [json.dumps(b, ensure_ascii=False) for b in payloads(50)]
        trees = [("baseline", args.baseline)] if args.baseline else []
        trees.append(("this tree", ROOT))

        def script_for(endpoint: str, base: str, c: int, seconds: float, rates: dict[str, float]) -> tuple[str, bool]:
            need = int(1.5 * rates.get(endpoint, 150) * max(1, round(seconds))) + 2 * c
            method, targets, headers, body_list, tokens, idem, raw = targets_for(
                endpoint, prepared, bodies, supply, base, need
            )
            return lua_script(method, targets, headers, body_list, tokens, idem), raw

        for workers in args.workers:
            servers: list[tuple[str, subprocess.Popen, str]] = []
            try:
                for code, tree in trees:
                    proc, base = start_server(env, workers, data_dir / f"uvicorn-{code[:4]}-{workers}.log", tree)
                    servers.append((code, proc, base))
                rates: dict[str, float] = {}  # the last req/s of each single-use row: how many items the next needs

                for endpoint in args.only:
                    for code, _, base in servers:  # one second at one connection first: first-use costs, not timed
                        script, raw = script_for(endpoint, base, 1, 1, rates)
                        if not raw or code == servers[-1][0]:
                            run_wrk(meili.url if raw else base, script, 1, 1, workdir)
                    for c in args.connections:
                        runs: dict[str, list[Row]] = {}
                        for _ in range(args.repeat):  # the trees alternate: A B A B …, so both see each minute
                            for code, _, base in servers:  # side by side: each row on each tree, back to back
                                script, raw = script_for(endpoint, base, c, args.duration, rates)
                                if raw and code != servers[-1][0]:
                                    continue  # Meilisearch is the same for both
                                w = run_wrk(meili.url if raw else base, script, c, args.duration, workdir)
                                row = to_row(db, workers, endpoint, c, w)
                                row.code = code
                                row.load = os.getloadavg()[0]
                                rates[endpoint] = max(rates.get(endpoint, 0.0), row.rps)
                                runs.setdefault(code, []).append(row)
                                shown = [*row.cells()[:-3], f"load {row.load:.1f}"]
                                print("  " + "  ".join(shown) + (f"  bad={row.bad}" if row.bad else ""), flush=True)
                                if w["bad_sample"]:
                                    print(f"    first bad answer: {w['bad_sample']}", flush=True)
                        rows += [median_row(repeated) for repeated in runs.values()]
            finally:
                for _, proc, _ in servers:
                    stop_server(proc)
    finally:
        if supply is not None:
            supply.close()
        if pg is not None:
            pg.stop()
    ceilings = {(r.code, r.db, r.workers, r.connections): r.rps for r in rows if r.endpoint == "healthz"}
    for r in rows:
        r.ceiling = ceilings.get((r.code, r.db, r.workers, r.connections), 0.0)
    return rows


def print_table(rows: list[Row], args: argparse.Namespace) -> None:
    cells = [HEADER] + [r.cells() for r in rows]
    print()
    load = os.getloadavg()
    print(
        f"cores: {os.cpu_count()}  python {platform.python_version()}  wrk threads: min(conns, 2)  "
        f"{args.duration:.0f}s per row × {args.repeat} (medians)  demo listings: {args.demo_listings}  load average at end: "
        f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f}"
    )
    print("| " + " | ".join(HEADER) + " |")
    print("|" + "|".join("---" for _ in HEADER) + "|")
    for row in cells[1:]:
        print("| " + " | ".join(row) + " |")
    if args.json:
        print(json.dumps([asdict(r) for r in rows], ensure_ascii=False))


def ensure_wrk() -> None:
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: run `./dev bench-setup` (apt-get install wrk) first")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")
    parser.add_argument("--workers", default="1,2", help="uvicorn worker counts, comma-separated")
    parser.add_argument("--connections", default="1,8,32", help="wrk connection counts, comma-separated")
    parser.add_argument("--duration", type=float, default=2.0, help="seconds per row")
    parser.add_argument(
        "--repeat", type=int, default=1, help="run each row N times, the trees alternating; report the medians"
    )
    parser.add_argument("--only", default=",".join(ENDPOINTS), help=f"endpoints: {', '.join(ENDPOINTS)}")
    parser.add_argument("--demo-listings", type=int, default=320, help="demo listings loaded and indexed first")
    parser.add_argument("--json", action="store_true", help="also print the rows as JSON")
    parser.add_argument(
        "--baseline",
        type=Path,
        default=None,
        help="a checkout of other code (git archive COMMIT | tar -x -C DIR) measured row by row beside this tree",
    )
    args = parser.parse_args()
    args.workers = [int(w) for w in args.workers.split(",") if w.strip()]
    args.connections = [int(c) for c in args.connections.split(",") if c.strip()]
    args.only = [e.strip() for e in args.only.split(",") if e.strip()]
    if unknown := set(args.only) - set(ENDPOINTS):
        parser.error(f"unknown endpoint(s): {', '.join(sorted(unknown))}")
    if "healthz" in args.only:  # the ceiling comes first
        args.only = ["healthz"] + [e for e in args.only if e != "healthz"]
    databases = [d.strip() for d in args.db.split(",") if d.strip()]
    if unknown := set(databases) - {"sqlite", "postgresql"}:
        parser.error(f"unknown database(s): {', '.join(sorted(unknown))}")
    ensure_wrk()
    from market.embedded import start_meilisearch

    workdir = Path(tempfile.mkdtemp(prefix="market-load-"))
    rows: list[Row] = []
    meili = start_meilisearch(workdir / "meili")
    try:
        for db in databases:
            print(f"[{db}] migrating, loading and indexing {args.demo_listings} demo listings …", flush=True)
            rows += bench_database(db, args, meili, workdir)
    finally:
        meili.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    print_table(rows, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
