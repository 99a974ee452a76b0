"""What the benchmarks that drive the real server share: a database, its schema and users, and uvicorn.

- `migrate(url)`: the schema (`alembic upgrade head`), as `market migrate` builds it;
- `create_pg_database(server_url, name)`: a fresh database on a PostgreSQL server (e.g. `start_postgres`);
- `bootstrap(url, demo_listings)`: a bureau admin, one verified enterprise with a bearer token, the demo data;
- `contract_parties(url)` and `contract_body(seller, buyer)`: a registrar, a seller with a token, a buyer, and
  a contract between them;
- `server_env(data_dir, **settings)`: the environment a server subprocess gets (no stray MARKET_* settings);
- `start_server(env, workers, log, tree=ROOT)` / `stop_server(proc)`: `market api`'s uvicorn (the app factory,
  N workers) on a free loopback port, running the code in `tree` (another checkout, for before/after runs);
- `payloads(n)` and `LIST_FILTERS`: achievement bodies the API accepts, filters that each match a page.

Imported by bench/api.py, bench/load.py, bench/calls.py, bench/stats.py and bench/subsidies.py.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Settings are read once per process: the bootstrap here and the server subprocess must share one key.
os.environ.setdefault("MARKET_SECRET_KEY", secrets.token_urlsafe(32))

from market.embedded import free_port  # noqa: E402


def migrate(url: str, revision: str = "head") -> None:
    from market.core.db import create_db_engine
    from market.core.migrations import upgrade

    engine = create_db_engine(url, poolclass=sa.NullPool)
    upgrade(engine, revision)
    engine.dispose()


def create_pg_database(server_url: str, name: str) -> str:
    """CREATE DATABASE `name` on the server at `server_url`; its SQLAlchemy (psycopg) URL."""
    admin_url = server_url.replace("postgresql://", "postgresql+psycopg://", 1)
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    return sa.engine.make_url(admin_url).set(database=name).render_as_string(hide_password=False)


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


def contract_parties(url: str) -> dict[str, str]:
    """A registrar, a verified seller (university) with a token, and a buyer organisation (new ones each run,
    so a kept database can be benchmarked again)."""
    from market.accounts import service as accounts
    from market.accounts.models import Organisation
    from market.accounts.roles import Role
    from market.core.db import create_db_engine, session_scope, set_engine
    from market.core.identifiers import CREDIT_CODE_ALPHABET, credit_code_check_char

    engine = create_db_engine(url)
    set_engine(engine)
    with session_scope() as s:
        bureau = accounts.ensure_bureau(s, name="科技局", region_code="330200", credit_code=None)
        tag = "".join(secrets.choice(CREDIT_CODE_ALPHABET) for _ in range(4))
        registrar = accounts.create_user(
            s,
            org=bureau,
            username=f"bench-registrar-{tag}",
            password=secrets.token_urlsafe(16),
            display_name="登记员",
            role=Role.registrar,
        )
        orgs = {}
        for key, kind, etype, region, body in (
            ("seller", "university", "022", "330205", "BENCH"),
            ("buyer", "enterprise", "150", "330212", "BENCF"),
        ):
            first17 = "91" + region + body + tag
            org = Organisation(
                name=f"bench {key}",
                kind=kind,
                credit_code=first17 + credit_code_check_char(first17),
                entity_type_code=etype,
                region_code=region,
                verification_status="verified",
            )
            s.add(org)
            s.flush()
            orgs[key] = org
        seller_admin = accounts.create_user(
            s,
            org=orgs["seller"],
            username=f"bench-seller-{tag}",
            password=secrets.token_urlsafe(16),
            display_name="卖方",
            role=Role.org_admin,
        )
        tokens = {
            "registrar": accounts.issue_credential(s, registrar, kind="token")[1],
            "seller": accounts.issue_credential(s, seller_admin, kind="token")[1],
            "seller_org": str(orgs["seller"].id),
            "buyer_org": str(orgs["buyer"].id),
        }
    engine.dispose()
    return tokens


def contract_body(seller_org: int, buyer_org: int) -> dict[str, Any]:
    """A patent-transfer contract between the two organisations, as POST /api/v1/contracts takes it."""
    today = dt.date.today()
    return {
        "project_name": "基准测试专利转让",
        "contract_type": "transfer",
        "subtype": "patent_right",
        "signing_date": (today - dt.timedelta(days=3)).isoformat(),
        "valid_from": today.isoformat(),
        "valid_until": (today + dt.timedelta(days=365)).isoformat(),
        "total_amount": "500000.00",
        "deductions": [{"kind": "equipment", "amount": "50000.00"}],
        "payment_method": "lump_sum",
        "ip_type": "invention_patent",
        "technical_field": "new_materials",
        "plan_source": "unplanned",
        "parties": [{"role": "seller", "org_id": seller_org}, {"role": "buyer", "org_id": buyer_org}],
    }


def server_env(data_dir: Path, **settings: str) -> dict[str, str]:
    """This process's environment without its MARKET_* settings, plus the given ones (MARKET_ prefixed)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MARKET_")}
    env.update(
        MARKET_DATA_DIR=str(data_dir),
        MARKET_SECRET_KEY=os.environ["MARKET_SECRET_KEY"],
        MARKET_ENVIRONMENT="bench",
        PYTHONPATH=str(ROOT),
    )
    env.update({f"MARKET_{k.upper()}": v for k, v in settings.items()})
    return env


def start_server(
    env: dict[str, str], workers: int, log: Path, tree: Path = ROOT, timeout: float = 90
) -> tuple[subprocess.Popen[bytes], str]:
    """`market api`'s uvicorn (the app factory, N workers) running the code in `tree`; (process, base URL)."""
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
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"uvicorn exited ({proc.returncode}); see {log}:\n{log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    stop_server(proc)
    raise RuntimeError(f"uvicorn did not answer on {base} within {timeout:.0f}s")


def stop_server(proc: subprocess.Popen[Any]) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def payloads(n: int) -> list[dict[str, Any]]:
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
