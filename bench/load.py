"""Throughput and tails under concurrent load: the real server (uvicorn, N workers) driven by wrk.

For each database (SQLite, PostgreSQL) and worker count (1, 2) the script builds a fresh schema with the demo
listings indexed in a Meilisearch it starts, runs `uvicorn market.app:create_app` exactly as `market api` does,
and drives it with wrk (a C load generator, not Python threads competing for the same cores) at 1, 8 and 32
connections, for: healthz (the ceiling), a filtered list, get one, search, match, create an achievement (POST
with a bearer token, a wrk Lua script), and raw Meilisearch sent the very requests the API's search and match
send (the same multi-search), in the same run. Each row prints req/s, p50 / p90 / p99, and req/s as a share
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
import subprocess
import sys
import tempfile
import time
import urllib.parse
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Run as a script, bench/ comes first on sys.path and bench/search.py would shadow the `search` package.
sys.path[:0] = [str(ROOT)]

import httpx  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from bench.api import LIST_FILTERS, bootstrap, migrate, payloads, stop_server  # noqa: E402
from market.embedded import free_port  # noqa: E402

ENDPOINTS = ("healthz", "list", "get", "search", "raw-search", "match", "raw-match", "create")
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
            str(self.bad),
        ]


HEADER = ["code", "db", "workers", "endpoint", "conns", "req/s", "p50 ms", "p90 ms", "p99 ms", "÷ healthz", "bad"]

LUA_DONE = r"""
done = function(summary, latency, requests)
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


def lua_script(method: str, targets: list[str], headers: dict[str, str], bodies: list[str] | None = None) -> str:
    """A wrk script cycling through `targets` (and `bodies`, for POST), with `headers` on every request."""
    lines = [f"wrk.method = {_lua_string(method)}"]
    lines += [f"wrk.headers[ {_lua_string(k)} ] = {_lua_string(v)}" for k, v in headers.items()]
    lines.append("local targets = {" + ", ".join(_lua_string(t) for t in targets) + "}")
    lines.append("local bodies = {" + ", ".join(_lua_string(b) for b in (bodies or [])) + "}")
    lines.append("local i = 0")
    lines.append(
        "request = function()\n  i = i + 1\n"
        "  local body = nil\n  if #bodies > 0 then body = bodies[(i % #bodies) + 1] end\n"
        "  return wrk.format(nil, targets[(i % #targets) + 1], nil, body)\nend"
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
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60)
    match = re.search(r"WRKJSON (\{.*\})", out.stdout)
    if out.returncode != 0 or not match:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stdout[-1000:]} {out.stderr[-1000:]}")
    return json.loads(match.group(1))


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


def prepare(url: str, meili, prefix: str, demo_listings: int) -> Prepared:
    """Schema, users and demo data (bench/api.py's bootstrap), indexed in Meilisearch under `prefix`."""
    from market.core.db import create_db_engine, session_scope, set_engine
    from market.listings.models import Achievement, Demand
    from market.matching import indexing, listings, match, synonyms
    from search import query, runtime
    from search.client import MeiliClient
    from search.settings import index_uid

    migrate(url)
    token = bootstrap(url, demo_listings)
    engine = create_db_engine(url)
    set_engine(engine)
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
            prepared = Prepared(token, achievement.id, demand.id, word, raw_search, raw_match, key, prefix)
    finally:
        engine.dispose()
    return prepared


def targets_for(
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


def start_server(env: dict[str, str], workers: int, log: Path, tree: Path) -> tuple[subprocess.Popen, str]:
    """`market api`'s uvicorn (the app factory, N workers) running the code in `tree`."""
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "market.app:create_app",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    proc = subprocess.Popen(
        cmd, cwd=tree, env={**env, "PYTHONPATH": str(tree)}, stdout=log.open("wb"), stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"uvicorn exited ({proc.returncode}); see {log}:\n{log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    stop_server(proc)
    raise RuntimeError(f"uvicorn did not answer on {base} within 90s")


def bench_database(db: str, args: argparse.Namespace, meili, workdir: Path) -> list[Row]:
    from market.embedded import start_postgres

    data_dir = workdir / db
    data_dir.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MARKET_")}
    env.update(
        MARKET_DATA_DIR=str(data_dir),
        MARKET_SECRET_KEY=os.environ["MARKET_SECRET_KEY"],
        MARKET_ENVIRONMENT="bench",
        PYTHONPATH=str(ROOT),
        MARKET_MEILI_URL=meili.url,
        MARKET_MEILI_INDEX_PREFIX=f"load{db[:2]}",
        MARKET_LOG_LEVEL="WARNING",
    )
    pg = None
    rows: list[Row] = []
    try:
        if db == "postgresql":
            pg = start_postgres(data_dir / "pg")
            admin = sa.create_engine(
                pg.url.replace("postgresql://", "postgresql+psycopg://", 1),
                isolation_level="AUTOCOMMIT",
                poolclass=sa.NullPool,
            )
            with admin.connect() as conn:
                conn.exec_driver_sql("CREATE DATABASE market_load")
            admin.dispose()
            url = sa.engine.make_url(pg.url.replace("postgresql://", "postgresql+psycopg://", 1))
            url = url.set(database="market_load").render_as_string(hide_password=False)
            env["MARKET_DATABASE_URL"] = url
        else:
            url = f"sqlite:///{data_dir / 'market.sqlite3'}"
        prepared = prepare(url, meili, env["MARKET_MEILI_INDEX_PREFIX"], args.demo_listings)
        env["MARKET_MEILI_API_KEY"] = prepared.meili_key
        bodies = [json.dumps(b, ensure_ascii=False) for b in payloads(50)]
        trees = [("baseline", args.baseline)] if args.baseline else []
        trees.append(("this tree", ROOT))
        for workers in args.workers:
            servers: list[tuple[str, subprocess.Popen, str]] = []
            try:
                for code, tree in trees:
                    proc, base = start_server(env, workers, data_dir / f"uvicorn-{code[:4]}-{workers}.log", tree)
                    servers.append((code, proc, base))
                for endpoint in args.only:
                    method, targets, headers, body_list, raw = targets_for(endpoint, prepared, bodies)
                    script = lua_script(method, targets, headers, body_list)
                    for c in args.connections:
                        for code, _, base in servers:  # side by side: each row on each tree, back to back
                            if raw and code != servers[-1][0]:
                                continue  # Meilisearch is the same for both
                            w = run_wrk(meili.url if raw else base, script, c, args.duration, workdir)
                            row = to_row(db, workers, endpoint, c, w)
                            row.code = code
                            rows.append(row)
                            print(
                                "  " + "  ".join(row.cells()[:-2]) + (f"  bad={row.bad}" if row.bad else ""), flush=True
                            )
            finally:
                for _, proc, _ in servers:
                    stop_server(proc)
    finally:
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
        f"{args.duration:.0f}s per row  demo listings: {args.demo_listings}  load average at end: "
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
