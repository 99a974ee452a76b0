"""The cross-run guarantees on a real database: random runs, freezes, amendments, cancellations and payments."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal as D

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from market.accounts.roles import Role
from market.contracts.models import Contract, ContractParty, ContractPayment
from market.core.db import session_scope
from market.core.vocab import OrgKind
from market.subsidies import flows, service
from market.subsidies.calculator import Period
from market.subsidies.models import SubsidyExclusion, SubsidyResult, SubsidyRun, SubsidyRunPolicy
from market.subsidies.settlement import Books, settle_policy
from tests.subsidies.helpers import adopt
from tests.subsidies.ledger import add_contract, add_payment, set_contract

CODES = ["lc2020-seller-development-transfer", "s000-transfer-centre"]
CAP = {"lc2020-seller-development-transfer": D("500000")}
QUARTERS = [
    ("2024-01-01", "2024-03-31"),
    ("2024-04-01", "2024-06-30"),
    ("2024-07-01", "2024-09-30"),
    ("2024-10-01", "2024-12-31"),
    ("2024-01-01", "2024-06-30"),
    ("2024-01-01", "2024-12-31"),
]


@pytest.fixture
def people(world, client):
    uni = world.org(OrgKind.university, region_code="330203")
    officer = world.bureau(Role.programme_officer)
    adopt(client, officer, CODES[0])
    return {
        "uni": uni,
        "firm": world.org(OrgKind.enterprise, region_code="330206"),
        "centre": world.org(OrgKind.intermediary, region_code="330201"),
        "officer": officer,
        "admin": world.bureau(Role.bureau_admin),
    }


def clean() -> None:
    with session_scope() as s:
        for table in (
            SubsidyExclusion,
            SubsidyResult,
            SubsidyRunPolicy,
            SubsidyRun,
            ContractPayment,
            ContractParty,
            Contract,
        ):
            s.execute(sa.delete(table))


def run(client, p, start, end, freeze):
    r = client.post(
        "/api/v1/subsidies/runs",
        headers=p["officer"].headers,
        json={"period_start": start, "period_end": end, "policy_codes": CODES},
    )
    run_id = r.json()["id"]
    flows.compute_run(run_id)
    if freeze:
        for action, who in (("review", "officer"), ("approve", "admin"), ("freeze", "admin")):
            assert client.post(f"/api/v1/subsidies/runs/{run_id}/{action}", headers=p[who].headers).status_code == 200
    return run_id


def frozen_net() -> dict[tuple[str, str], D]:
    net: dict[tuple[str, str], D] = defaultdict(D)
    with session_scope() as s:
        for code, key, difference in s.execute(
            sa.select(SubsidyResult.policy_code, SubsidyResult.beneficiary_key, SubsidyResult.difference)
            .join(SubsidyRun, SubsidyRun.id == SubsidyResult.run_id)
            .where(SubsidyRun.status == "frozen")
        ):
            net[(code, key)] += difference
    return {k: v for k, v in net.items() if v}


step = st.one_of(
    st.tuples(st.just("contract"), st.integers(1, 300), st.integers(-30, 360), st.booleans()),
    st.tuples(st.just("pay"), st.integers(0, 360), st.integers(1, 30)),
    st.tuples(st.just("amend"), st.integers(1, 300)),
    st.tuples(st.just("cancel")),
    st.tuples(st.just("run"), st.sampled_from(QUARTERS), st.booleans()),
)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(step, min_size=1, max_size=8))
def test_random_runs_on_the_database_stay_within_caps_and_end_at_the_full_year(client, people, steps):
    clean()
    p, contracts = people, []
    jan1 = dt.date(2024, 1, 1)
    for s in steps:
        if s[0] == "contract":
            on = jan1 + dt.timedelta(days=s[2])
            contracts.append(
                (
                    add_contract(
                        p["uni"],
                        p["firm"],
                        s[1] * 100_000,
                        intermediary=p["centre"] if s[3] else None,
                        type="development",
                        subtype="commissioned",
                        on=on,
                    ),
                    on,
                )
            )
        elif s[0] == "run":
            run(client, p, *s[1], s[2])
            for (code, _), paid in frozen_net().items():
                assert paid <= CAP.get(code, paid)
        elif contracts:
            cid, on = contracts[-1]
            if s[0] == "pay":
                add_payment(cid, s[2] * 10_000, max(on, jan1 + dt.timedelta(days=s[1])))
            elif s[0] == "amend":
                set_contract(cid, total_amount=D(s[1]) * 100_000, technical_transaction_amount=D(s[1]) * 100_000)
            else:
                set_contract(cid, status="cancelled")
    last = run(client, p, "2024-01-01", "2024-12-31", True)
    year = Period.year(2024)
    with session_scope() as s:
        facts = service.load_facts(s, year)
        policies = {v.id: service.calc.policy_from_dict(v.spec) for v in service.run_policy_versions(s, last)}
    fresh = {}
    for policy in policies.values():
        settlements, _, _ = settle_policy(policy, facts, year, Books())
        fresh |= {(policy.code, x.key): x.due_now for x in settlements if x.due_now}
    assert frozen_net() == fresh
