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
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BENCH_SECRET_KEY = secrets.token_urlsafe(32)
# Settings are read once per process: give the bootstrap the same key the server gets.
os.environ.setdefault("MARKET_SECRET_KEY", BENCH_SECRET_KEY)

from market.embedded import free_port, start_postgres  # noqa: E402


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


def migrate(url: str, revision: str = "head") -> None:
    from market.core.db import create_db_engine
    from market.core.migrations import upgrade

    engine = create_db_engine(url, poolclass=sa.NullPool)
    upgrade(engine, revision)
    engine.dispose()


def bootstrap(url: str, demo_listings: int) -> str:
    """Bureau admin, one verified enterprise with an admin and a bearer token, and the demo data."""
    from market.accounts import service as accounts
    from market.accounts.roles import Role
    from market.core.db import create_db_engine, session_scope, set_engine
    from market.core.identifiers import credit_code_check_char
    from market.demo import load_demo

    engine = create_db_engine(url)
    set_engine(engine)
    with session_scope() as s:
        bureau = accounts.create_bureau_admin(
            s, username="bench-bureau", password=secrets.token_urlsafe(16), display_name="科技局管理员"
        )
        first17 = "91330212" + "MA2H7Q8K3"
        org, admin = accounts.register_organisation(
            s,
            org_fields={
                "name": "宁波基准测试科技有限公司",
                "kind": "enterprise",
                "entity_type_code": "150",
                "credit_code": first17 + credit_code_check_char(first17),
                "region_code": "330212",
            },
            admin_username="bench-firm",
            admin_password=secrets.token_urlsafe(16),
            admin_display_name="测试管理员",
        )
        accounts.set_verification(s, org, accounts.actor_for_user(s, bureau), verified=True, reason=None)
        assert admin.role == Role.org_admin
        _, token = accounts.issue_credential(s, admin, kind="token")
        if demo_listings:
            load_demo(s, listings=demo_listings)
    engine.dispose()
    return token


def start_server(env: dict[str, str], workers: int, log: Path) -> tuple[subprocess.Popen, str]:
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
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"uvicorn exited ({proc.returncode}); see {log}:\n{log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.terminate()
    raise RuntimeError(f"uvicorn did not answer on {base} within 60s")


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def payloads(n: int) -> list[dict]:
    """Realistic achievement bodies (the demo generator's), as JSON the API accepts."""
    from market.demo.generator import demo_listings
    from market.demo.orgs import demo_orgs

    specs = [s for s in demo_listings(demo_orgs(), count=min(500, max(n, 10)), seed=7) if s.kind == "achievement"]
    bodies = []
    for spec in specs:
        body = dict(spec.data, region_code="330212")
        body["asking_price"] = str(body["asking_price"])
        bodies.append(body)
    return bodies


# Filter combinations that each match a handful of the demo listings (a page, not an empty result).
LIST_FILTERS = tuple(
    {"technical_field": field, "maturity": maturity, "region_code": region, "min_price": lo, "max_price": hi}
    for field, maturity, region, lo, hi in (
        ("environmental", "pilot", "330000", "100000", "5000000"),
        ("aerospace", "small_batch", "330000", "100000", "8000000"),
        ("new_energy", "pilot_small", "330000", "50000", "3000000"),
        ("agriculture", "pilot", "330200", "0", "5000000"),
        ("new_materials", "pilot", "330000", "100000", "5000000"),
    )
)


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
    env = {k: v for k, v in os.environ.items() if not k.startswith("MARKET_")}
    env.update(
        MARKET_DATA_DIR=str(data_dir),
        MARKET_SECRET_KEY=os.environ["MARKET_SECRET_KEY"],
        MARKET_ENVIRONMENT="bench",
        PYTHONPATH=str(ROOT),
    )
    pg = None
    try:
        if db == "postgresql":
            pg = start_postgres(data_dir / "pg")
            admin = sa.create_engine(
                pg.url.replace("postgresql://", "postgresql+psycopg://", 1),
                isolation_level="AUTOCOMMIT",
                poolclass=sa.NullPool,
            )
            with admin.connect() as conn:
                conn.exec_driver_sql("CREATE DATABASE market_bench")
            admin.dispose()
            url = sa.engine.make_url(pg.url.replace("postgresql://", "postgresql+psycopg://", 1))
            url = url.set(database="market_bench").render_as_string(hide_password=False)
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
