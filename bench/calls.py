"""Bids in the last minute before an open call's deadline, through the real HTTP API on PostgreSQL.

A fresh PostgreSQL (embedded) is migrated with `alembic upgrade heads`; a call is published with its
deadline `--window` seconds ahead; uvicorn runs in a subprocess. `--bids` organisations then bid at once
from `--clients` concurrent clients (threads), and `--late` more are timed to land around the deadline
(±0.25 s). Prints accepted bids per second and checks, against the database:

- none lost: every 201 is a stored bid and every stored bid got a 201;
- none after: every stored bid was taken strictly before the deadline, every request sent at or after it
  was refused with `bidding_closed`, and every request answered before it was accepted;
- nothing can change after the deadline (a PATCH is refused), and the beat step then closes bidding.

    .venv/bin/python bench/calls.py                           # full size: 1,000 bids, 60 s window
    .venv/bin/python bench/calls.py --bids 300 --window 15   # smaller
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("MARKET_SECRET_KEY", secrets.token_urlsafe(32))

from bench._harness import create_pg_database, migrate, server_env, start_server  # noqa: E402
from market.embedded import start_postgres  # noqa: E402

FIELD = "new_energy"


@dataclass
class Attempt:
    i: int
    late: bool
    sent: float = 0.0  # wall clock (server and client share the host's clock)
    answered: float = 0.0
    status: int = 0
    code: str = ""
    bid_id: int | None = None
    submitted_at: dt.datetime | None = None


def seed(n_orgs: int) -> tuple[str, list[str], int]:
    """An officer, a posing firm, and n verified bidder organisations each with one user token (no password
    hashing: tokens are issued directly, which keeps seeding 1,000 users fast)."""
    from market.accounts import service as accounts
    from market.accounts.models import Organisation
    from market.accounts.roles import Role
    from market.core.db import session_scope, utcnow

    def org(s, name: str, kind: str, etype: str) -> Organisation:
        o = Organisation(
            name=name,
            kind=kind,
            entity_type_code=etype,
            region_code="330212",
            verification_status="verified",
            verified_at=utcnow(),
        )
        s.add(o)
        s.flush()
        return o

    tokens = []
    with session_scope() as s:
        bureau = accounts.ensure_bureau(s, name="科技局", region_code="330200", credit_code=None)
        officer = accounts.create_user(
            s, org=bureau, username="officer", password=None, display_name="处长", role=Role.programme_officer
        )
        _, officer_token = accounts.issue_credential(s, officer, kind="token")
        firm = org(s, "出题企业", "enterprise", "150")
        for i in range(n_orgs):
            o = org(s, f"揭榜单位 {i}", "university", "022")
            u = accounts.create_user(
                s, org=o, username=f"bidder{i}", password=None, display_name=f"b{i}", role=Role.org_admin
            )
            tokens.append(accounts.issue_credential(s, u, kind="token")[1])
        for j in range(3):
            accounts.create_user(
                s,
                org=org(s, f"专家单位 {j}", "institute", "021"),
                username=f"expert{j}",
                password=None,
                display_name="专家",
                role=Role.expert,
                expert_fields=[FIELD],
            )
        return officer_token, tokens, firm.id


def publish_call(base: str, officer_token: str, firm_id: int, deadline: dt.datetime) -> int:
    h = {"Authorization": f"Bearer {officer_token}"}
    body = {
        "kind": "solve",
        "title": "固态电解质攻关",
        "problem": "室温高电导固态电解质",
        "technical_field": FIELD,
        "indicators": [{"name": "离子电导率", "target": "≥ 1e-3 S/cm"}],
        "total_amount": "5000000.00",
        "gov_support_ratio_pct": 30,
        "gov_support_cap": "1000000.00",
        "duration_months": 24,
        "bid_deadline": deadline.isoformat(),
        "posing_org_id": firm_id,
        "review_criteria": [{"name": "方案", "weight": 60}, {"name": "团队", "weight": 40}],
    }
    with httpx.Client(base_url=base, headers=h, timeout=30) as c:
        call = c.post("/api/v1/calls", json=body).raise_for_status().json()
        c.post(f"/api/v1/calls/{call['id']}/vet", json={"approve": True}).raise_for_status()
        c.post(f"/api/v1/calls/{call['id']}/publish").raise_for_status()
        return call["id"]


def bid_body(i: int) -> dict:
    return {
        "team_leader": f"负责人 {i}",
        "plan": "硫化物体系，掺杂改性，中试放大。" * 5,
        "promised_indicators": [{"name": "离子电导率", "target": "1.2e-3 S/cm"}],
        "price": f"{4_000_000 + i}.00",
        "milestones": [
            {"title": "小试", "deliverable": "样品", "due_month": 8, "payment_share_pct": 40},
            {"title": "验收", "deliverable": "报告", "due_month": 24, "payment_share_pct": 60},
        ],
    }


def fire(
    base: str, call_id: int, tokens: list[str], attempts: list[Attempt], schedule: dict[int, float], clients: int
) -> None:
    """Send every attempt from `clients` threads; an attempt with a schedule waits for its wall-clock time."""
    lock = threading.Lock()
    queue = iter(attempts)

    def worker() -> None:
        with httpx.Client(base_url=base, timeout=60) as c:
            while True:
                with lock:
                    a = next(queue, None)
                if a is None:
                    return
                if a.i in schedule:
                    time.sleep(max(0.0, schedule[a.i] - time.time()))
                a.sent = time.time()
                try:
                    r = c.post(
                        f"/api/v1/calls/{call_id}/bids",
                        json=bid_body(a.i),
                        headers={"Authorization": f"Bearer {tokens[a.i]}"},
                    )
                    a.status = r.status_code
                    body = r.json()
                    if r.status_code == 201:
                        a.bid_id, a.submitted_at = body["id"], dt.datetime.fromisoformat(body["submitted_at"])
                    else:
                        a.code = body.get("error", {}).get("code", "")
                except httpx.HTTPError as exc:
                    a.status, a.code = -1, repr(exc)
                a.answered = time.time()

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bids", type=int, default=1000, help="bids sent at once in the last window before the deadline")
    p.add_argument("--late", type=int, default=50, help="extra bids timed to land within ±0.25 s of the deadline")
    p.add_argument("--window", type=float, default=60.0, help="seconds between publication and the deadline")
    p.add_argument("--clients", type=int, default=32, help="concurrent HTTP clients")
    p.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    args = p.parse_args()

    from market.core.db import create_db_engine, session_scope, set_engine

    work = Path(tempfile.mkdtemp(prefix="bench-calls-"))
    pg = start_postgres(work / "pg" / "data")
    proc = None
    try:
        url = create_pg_database(pg.url, "market_bench")
        migrate(url)
        engine = create_db_engine(url)
        set_engine(engine)
        t = time.perf_counter()
        officer_token, tokens, firm_id = seed(args.bids + args.late)
        print(f"seeded {len(tokens)} bidder organisations in {time.perf_counter() - t:.1f}s")

        env = server_env(work / "data", database_url=url)
        proc, base = start_server(env, args.workers, work / "uvicorn.log")
        deadline = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=args.window)).replace(microsecond=0)
        call_id = publish_call(base, officer_token, firm_id, deadline)
        dl = deadline.timestamp()

        burst = [Attempt(i, late=False) for i in range(args.bids)]
        late = [Attempt(args.bids + j, late=True) for j in range(args.late)]
        rng = random.Random(7)
        schedule = {a.i: dl + rng.uniform(-0.25, 0.25) for a in late}
        print(
            f"call {call_id} published; deadline {deadline.isoformat()} ({dl - time.time():.1f}s away); "
            f"{args.bids} bids now from {args.clients} clients, {args.late} timed around the deadline"
        )
        t0 = time.time()
        fire(base, call_id, tokens, burst, {}, args.clients)
        t1 = time.time()
        # The late bids run on their own clients so a slow burst cannot delay them past their slot.
        fire(
            base,
            call_id,
            tokens,
            sorted(late, key=lambda a: schedule[a.i]),
            schedule,
            min(args.clients, args.late or 1),
        )

        # After the deadline: a change is refused.
        first = next((a for a in burst if a.status == 201), None)
        patch_status = None
        if first is not None:
            time.sleep(max(0.0, dl - time.time()))
            r = httpx.patch(
                f"{base}/api/v1/calls/{call_id}/bids/{first.bid_id}",
                json={"price": "1.00"},
                headers={"Authorization": f"Bearer {tokens[first.i]}"},
                timeout=30,
            )
            patch_status = (r.status_code, r.json()["error"]["code"])

        from market.calls import flows
        from market.calls.models import Bid, Call

        with session_scope() as s:
            moved = flows.advance_deadlines(s)
        with session_scope() as s:
            stored = {b.id: b.submitted_at for b in s.scalars(sa.select(Bid).where(Bid.call_id == call_id))}
            state = s.get(Call, call_id).state

        everyone = burst + late
        accepted = [a for a in everyone if a.status == 201]
        refused = [a for a in everyone if a.status == 409 and a.code == "bidding_closed"]
        other = [a for a in everyone if a not in accepted and a not in refused]
        burst_ok = [a for a in burst if a.status == 201]
        lat = sorted(a.answered - a.sent for a in burst)
        checks = {
            "no other outcome than 201 / 409 bidding_closed": not other,
            "none lost: every 201 is stored, every stored bid got a 201": {a.bid_id for a in accepted} == set(stored),
            "none after: every stored bid was taken before the deadline": all(v < deadline for v in stored.values()),
            "every request sent at/after the deadline was refused": all(
                a.status == 409 for a in everyone if a.sent >= dl
            ),
            "every request answered before the deadline was accepted": all(
                a.status == 201 for a in everyone if a.answered < dl
            ),
            "a change after the deadline is refused (409 bidding_closed)": patch_status == (409, "bidding_closed"),
            "the beat step closed bidding": moved["bidding_closed"] == [call_id] and state == "bidding_closed",
        }
        burst_s = max(a.answered for a in burst) - t0 if burst else 0.0
        print()
        print(f"cores {os.cpu_count()}, uvicorn workers {args.workers}, clients {args.clients}, PostgreSQL (embedded)")
        print(
            f"burst: {len(burst_ok)}/{len(burst)} accepted in {burst_s:.2f}s"
            f" -> {len(burst_ok) / burst_s:.1f} accepted bids/s"
            f"  (p50 {statistics.median(lat) * 1000:.0f} ms, p95 {lat[int(len(lat) * 0.95) - 1] * 1000:.0f} ms;"
            f" burst ended {dl - t1:.1f}s before the deadline)"
        )
        straddle_ok = sum(1 for a in late if a.status == 201)
        print(
            f"around the deadline: {len(late)} bids sent within ±0.25 s -> {straddle_ok} accepted, "
            f"{sum(1 for a in late if a.status == 409)} refused; sent after deadline: "
            f"{sum(1 for a in late if a.sent >= dl)}"
        )
        print(
            f"stored bids {len(stored)}, accepted responses {len(accepted)}, refused {len(refused)}, other {len(other)}"
        )
        for name, ok in checks.items():
            print(f"  [{'ok' if ok else 'FAIL'}] {name}")
        if other:
            print("  first other outcome:", other[0])
        return 0 if all(checks.values()) else 1
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        pg.stop()


if __name__ == "__main__":
    sys.exit(main())
