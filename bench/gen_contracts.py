"""Generate N registered technology contracts (with parties, events and ledger rows) in PostgreSQL via COPY.

Distributions are shaped like a city's registry: most contracts are 技术服务 / 技术开发, amounts are
log-normal (median ≈ 300k yuan, a long tail to hundreds of millions), registrations grow year on
year and peak in December, ~60 % of sellers and buyers are in Ningbo (3302xx), the rest elsewhere in
Zhejiang, in other provinces or (buyers, ~1 %) abroad; a third go through an intermediary; ~3 % are
amended later and ~2 % cancelled (each adding its signed ledger rows, as the service would). The
statistics rollup is then rebuilt from the ledger (`market.stats.rollup.rebuild`), as the service
would have kept it.

    .venv/bin/python bench/gen_contracts.py --database-url postgresql://… -n 1000000
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import random
import sys
import time
from pathlib import Path

import psycopg
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from market.contracts import rules  # noqa: E402
from market.core.identifiers import make_credit_code
from market.core.vocab import IPType, TechnicalField  # noqa: E402

NINGBO = ["330203", "330205", "330206", "330211", "330212", "330213", "330225", "330226", "330281", "330282"]
ZHEJIANG = ["330102", "330106", "330108", "330302", "330402", "330502", "330602", "330702", "331002"]
ELSEWHERE = ["110108", "310104", "310115", "320102", "320505", "340104", "440305", "420111", "510107", "610113"]
TYPE_WEIGHTS = {"service": 45, "development": 30, "transfer": 10, "license": 8, "consulting": 7}
IP_BY_TYPE = {
    "transfer": ["invention_patent", "utility_model", "technical_secret", "software_copyright"],
    "license": ["invention_patent", "utility_model", "technical_secret"],
}


def credit_code(n: int, region: str) -> str:
    return make_credit_code(n, region)


def pick_region(rnd: random.Random) -> str:
    x = rnd.random()
    if x < 0.6:
        return rnd.choice(NINGBO)
    if x < 0.85:
        return rnd.choice(ZHEJIANG)
    return rnd.choice(ELSEWHERE)


def make_orgs(rnd: random.Random, n_sellers: int, n_buyers: int, n_brokers: int, start_id: int) -> list[dict]:
    orgs = []
    kinds = (
        [("university", "022")] * 2
        + [("institute", "021")] * 3
        + [("enterprise", "150")] * 4
        + [("enterprise", "170")] * 1
    )
    buyer_types = ["150", "150", "150", "170", "160", "110", "300", "200", "021", "024"]
    for i in range(n_sellers + n_buyers + n_brokers):
        oid = start_id + i
        region = pick_region(rnd)
        if i < n_sellers:
            kind, etype, role = (*rnd.choice(kinds), "seller")
        elif i < n_sellers + n_buyers:
            kind, etype, role = "enterprise", rnd.choice(buyer_types), "buyer"
        else:
            kind, etype, role, region = "intermediary", "150", "broker", rnd.choice(NINGBO)
        orgs.append(
            {
                "id": oid,
                "name": f"{kind}-{oid}",
                "kind": kind,
                "etype": etype,
                "region": region,
                "code": credit_code(10_000_000 + oid, region),
                "role": role,
            }
        )
    return orgs


def registration_day(rnd: random.Random, first_year: int, years: int, today: dt.date) -> dt.date:
    # Later years weigh more (growth ≈ 20 %/year); December is the busiest month.
    weights = [1.2**k for k in range(years)]
    year = first_year + rnd.choices(range(years), weights)[0]
    month = rnd.choices(range(1, 13), [6, 5, 8, 8, 8, 9, 8, 8, 9, 8, 9, 14])[0]
    day = rnd.randint(1, 28)
    d = dt.date(year, month, day)
    return d if d <= today else today - dt.timedelta(days=rnd.randint(0, 60))


def generate(database_url: str, n: int, years: int = 5, seed: int = 42, verbose: bool = True) -> dict:
    rnd = random.Random(seed)
    today = dt.date.today()
    first_year = today.year - years + 1
    url = database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    started = time.perf_counter()
    with psycopg.connect(url) as conn:
        cur = conn.cursor()
        base_org = (cur.execute("SELECT coalesce(max(id), 0) FROM organisations").fetchone()[0]) + 1
        base_contract = (cur.execute("SELECT coalesce(max(id), 0) FROM contracts").fetchone()[0]) + 1
        n_sellers, n_buyers = max(50, n // 300), max(100, n // 60)
        orgs = make_orgs(rnd, n_sellers, n_buyers, max(10, n // 5000), base_org)
        sellers = [o for o in orgs if o["role"] == "seller"]
        buyers = [o for o in orgs if o["role"] == "buyer"]
        brokers = [o for o in orgs if o["role"] == "broker"]
        now = dt.datetime.now(dt.UTC)
        with cur.copy(
            "COPY organisations (id, name, kind, credit_code, credit_code_check_ok, entity_type_code, "
            "region_code, country, verification_status, research_integrity_blacklisted, created_at, "
            "updated_at) FROM STDIN"
        ) as cp:
            for o in orgs:
                cp.write_row(
                    (
                        o["id"],
                        o["name"],
                        o["kind"],
                        o["code"],
                        True,
                        o["etype"],
                        o["region"],
                        "CN",
                        "verified",
                        False,
                        now,
                        now,
                    )
                )
        # Sellers follow a Zipf-like popularity: a few universities sign most contracts.
        seller_weights = [1 / (k + 1) ** 0.8 for k in range(len(sellers))]
        types = list(TYPE_WEIGHTS)
        type_weights = list(TYPE_WEIGHTS.values())
        fields = [f.value for f in TechnicalField]
        field_weights = [30, 2, 25, 12, 8, 8, 5, 1, 3, 3, 3]
        seq: dict[int, int] = {}
        contract_rows, party_rows, event_rows, ledger_rows = [], [], [], []
        event_id = (cur.execute("SELECT coalesce(max(id), 0) FROM contract_events").fetchone()[0]) + 1
        party_id = (cur.execute("SELECT coalesce(max(id), 0) FROM contract_parties").fetchone()[0]) + 1
        ledger_id = (cur.execute("SELECT coalesce(max(id), 0) FROM contract_ledger").fetchone()[0]) + 1
        seller_picks = rnd.choices(sellers, seller_weights, k=n)
        for i in range(n):
            cid = base_contract + i
            seller = seller_picks[i]
            buyer = rnd.choice(buyers)
            foreign = rnd.random() < 0.01
            broker = rnd.choice(brokers) if rnd.random() < 0.33 else None
            ctype = rnd.choices(types, type_weights)[0]
            subtype = rnd.choice(list(rules.CONTRACT_TYPES[ctype][1]))
            total_fen = int(min(5e10, math.exp(rnd.gauss(math.log(300_000), 1.4))) * 100)
            deduction = total_fen * rnd.choice([0, 0, 0, 5, 10, 30]) // 100
            tta = total_fen - deduction
            ip = rnd.choice(IP_BY_TYPE.get(ctype, [i.value for i in IPType]))
            tfield = rnd.choices(fields, field_weights)[0]
            day = registration_day(rnd, first_year, years, today)
            seq[day.year] = seq.get(day.year, 0) + 1
            number = rules.format_registration_number(day.year, "330200", seq[day.year])
            signed = day - dt.timedelta(days=rnd.randint(1, 40))
            until = signed + dt.timedelta(days=rnd.choice([180, 365, 730, 1095]))
            reg_at = dt.datetime.combine(day, dt.time(2, 0), dt.UTC)
            contract_rows.append(
                (
                    cid,
                    "registered",
                    ctype,
                    subtype,
                    f"项目 {cid}",
                    signed,
                    signed,
                    until,
                    total_fen,
                    tta,
                    rnd.choice(list(rules.PAYMENT_METHODS)),
                    ip,
                    tfield,
                    rnd.choice(list(rules.PLAN_SOURCES)),
                    False,
                    False,
                    False,
                    False,
                    False,
                    seller["id"],
                    reg_at,
                    signed + dt.timedelta(days=20),
                    "330200",
                    day.year,
                    seq[day.year],
                    number,
                    reg_at,
                    day,
                    1,
                    reg_at,
                    reg_at,
                )
            )
            b_name, b_code, b_etype, b_region, b_country = (
                ("Foreign Buyer Ltd", None, None, None, "US")
                if foreign
                else (buyer["name"], buyer["code"], buyer["etype"], buyer["region"], "CN")
            )
            party_rows.append(
                (
                    party_id,
                    cid,
                    "seller",
                    seller["id"],
                    seller["name"],
                    seller["code"],
                    seller["etype"],
                    seller["region"],
                    "CN",
                    None,
                )
            )
            party_rows.append(
                (
                    party_id + 1,
                    cid,
                    "buyer",
                    None if foreign else buyer["id"],
                    b_name,
                    b_code,
                    b_etype,
                    b_region,
                    b_country,
                    None,
                )
            )
            party_id += 2
            if broker:
                party_rows.append(
                    (
                        party_id,
                        cid,
                        "intermediary",
                        broker["id"],
                        broker["name"],
                        broker["code"],
                        "150",
                        broker["region"],
                        "CN",
                        "经纪人",
                    )
                )
                party_id += 1
            snap = json.dumps({"version": 1, "total_amount": f"{total_fen / 100:.2f}", "contract_type": ctype})
            event_rows.append((event_id, cid, "registered", 1, day, reg_at, None, None, snap, None))
            dims = (
                ctype,
                subtype,
                tfield,
                ip,
                seller["id"],
                seller["name"],
                seller["code"],
                seller["etype"],
                seller["region"],
                "CN",
                None if foreign else buyer["id"],
                b_name,
                b_code or "",
                b_etype or "",
                b_region or "",
                b_country,
                broker["id"] if broker else None,
                broker["name"] if broker else "",
            )
            ledger_rows.append((ledger_id, cid, event_id, day, day.year, day.month, 1, total_fen, tta, *dims))
            ledger_id += 1
            event_id += 1
            later = day + dt.timedelta(days=rnd.randint(1, 200))
            x = rnd.random()
            if later <= today and x < 0.05:
                kind = "amended" if x < 0.03 else "cancelled"
                event_rows.append(
                    (event_id, cid, kind, 2 if kind == "amended" else 1, later, reg_at, None, "bench", snap, None)
                )
                ledger_rows.append(
                    (ledger_id, cid, event_id, later, later.year, later.month, -1, -total_fen, -tta, *dims)
                )
                ledger_id += 1
                if kind == "amended":
                    new_total = total_fen + total_fen // 10
                    ledger_rows.append(
                        (
                            ledger_id,
                            cid,
                            event_id,
                            later,
                            later.year,
                            later.month,
                            1,
                            new_total,
                            new_total - deduction,
                            *dims,
                        )
                    )
                    ledger_id += 1
                    contract_rows[-1] = (
                        *contract_rows[-1][:8],
                        new_total,
                        new_total - deduction,
                        *contract_rows[-1][10:28],
                        2,
                        *contract_rows[-1][29:],
                    )
                else:
                    contract_rows[-1] = (*contract_rows[-1][:1], "cancelled", *contract_rows[-1][2:])
                event_id += 1
            if len(contract_rows) >= 20_000 or i == n - 1:
                _flush(cur, contract_rows, party_rows, event_rows, ledger_rows)
                if verbose:
                    print(f"  {i + 1:>9,} contracts  {time.perf_counter() - started:6.1f}s", flush=True)
        for year, last in seq.items():
            cur.execute(
                "INSERT INTO contract_number_counters (office, year, last_value) VALUES ('330200', %s, %s) "
                "ON CONFLICT (office, year) DO UPDATE SET last_value = EXCLUDED.last_value",
                (year, last),
            )
        for table in ("organisations", "contracts", "contract_parties", "contract_events", "contract_ledger"):
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        conn.commit()
        copied = time.perf_counter()
        rollup_rows = rebuild_rollup(url)
        rebuilt = time.perf_counter()
        if verbose:
            print(f"  rollup rebuilt from the ledger: {rollup_rows:,} rows in {rebuilt - copied:.1f}s", flush=True)
        conn.autocommit = True
        for table in (
            "contracts",
            "contract_parties",
            "contract_events",
            "contract_ledger",
            "organisations",
            "stats_rollup",
        ):
            cur.execute(f"VACUUM ANALYZE {table}")
    return {
        "contracts": n,
        "seconds": time.perf_counter() - started,
        "first_year": first_year,
        "rollup_rows": rollup_rows,
        "rollup_seconds": rebuilt - copied,
    }


def rebuild_rollup(url: str) -> int:
    """The rollup from the ledger just copied, through the same code as `market stats-rollup`."""
    from sqlalchemy.orm import Session

    from market.core.db import create_db_engine
    from market.stats import rollup

    engine = create_db_engine(url.replace("postgresql://", "postgresql+psycopg://", 1), poolclass=sa.NullPool)
    try:
        with Session(engine) as session, session.begin():
            return rollup.rebuild(session)
    finally:
        engine.dispose()


def _flush(cur, contracts, parties, events, ledger) -> None:
    with cur.copy(
        "COPY contracts (id, status, contract_type, subtype, project_name, signing_date, valid_from, "
        "valid_until, total_amount, technical_transaction_amount, payment_method, ip_type, technical_field, "
        "plan_source, related_party, domestic_first, first_set, technology_import, disputed, filer_org_id, "
        "submitted_at, decision_deadline, registration_office, registration_year, registration_sequence, "
        "registration_number, registered_at, registration_date, version, created_at, updated_at) "
        "FROM STDIN"
    ) as cp:
        for row in contracts:
            cp.write_row(row)
    with cur.copy(
        "COPY contract_parties (id, contract_id, role, org_id, name, credit_code, entity_type_code, "
        "region_code, country, broker_name) FROM STDIN"
    ) as cp:
        for row in parties:
            cp.write_row(row)
    with cur.copy(
        "COPY contract_events (id, contract_id, kind, version, effective_date, recorded_at, "
        "registrar_user_id, reason, snapshot, previous) FROM STDIN"
    ) as cp:
        for row in events:
            cp.write_row(row)
    with cur.copy(
        "COPY contract_ledger (id, contract_id, event_id, entry_date, entry_year, entry_month, sign, "
        "total_amount, technical_transaction_amount, contract_type, subtype, technical_field, ip_type, "
        "seller_org_id, seller_name, seller_credit_code, seller_entity_type, seller_region, seller_country, "
        "buyer_org_id, buyer_name, buyer_credit_code, buyer_entity_type, buyer_region, buyer_country, "
        "intermediary_org_id, intermediary_name) FROM STDIN"
    ) as cp:
        for row in ledger:
            cp.write_row(row)
    for rows in (contracts, parties, events, ledger):
        rows.clear()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("-n", type=int, default=1_000_000, help="registered contracts to generate")
    parser.add_argument("--years", type=int, default=5)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    result = generate(args.database_url, args.n, args.years, args.seed)
    print(f"generated {result['contracts']:,} contracts in {result['seconds']:.1f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
