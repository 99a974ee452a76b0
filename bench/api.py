"""Requests per second of the real HTTP API (uvicorn) for listing create and filtered list, on SQLite and PostgreSQL.

Each database gets a fresh schema (alembic upgrade heads), a bureau admin, one verified enterprise with a
bearer token, and the demo listings; then uvicorn is started as a subprocess on a free loopback port and
driven by concurrent httpx clients (threads), bounded by a request count and a time limit. Meilisearch and
Redis are not started: listing writes only add outbox rows, which nobody drains here.

    .venv/bin/python bench/api.py                      # both databases, full size
    .venv/bin/python bench/api.py --db sqlite --clients 4 --requests 300 --duration 5
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# bench/_harness.py: schema, users, payloads and the uvicorn subprocess, shared with bench/load.py and others.
from bench._harness import (  # noqa: E402
    LIST_FILTERS,
    bootstrap,
    create_pg_database,
    migrate,
    payloads,
    server_env,
    start_server,
    stop_server,
)
from market.embedded import start_postgres  # noqa: E402


@dataclass
class Result:
    db: str
    operation: str
    clients: int
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0
    error_sample: str = ""

    @property
    def ok(self) -> int:
        return len(self.latencies)

    def row(self) -> list[str]:
        lat = sorted(self.latencies) or [0.0]
        p95 = lat[min(len(lat) - 1, int(len(lat) * 0.95))]
        rps = self.ok / self.seconds if self.seconds else 0.0
        return [
            self.db,
            self.operation,
            str(self.clients),
            str(self.ok),
            str(self.errors),
            f"{self.seconds:.1f}",
            f"{rps:.1f}",
            f"{statistics.median(lat) * 1000:.1f}",
            f"{p95 * 1000:.1f}",
        ]


def drive(db: str, operation: str, clients: int, max_requests: int, duration: float, make_request) -> Result:
    """Run `make_request(client, i)` from `clients` threads until max_requests are done or duration is up."""
    result = Result(db, operation, clients)
    lock = threading.Lock()
    counter = iter(range(max_requests))
    deadline = time.monotonic() + duration

    def worker() -> None:
        with httpx.Client(timeout=30) as client:
            while time.monotonic() < deadline:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                t0 = time.perf_counter()
                try:
                    response = make_request(client, i)
                    ok, detail = response.is_success, f"{response.status_code} {response.text[:200]}"
                except httpx.HTTPError as exc:
                    ok, detail = False, repr(exc)
                elapsed = time.perf_counter() - t0
                with lock:
                    if ok:
                        result.latencies.append(elapsed)
                    else:
                        result.errors += 1
                        result.error_sample = result.error_sample or detail

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result.seconds = time.perf_counter() - start
    return result


def bench_database(db: str, args: argparse.Namespace, workdir: Path) -> list[Result]:
    data_dir = workdir / db
    data_dir.mkdir(parents=True)
    env = server_env(data_dir)
    pg = None
    try:
        if db == "postgresql":
            pg = start_postgres(data_dir / "pg")
            url = create_pg_database(pg.url, "market_bench")
            env["MARKET_DATABASE_URL"] = url
        else:
            url = f"sqlite:///{data_dir / 'market.sqlite3'}"  # the embedded default's file under MARKET_DATA_DIR
        migrate(url)
        token = bootstrap(url, args.demo_listings)
        proc, base = start_server(env, args.workers, data_dir / "uvicorn.log")
        try:
            headers = {"Authorization": f"Bearer {token}"}
            bodies = payloads(args.requests)
            create = drive(
                db,
                "create achievement",
                args.clients,
                args.requests,
                args.duration,
                lambda c, i: c.post(f"{base}/api/v1/achievements", json=bodies[i % len(bodies)], headers=headers),
            )
            listed = drive(
                db,
                "filtered list",
                args.clients,
                args.requests,
                args.duration,
                lambda c, i: c.get(
                    f"{base}/api/v1/achievements",
                    params={**LIST_FILTERS[i % len(LIST_FILTERS)], "status": "published", "page_size": 20},
                ),
            )
            # A sanity check that the list really filters over data: at least one filter finds something.
            hits = [
                httpx.get(f"{base}/api/v1/achievements", params={**f, "status": "published"}).json()["total"]
                for f in LIST_FILTERS
            ]
            listed.operation += f" (hits {'/'.join(map(str, hits))})"
            return [create, listed]
        finally:
            stop_server(proc)
    finally:
        if pg is not None:
            pg.stop()


def print_table(results: list[Result], args: argparse.Namespace) -> None:
    header = ["db", "operation", "clients", "ok", "errors", "s", "req/s", "p50 ms", "p95 ms"]
    rows = [header] + [r.row() for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    print()
    print(
        f"cores (os.cpu_count()): {os.cpu_count()}   uvicorn workers: {args.workers}   clients: {args.clients}   "
        f"demo listings preloaded: {args.demo_listings}   python {platform.python_version()}"
    )
    print(f"bounds per operation: {args.requests} requests or {args.duration:.0f}s, whichever first; loopback only")
    for i, row in enumerate(rows):
        cells = enumerate(zip(row, widths, strict=True))
        print("  ".join(cell.ljust(w) if j < 2 else cell.rjust(w) for j, (cell, w) in cells))
        if i == 0:
            print("  ".join("-" * w for w in widths))
    for r in results:
        if r.errors:
            print(f"  {r.db} {r.operation}: first error: {r.error_sample}")
    if args.json:
        print(json.dumps([dict(zip(header, r.row(), strict=True)) for r in results], ensure_ascii=False))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")
    parser.add_argument("--clients", type=int, default=16, help="concurrent client threads (max 64)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="uvicorn worker processes")
    parser.add_argument("--requests", type=int, default=2000, help="request cap per operation")
    parser.add_argument("--duration", type=float, default=20.0, help="time cap per operation, seconds")
    parser.add_argument("--demo-listings", type=int, default=320, help="demo listings loaded before measuring")
    parser.add_argument("--json", action="store_true", help="also print the rows as JSON")
    args = parser.parse_args()
    args.clients = max(1, min(args.clients, 64))
    databases = [d.strip() for d in args.db.split(",") if d.strip()]
    if unknown := set(databases) - {"sqlite", "postgresql"}:
        parser.error(f"unknown database(s): {', '.join(sorted(unknown))}")
    workdir = Path(tempfile.mkdtemp(prefix="market-bench-"))
    results: list[Result] = []
    try:
        for db in databases:
            print(f"[{db}] migrating, bootstrapping, starting uvicorn …", flush=True)
            results += bench_database(db, args, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print_table(results, args)
    return 1 if any(r.errors for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
