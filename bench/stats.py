"""Statistics latency over N registered contracts in PostgreSQL: through the HTTP API beside plain SQL GROUP BY.

Builds a fresh database (alembic upgrade heads), generates N registered contracts with
bench/gen_contracts.py (COPY), starts uvicorn as a subprocess, then for every breakdown and for two
windows (the last full year, and five years) times R sequential requests through the API and R runs of
the equivalent hand-written SQL GROUP BY on a direct connection, printing p50/p95 of both. Finally it
files and registers contracts end to end through the API with C concurrent clients and prints the
registration throughput.

    .venv/bin/python bench/stats.py                       # 1,000,000 contracts (the issue's size)
    .venv/bin/python bench/stats.py -n 150000 --reps 10   # a few minutes on a small shared machine
    # generate once into a named database on a running server and keep it; later runs reuse it
    .venv/bin/python bench/stats.py --database-url postgresql://… --database stats1m --keep
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import secrets
import sys
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path

import httpx
import psycopg
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("MARKET_SECRET_KEY", secrets.token_urlsafe(32))

from gen_contracts import generate  # noqa: E402

from bench._harness import contract_body, migrate, start_server, stop_server  # noqa: E402  (schema + uvicorn helpers)
from bench._harness import contract_parties as bootstrap  # noqa: E402
from market.embedded import start_postgres  # noqa: E402

FIGS = "sum(sign), sum(total_amount), sum(technical_transaction_amount)"
WHERE = "entry_date BETWEEN %(start)s AND %(end)s"


def group_sql(key: str, extra: str = "", tail: str = "") -> str:
    return f"SELECT {key}, {FIGS} FROM contract_ledger WHERE {WHERE} {extra} GROUP BY 1 ORDER BY 3 DESC {tail}"


FLOWS_SQL = (
    "SELECT "
    + ", ".join(
        f"sum(CASE WHEN {cond} THEN sign ELSE 0 END), sum(CASE WHEN {cond} THEN total_amount ELSE 0 END), "
        f"sum(CASE WHEN {cond} THEN technical_transaction_amount ELSE 0 END)"
        for cond in (
            "seller_region LIKE '3302%%'",
            "buyer_region LIKE '3302%%'",
            "seller_region LIKE '3302%%' AND buyer_region LIKE '3302%%'",
            "buyer_region LIKE '3302%%' AND NOT seller_region LIKE '3302%%'",
            "seller_region LIKE '3302%%' AND NOT buyer_region LIKE '3302%%'",
        )
    )
    + f" FROM contract_ledger WHERE {WHERE} AND (seller_region LIKE '3302%%' OR buyer_region LIKE '3302%%')"
)

# name -> (API path and params, plain SQL)
CASES: dict[str, tuple[str, dict, str]] = {
    "summary": ("/api/v1/stats/summary", {}, f"SELECT {FIGS} FROM contract_ledger WHERE {WHERE}"),
    "series/month": (
        "/api/v1/stats/series",
        {"granularity": "month"},
        f"SELECT entry_year, entry_month, {FIGS} FROM contract_ledger WHERE {WHERE} GROUP BY 1, 2",
    ),
    "contract_type": ("/api/v1/stats/breakdown/contract_type", {}, group_sql("contract_type")),
    "subtype": (
        "/api/v1/stats/breakdown/subtype",
        {},
        f"SELECT contract_type, subtype, {FIGS} FROM contract_ledger WHERE {WHERE} GROUP BY 1, 2",
    ),
    "technical_field": ("/api/v1/stats/breakdown/technical_field", {}, group_sql("technical_field")),
    "ip_type": ("/api/v1/stats/breakdown/ip_type", {}, group_sql("ip_type")),
    "seller_entity_type": ("/api/v1/stats/breakdown/seller_entity_type", {}, group_sql("seller_entity_type")),
    "buyer_entity_type": ("/api/v1/stats/breakdown/buyer_entity_type", {}, group_sql("buyer_entity_type")),
    "seller_region": ("/api/v1/stats/breakdown/seller_region", {}, group_sql("seller_region")),
    "buyer_region/4": (
        "/api/v1/stats/breakdown/buyer_region",
        {"region_level": 4},
        group_sql("substr(buyer_region, 1, 4)"),
    ),
    "flows/3302": ("/api/v1/stats/flows", {"region": "3302"}, FLOWS_SQL),
    "intermediary": (
        "/api/v1/stats/breakdown/intermediary",
        {},
        group_sql("intermediary_name", "AND intermediary_name <> ''"),
    ),
    "top sellers": (
        "/api/v1/stats/top/seller",
        {"limit": 10},
        group_sql("coalesce(nullif(seller_credit_code, ''), seller_name)", tail="LIMIT 10"),
    ),
    "top buyers": (
        "/api/v1/stats/top/buyer",
        {"limit": 10},
        group_sql("coalesce(nullif(buyer_credit_code, ''), buyer_name)", tail="LIMIT 10"),
    ),
}


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * q))] * 1000


def time_api(client: httpx.Client, path: str, params: dict, reps: int) -> tuple[list[float], int]:
    client.get(path, params=params)  # warm the plan and the caches, as a steady state would
    out, rows = [], 0
    for _ in range(reps):
        t = time.perf_counter()
        r = client.get(path, params=params)
        out.append(time.perf_counter() - t)
        r.raise_for_status()
        rows = len(r.json().get("rows", []))
    return out, rows


def _fen(value: str | int) -> int:
    return int(Decimal(str(value)) * 100)


def check(
    client: httpx.Client,
    conn: psycopg.Connection,
    case: str,
    path: str,
    params: dict,
    sql: str,
    start: dt.date,
    end: dt.date,
) -> int:
    """Number of rows where the API (read from the rollup) and the plain GROUP BY over the ledger disagree."""
    body = client.get(path, params=params).json()
    got: dict[str, tuple[int, int, int]] = {}
    want: dict[str, tuple[int, int, int]] = {}
    raw = conn.execute(sql, {"start": start, "end": end}).fetchall()
    if case == "flows/3302":
        for i, r in enumerate(body["rows"]):
            got[r["key"]] = (r["count"], _fen(r["total_amount"]), _fen(r["technical_transaction_amount"]))
            want[r["key"]] = tuple(int(v or 0) for v in raw[0][3 * i : 3 * i + 3])
    else:
        for r in body["rows"]:
            key = r["key"] if "key" in r else r.get("period", r.get("from"))
            got[str(key)] = (r["count"], _fen(r["total_amount"]), _fen(r["technical_transaction_amount"]))
        for r in raw:
            *keys, count, total, tta = r
            if case == "summary":
                keys = [start.isoformat()]
            elif case == "series/month":
                keys = [f"{keys[0]}-{keys[1]:02d}"]
            if count or total or tta:
                want[".".join(str(k) for k in keys)] = (int(count), int(total), int(tta))
    if case == "series/month":  # the API lists every month of the window, the SQL also the year before
        want = {k: v for k, v in want.items() if k in got}
        got = {k: v for k, v in got.items() if any(v)}
    bad = sum(1 for k in got.keys() | want.keys() if got.get(k) != want.get(k))
    if bad:
        print(
            f"    MISMATCH {case}: {bad} rows, e.g. "
            f"{next((k, got.get(k), want.get(k)) for k in got.keys() | want.keys() if got.get(k) != want.get(k))}"
        )
    return bad


def time_sql(conn: psycopg.Connection, sql: str, params: dict, reps: int) -> list[float]:
    conn.execute(sql, params).fetchall()
    out = []
    for _ in range(reps):
        t = time.perf_counter()
        conn.execute(sql, params).fetchall()
        out.append(time.perf_counter() - t)
    return out


def explain(url: str, start: dt.date, end: dt.date) -> None:
    """EXPLAIN ANALYZE the SQL the service itself issues (captured in-process) for two heavy breakdowns."""
    from market.core.db import create_db_engine, session_scope, set_engine
    from market.stats import service

    engine = create_db_engine(url, poolclass=sa.NullPool)
    set_engine(engine)
    captured: list[tuple[str, object]] = []
    sa.event.listen(
        engine,
        "before_cursor_execute",
        lambda conn, cursor, statement, params, context, many: captured.append((statement, params)),
    )
    with session_scope() as s:
        service.top_parties(s, "buyer", start, end, 10)
        service.flows(s, start, end, "3302")
    with engine.connect() as conn:
        for statement, params in [c for c in captured if "stats_rollup" in c[0]]:
            print("\nEXPLAIN ANALYZE", statement[:300].replace("\n", " "), "…")
            for (line,) in conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, params):
                print("   ", line)
    engine.dispose()


def reused(url: str) -> dict:
    """What `generate` reports, for a database generated by an earlier run (and migrated since)."""
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://", 1)) as conn:
        contracts, first_year = conn.execute("SELECT count(*), min(registration_year) FROM contracts").fetchone()
        rows = conn.execute("SELECT count(*) FROM stats_rollup").fetchone()[0]
        conn.execute("ANALYZE stats_rollup")
    return {"contracts": contracts, "first_year": int(first_year), "rollup_rows": rows}


def registration_throughput(base: str, tokens: dict[str, str], total: int, clients: int) -> tuple[float, int]:
    body = contract_body(int(tokens["seller_org"]), int(tokens["buyer_org"]))
    seller_h = {"Authorization": f"Bearer {tokens['seller']}"}
    registrar_h = {"Authorization": f"Bearer {tokens['registrar']}"}
    counter = iter(range(total))
    lock = threading.Lock()
    done, errors = [0], [0]
    samples: list[str] = []

    def worker() -> None:
        with httpx.Client(base_url=base, timeout=60) as c:
            while True:
                with lock:
                    if next(counter, None) is None:
                        return
                r = c.post(
                    "/api/v1/contracts", json=body, headers={**seller_h, "Idempotency-Key": secrets.token_hex(8)}
                )
                if r.status_code != 201:
                    errors[0] += 1
                    samples.append(f"file {r.status_code} {r.text[:200]}")
                    continue
                r = c.post(f"/api/v1/contracts/{r.json()['id']}/register", headers=registrar_h)
                if r.status_code == 200:
                    done[0] += 1
                else:
                    errors[0] += 1
                    samples.append(f"register {r.status_code} {r.text[:200]}")

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if samples:
        print("  error sample:", samples[0])
    return done[0] / (time.perf_counter() - started), errors[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=1_000_000, help="registered contracts to generate")
    parser.add_argument("--reps", type=int, default=20, help="timed requests per breakdown and window")
    parser.add_argument(
        "--sql-reps",
        type=int,
        default=5,
        help="timed runs of the plain SQL GROUP BY (a full ledger scan each: keep it small)",
    )
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--register", type=int, default=300, help="contracts to file+register for throughput")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients for the throughput run")
    parser.add_argument(
        "--explain",
        action="store_true",
        help="print EXPLAIN ANALYZE of the statements the API runs for top buyers and flows (5 years)",
    )
    parser.add_argument("--database-url", default="", help="an existing PostgreSQL server (admin URL)")
    parser.add_argument(
        "--database", default="", help="database name on that server: reused (migrated, not regenerated) if it exists"
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench-stats-"))
    server = None
    admin_url = args.database_url
    if not admin_url:
        print("starting embedded PostgreSQL …", flush=True)
        server = start_postgres(workdir / "pg")
        admin_url = server.url
    admin_url = admin_url.replace("postgresql://", "postgresql+psycopg://", 1)
    name = args.database or f"bench_stats_{secrets.token_hex(3)}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    with admin.connect() as conn:
        reuse = bool(conn.exec_driver_sql("SELECT 1 FROM pg_database WHERE datname = %(n)s", {"n": name}).first())
        if not reuse:
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
    url = sa.engine.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    proc = None
    try:
        migrate(url)
        tokens = bootstrap(url)
        if reuse:
            gen = reused(url)
            print(
                f"reusing database {name}: {gen['contracts']:,} contracts, {gen['rollup_rows']:,} rollup rows",
                flush=True,
            )
        else:
            print(f"generating {args.n:,} registered contracts …", flush=True)
            gen = generate(url, args.n)
            print(
                f"generated in {gen['seconds']:.1f}s (of which rollup rebuild {gen['rollup_seconds']:.1f}s, "
                f"{gen['rollup_rows']:,} rollup rows)",
                flush=True,
            )
        env = {**os.environ, "MARKET_DATABASE_URL": url, "MARKET_DATA_DIR": str(workdir / "data")}
        proc, base = start_server(env, args.workers, workdir / "uvicorn.log")
        today = dt.date.today()
        windows = {
            "1 year": (dt.date(today.year - 1, 1, 1), dt.date(today.year - 1, 12, 31)),
            "5 years": (dt.date(gen["first_year"], 1, 1), today),
        }
        headers = {"Authorization": f"Bearer {tokens['registrar']}"}
        results = []
        mismatches = 0
        with (
            httpx.Client(base_url=base, headers=headers, timeout=120) as client,
            psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://", 1)) as conn,
        ):
            ledger_rows = conn.execute("SELECT count(*) FROM contract_ledger").fetchone()[0]
            for window, (start, end) in windows.items():
                for case, (path, params, sql) in CASES.items():
                    api, rows = time_api(
                        client, path, {**params, "from": start.isoformat(), "to": end.isoformat()}, args.reps
                    )
                    raw = time_sql(conn, sql, {"start": start, "end": end}, args.sql_reps)
                    mismatches += check(
                        client,
                        conn,
                        case,
                        path,
                        {**params, "from": start.isoformat(), "to": end.isoformat()},
                        sql,
                        start,
                        end,
                    )
                    results.append((window, case, rows, api, raw))
                    print(
                        f"  {window:8} {case:20} api p50 {pct(api, 0.5):7.1f} ms  sql p50 {pct(raw, 0.5):7.1f} ms",
                        flush=True,
                    )
        if args.explain:
            explain(url, *windows["5 years"])
        print(f"\nregistration throughput: {args.register} contracts, {args.clients} clients …", flush=True)
        rate, errors = registration_throughput(base, tokens, args.register, args.clients)

        print(
            f"\n== stats over {gen['contracts']:,} registered contracts ({ledger_rows:,} ledger rows), PostgreSQL, "
            f"uvicorn workers={args.workers}, reps={args.reps}, cores={os.cpu_count()} =="
        )
        print(f"{'window':8} {'breakdown':20} {'rows':>5} {'API p50':>9} {'API p95':>9} {'SQL p50':>9} {'SQL p95':>9}")
        for window, case, rows, api, raw in results:
            print(
                f"{window:8} {case:20} {rows:>5} {pct(api, 0.5):>7.1f}ms {pct(api, 0.95):>7.1f}ms "
                f"{pct(raw, 0.5):>7.1f}ms {pct(raw, 0.95):>7.1f}ms"
            )
        worst = max(pct(api, 0.5) for *_, api, _ in results)
        print(f"worst API p50: {worst:.1f} ms (target ≤ 300 ms)")
        print(
            f"API figures equal to the plain SQL GROUP BY over the ledger: "
            f"{'yes, every row' if not mismatches else f'NO, {mismatches} differences'}"
        )
        print(
            f"registration throughput: {rate:.1f} contracts/s end to end (file + register, "
            f"{args.clients} clients, {errors} errors)"
        )
    finally:
        if proc is not None:
            stop_server(proc)
        if not args.keep:
            with admin.connect() as conn:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()
        if server is not None:
            server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
