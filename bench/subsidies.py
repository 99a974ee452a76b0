"""Wall time of a subsidy run: one year of registered contracts, every preset policy, on PostgreSQL.

Starts an embedded PostgreSQL 18 in a temporary directory (or uses --database-url), migrates it with
`alembic upgrade heads`, writes a year of contracts with COPY — beneficiaries, intermediaries with filing
levels, payments, 国内首创/首台套 flags, 创新券 redemptions, achievements transferred more than once,
cancellations — then times `flows.compute_run` (load facts, compute every preset, store results with
their working and exclusions) and prints wall time and contracts per second. Target: < 30 s at full size.

    .venv/bin/python bench/subsidies.py                         # 100,000 contracts, 5,000 beneficiaries
    .venv/bin/python bench/subsidies.py --contracts 20000 --beneficiaries 1000
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import random
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._harness import create_pg_database, migrate  # noqa: E402
from market.core.identifiers import make_credit_code

NINGBO = ["330201", "330203", "330205", "330206", "330211", "330212", "330213", "330225", "330226", "330281"]
ELSEWHERE = ["330102", "330106", "330302", "110108", "310104", "310115", "320505", "440305"]
TYPE_WEIGHTS = {"service": 45, "development": 30, "transfer": 10, "license": 8, "consulting": 7}
SUBTYPES = {
    "service": ["technical_service", "technical_training"],
    "development": ["commissioned", "cooperative"],
    "transfer": ["patent_right", "technical_secret"],
    "license": ["patent_ordinary", "patent_exclusive"],
    "consulting": ["feasibility_study", "analysis_evaluation"],
}


def credit_code(n: int, region: str) -> str:
    return make_credit_code(n, region)


def region(rnd: random.Random) -> str:
    return rnd.choice(NINGBO) if rnd.random() < 0.75 else rnd.choice(ELSEWHERE)


def generate(url: str, n_contracts: int, n_beneficiaries: int, year: int, seed: int) -> dict:
    """Organisations (the beneficiaries), achievements, a year of contracts with parties and payments."""
    import psycopg

    rnd = random.Random(seed)
    now = dt.datetime.now(dt.UTC)
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://", 1)) as conn:
        cur = conn.cursor()
        orgs = []
        n_research = n_beneficiaries // 10
        n_inter = max(6, n_beneficiaries * 6 // 100)
        n_providers = n_beneficiaries // 25
        for i in range(1, n_beneficiaries + 1):
            reg = region(rnd)
            filing = filing_date = None
            if i <= n_research:
                kind, etype = rnd.choice([("university", "022"), ("institute", "021")])
            elif i <= n_research + n_inter:
                kind, etype, reg = "intermediary", "150", rnd.choice(NINGBO)
                filing = rnd.choices(["city", "provincial", "national", None], [50, 25, 10, 15])[0]
                if filing:
                    recent = rnd.random() < 0.15
                    filing_date = dt.date(year if recent else year - 3, rnd.randint(1, 12), rnd.randint(1, 28))
            elif i <= n_research + n_inter + n_providers:
                kind, etype = "enterprise", "150"  # 科技服务机构
            else:
                kind, etype = "enterprise", rnd.choice(["150", "150", "170", "160", "110", "300"])
            orgs.append(
                (
                    i,
                    f"{kind}-{i}",
                    kind,
                    credit_code(20_000_000 + i, reg),
                    True,
                    etype,
                    reg,
                    "CN",
                    "verified",
                    filing,
                    filing_date,
                    False,
                    now,
                    now,
                )
            )
        with cur.copy(
            "COPY organisations (id, name, kind, credit_code, credit_code_check_ok, entity_type_code, "
            "region_code, country, verification_status, filing_level, filing_date, "
            "research_integrity_blacklisted, created_at, updated_at) FROM STDIN"
        ) as cp:
            for row in orgs:
                cp.write_row(row)
        research = orgs[:n_research]
        intermediaries = orgs[n_research : n_research + n_inter]
        providers = orgs[n_research + n_inter : n_research + n_inter + n_providers]
        firms = orgs[n_research + n_inter + n_providers :]
        sellers = research * 6 + firms[: len(firms) // 3]  # universities sign more than their share

        n_achievements = max(10, n_contracts // 50)
        with cur.copy(
            "COPY achievements (id, org_id, title, summary, technical_field, maturity, ip_type, "
            "patent_numbers, transfer_modes, price_negotiable, inventors, recognitions, keywords, "
            "region_code, status, version, created_at, updated_at) FROM STDIN"
        ) as cp:
            for a in range(1, n_achievements + 1):
                holder = rnd.choice(research)
                cp.write_row(
                    (
                        a,
                        holder[0],
                        f"成果{a}",
                        "摘要",
                        "advanced_manufacturing",
                        "pilot",
                        "invention_patent",
                        "[]",
                        "[]",
                        False,
                        "[]",
                        "[]",
                        "[]",
                        holder[6],
                        "published",
                        1,
                        now,
                        now,
                    )
                )

        contracts, parties, payments, vouchers = [], [], [], []
        party_id = payment_id = 1
        types, weights = list(TYPE_WEIGHTS), list(TYPE_WEIGHTS.values())
        for cid in range(1, n_contracts + 1):
            ctype = rnd.choices(types, weights)[0]
            seller = rnd.choice(providers) if ctype == "service" and rnd.random() < 0.3 else rnd.choice(sellers)
            buyer = rnd.choice(firms)
            total = int(min(2e9, math.exp(rnd.gauss(math.log(300_000), 1.4))) * 100)  # fen
            technical = total - total * rnd.choice([0, 0, 0, 5, 10, 30]) // 100
            day = dt.date(year, rnd.randint(1, 12), rnd.randint(1, 28))
            status = "cancelled" if rnd.random() < 0.02 else "registered"
            achievement = (
                rnd.randint(1, n_achievements) if ctype in ("transfer", "license") and rnd.random() < 0.2 else None
            )
            flag = rnd.random()
            reg_at = dt.datetime.combine(day, dt.time(2, 0), dt.UTC)
            contracts.append(
                (
                    cid,
                    status,
                    ctype,
                    rnd.choice(SUBTYPES[ctype]),
                    f"项目 {cid}",
                    total,
                    technical,
                    False,
                    flag < 0.005,
                    0.005 <= flag < 0.01,
                    False,
                    False,
                    achievement,
                    seller[0],
                    "330200",
                    year,
                    cid,
                    f"{year}330200{cid:07d}",
                    reg_at,
                    day,
                    None if status == "registered" else day,
                    1,
                    now,
                    now,
                )
            )
            for role, org in (("seller", seller), ("buyer", buyer)):
                parties.append((party_id, cid, role, org[0], org[1], org[3], org[5], org[6], "CN", None))
                party_id += 1
            if rnd.random() < 0.4:
                inter = rnd.choice(intermediaries)
                parties.append(
                    (
                        party_id,
                        cid,
                        "intermediary",
                        inter[0],
                        inter[1],
                        inter[3],
                        inter[5],
                        inter[6],
                        "CN",
                        f"经纪人{rnd.randint(1, 5)}",
                    )
                )
                party_id += 1
            if rnd.random() < 0.7:
                paid = total * rnd.randint(30, 100) // 100
                payments.append((payment_id, cid, paid, min(day + dt.timedelta(days=30), dt.date(year, 12, 31)), now))
                payment_id += 1
            if ctype == "service" and rnd.random() < 0.05:
                vouchers.append((len(vouchers) + 1, cid, now))
        with cur.copy(
            "COPY contracts (id, status, contract_type, subtype, project_name, total_amount, "
            "technical_transaction_amount, related_party, domestic_first, first_set, technology_import, "
            "disputed, achievement_id, filer_org_id, registration_office, registration_year, "
            "registration_sequence, registration_number, registered_at, registration_date, cancelled_on, "
            "version, created_at, updated_at) FROM STDIN"
        ) as cp:
            for row in contracts:
                cp.write_row(row)
        with cur.copy(
            "COPY contract_parties (id, contract_id, role, org_id, name, credit_code, entity_type_code, "
            "region_code, country, broker_name) FROM STDIN"
        ) as cp:
            for row in parties:
                cp.write_row(row)
        with cur.copy("COPY contract_payments (id, contract_id, amount, received_on, recorded_at) FROM STDIN") as cp:
            for row in payments:
                cp.write_row(row)
        with cur.copy("COPY subsidy_voucher_redemptions (id, contract_id, recorded_at) FROM STDIN") as cp:
            for row in vouchers:
                cp.write_row(row)
        cur.execute(
            "INSERT INTO organisations (id, name, kind, entity_type_code, region_code, country, "
            "verification_status, credit_code_check_ok, research_integrity_blacklisted, created_at, updated_at) "
            "VALUES (%s, '科技局', 'bureau', '010', '330200', 'CN', 'verified', true, false, now(), now())",
            (n_beneficiaries + 1,),
        )
        cur.execute(
            "INSERT INTO users (id, org_id, username, display_name, role, is_active, created_at, updated_at) "
            "VALUES (1, %s, 'officer', 'officer', 'programme_officer', true, now(), now())",
            (n_beneficiaries + 1,),
        )
        # Subsidy inputs count once verified: the bureau's filing records, recorded recognitions, confirmed links.
        cur.execute(
            "INSERT INTO intermediary_filings (org_id, level, status, migrated_claim, filing_number, filed_on, "
            "applied_at, created_at, updated_at) SELECT id, filing_level, 'recorded', false, 'F-' || id, "
            "filing_date, now(), now(), now() FROM organisations WHERE filing_level IS NOT NULL"
        )
        for kind in ("domestic_first", "first_set"):
            cur.execute(
                "INSERT INTO subsidy_contract_recognitions (contract_id, kind, document_reference, recorded_at) "
                f"SELECT id, '{kind}', 'bench', now() FROM contracts WHERE {kind}"
            )
        cur.execute("UPDATE contracts SET achievement_link_confirmed_at = now() WHERE achievement_id IS NOT NULL")
        for table in (
            "organisations",
            "users",
            "achievements",
            "contracts",
            "contract_parties",
            "contract_payments",
            "subsidy_voucher_redemptions",
        ):
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        conn.commit()
        conn.autocommit = True
        for table in (
            "organisations",
            "contracts",
            "contract_parties",
            "contract_payments",
            "subsidy_voucher_redemptions",
        ):
            cur.execute(f"VACUUM ANALYZE {table}")
    return {
        "parties": party_id - 1,
        "payments": len(payments),
        "vouchers": len(vouchers),
        "bureau_org": n_beneficiaries + 1,
    }


def run(url: str, n_contracts: int, n_beneficiaries: int, year: int, seed: int) -> dict:
    from market.accounts.roles import Role
    from market.auth.actor import Actor
    from market.core.db import create_db_engine, session_scope, set_engine
    from market.subsidies import calculator as calc
    from market.subsidies import flows, service
    from market.subsidies.models import SubsidyExclusion, SubsidyResult

    started = time.perf_counter()
    info = generate(url, n_contracts, n_beneficiaries, year, seed)
    print(
        f"generated {n_contracts:,} contracts, {n_beneficiaries:,} organisations, {info['parties']:,} parties, "
        f"{info['payments']:,} payments, {info['vouchers']:,} voucher redemptions in "
        f"{time.perf_counter() - started:.1f}s",
        flush=True,
    )
    set_engine(create_db_engine(url))
    officer = Actor(
        user_id=1, org_id=info["bureau_org"], role=Role.programme_officer, org_kind="bureau", org_verified=True
    )
    with session_scope() as s:
        # Every preset, as before: another city's are adopted for this one first (they ship disabled).
        from market.subsidies.presets import adopted, all_presets

        service.ensure_presets(s)
        here = service.jurisdiction()
        for p in all_presets(here):
            if p.jurisdiction != here:
                service.edit_policy(s, officer, p.code, calc.policy_to_dict(adopted(p, here)))
        run_row = service.create_run(s, officer, period_start=dt.date(year, 1, 1), period_end=dt.date(year, 12, 31))
        run_id, n_policies = run_row.id, run_row.progress_total - 1

    # The part that counts: the whole computation as the worker runs it (stages timed by thin wrappers).
    stages: dict[str, float] = {"load": 0.0, "compute": 0.0, "store": 0.0, "working": 0.0, "insert": 0.0}

    def timed(stage, fn):
        def wrapper(*a, **kw):
            t = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                stages[stage] += time.perf_counter() - t

        return wrapper

    service.load_facts = timed("load", service.load_facts)
    service.store = timed("store", service.store)
    calc.compute = timed("compute", calc.compute)
    calc.working_json = timed("working", calc.working_json)
    bulk_insert = service.bulk_insert

    def timed_insert(session, table, rows):
        t = time.perf_counter()
        bulk_insert(session, table, rows)
        stages["insert"] += time.perf_counter() - t
        stages[table.name] = stages.get(table.name, 0.0) + time.perf_counter() - t

    service.bulk_insert = timed_insert
    t0 = time.perf_counter()
    result = flows.compute_run(run_id)
    wall = time.perf_counter() - t0

    with session_scope() as s:
        results = s.scalar(sa.select(sa.func.count()).select_from(SubsidyResult).where(SubsidyResult.run_id == run_id))
        exclusions = s.scalar(
            sa.select(sa.func.count()).select_from(SubsidyExclusion).where(SubsidyExclusion.run_id == run_id)
        )
        paid = s.scalar(
            sa.select(sa.func.count(sa.distinct(SubsidyResult.beneficiary_key))).where(
                SubsidyResult.run_id == run_id, SubsidyResult.total > 0
            )
        )
    return {
        "contracts": result.contract_count,
        "policies": n_policies,
        "wall_s": wall,
        "contracts_per_s": result.contract_count / wall,
        "total": result.total,
        "results": results,
        "exclusions": exclusions,
        "beneficiaries_paid": paid,
        "load_s": stages["load"],
        "compute_s": stages["compute"],
        "store_s": stages["store"],
        "working_json_s": stages["working"],
        "insert_s": stages["insert"],
        "insert_results_s": stages.get("subsidy_results", 0.0),
        "insert_exclusions_s": stages.get("subsidy_exclusions", 0.0),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contracts", type=int, default=100_000)
    parser.add_argument("--beneficiaries", type=int, default=5_000)
    parser.add_argument("--year", type=int, default=2024)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--revision", default="heads", help="alembic target (e.g. 0004 if another branch is mid-edit)")
    parser.add_argument(
        "--database-url", help="an empty PostgreSQL database; default: embedded PostgreSQL in a temp dir"
    )
    args = parser.parse_args()

    server = None
    url = args.database_url
    if not url:
        from market.embedded import start_postgres

        tmp = Path(tempfile.mkdtemp(prefix="market-bench-subsidies-"))
        server = start_postgres(tmp / "pg" / "data")
        url = create_pg_database(server.url, "subsidy_bench")
    url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        migrate(url, args.revision)
        r = run(url, args.contracts, args.beneficiaries, args.year, args.seed)
    finally:
        if server is not None:
            server.stop()
    print(json.dumps({k: (str(v) if not isinstance(v, int | float) else v) for k, v in r.items()}, ensure_ascii=False))
    print(
        f"subsidy run: {r['contracts']:,} contracts × {r['policies']} policies in {r['wall_s']:.2f}s wall "
        f"= {r['contracts_per_s']:,.0f} contracts/s (target < 30 s); of which load {r['load_s']:.2f}s, "
        f"compute {r['compute_s']:.2f}s, store {r['store_s']:.2f}s (working JSON {r['working_json_s']:.2f}s, "
        f"COPY {r['insert_s']:.2f}s); {r['results']:,} results, {r['exclusions']:,} exclusions stored, "
        f"{r['beneficiaries_paid']:,} beneficiaries paid, total {r['total']} yuan"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
