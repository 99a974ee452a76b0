"""Every statistic reconciles exactly with an independent Python tally of what was registered, amended, cancelled."""

import datetime as dt
import random
from collections import defaultdict
from decimal import Decimal

import sqlalchemy as sa

from market.accounts.roles import Role
from market.auth.actor import Actor
from market.contracts import rules, service
from market.contracts.schemas import AmendmentIn
from market.core.db import session_scope
from market.core.vocab import IPType, OrgKind, TechnicalField
from market.stats import rollup
from market.stats import service as stats
from market.stats.models import RollupRow
from tests.contracts.history import import_contract
from tests.contracts.payloads import contract_body

REGIONS = ["330203", "330205", "330212", "330100", "310104", "110108"]  # Ningbo ×3, Hangzhou, Shanghai, Beijing


def actor_of(member, role=Role.org_admin):
    return Actor(user_id=member.user_id, org_id=member.org_id, role=role, org_kind="x", org_verified=True)


def build_ledger(world, n=36, seed=7):
    """Register n random contracts, amend and cancel some; return the tally of expected ledger entries."""
    rnd = random.Random(seed)
    from market.accounts.models import Organisation

    members = []
    for i in range(8):
        kind = [OrgKind.university, OrgKind.institute, OrgKind.enterprise][i % 3]
        members.append(
            world.member(
                kind, region_code=REGIONS[i % len(REGIONS)], entity_type_code=["022", "021", "150", "170"][i % 4]
            )
        )
    broker = world.org(OrgKind.intermediary, region_code="330203")
    registrar = actor_of(world.bureau(Role.registrar), Role.registrar)
    orgs = {}
    with session_scope() as s:
        for org_id in [m.org_id for m in members] + [broker]:
            o = s.get(Organisation, org_id)
            orgs[org_id] = {"code": o.credit_code, "name": o.name, "etype": o.entity_type_code, "region": o.region_code}
    today = service.today()
    entries = []  # (date, sign, dims)
    types = [(t, s) for t, (_, subs) in rules.CONTRACT_TYPES.items() for s in subs]
    registered = []
    for i in range(n):
        seller, buyer = rnd.sample(members, 2)
        ctype, subtype = rnd.choice(types)
        total = Decimal(rnd.randrange(10_000_00, 9_000_000_00)) / 100
        deduction = (total * Decimal(rnd.choice([0, 0, 5, 20])) / 100).quantize(Decimal("0.01"))
        foreign_buyer = i % 9 == 4
        parties = [
            {"role": "seller", "org_id": seller.org_id},
            {"role": "buyer", "name": "Acme Robotics Inc.", "country": "US"}
            if foreign_buyer
            else {"role": "buyer", "org_id": buyer.org_id},
        ]
        with_broker = i % 3 == 0
        if with_broker:
            parties.append({"role": "intermediary", "org_id": broker, "broker_name": "张经纪"})
        reg_day = today - dt.timedelta(days=rnd.randrange(0, 500))
        body = contract_body(
            seller.org_id,
            buyer.org_id,
            contract_type=ctype,
            subtype=subtype,
            total_amount=str(total),
            deductions=[{"kind": "equipment", "amount": str(deduction)}] if deduction else [],
            technical_transaction_amount=None,
            technical_field=rnd.choice(list(TechnicalField)).value,
            ip_type=rnd.choice(list(IPType)).value,
            parties=parties,
            signing_date=(reg_day - dt.timedelta(days=3)).isoformat(),
            valid_from=(reg_day - dt.timedelta(days=3)).isoformat(),
        )
        cid = import_contract(world, body, reg_day)
        buyer_dims = (
            {"code": "", "name": "Acme Robotics Inc.", "etype": "", "region": ""}
            if foreign_buyer
            else orgs[buyer.org_id]
        )
        dims = {
            "contract_type": ctype,
            "subtype": f"{ctype}.{subtype}",
            "technical_field": body["technical_field"],
            "ip_type": body["ip_type"],
            "seller": orgs[seller.org_id],
            "buyer": buyer_dims,
            "intermediary": orgs[broker]["name"] if with_broker else "",
            "total": total,
            "tta": total - deduction,
        }
        entries.append((reg_day, 1, dims))
        registered.append((cid, reg_day, dims))
    current = {cid: dims for cid, _, dims in registered}
    # amend a third (amount, or type and field) at a later date, then cancel some, amended ones included
    for cid, reg_day, dims in registered[::3]:
        day = reg_day + dt.timedelta(days=rnd.randrange(0, (today - reg_day).days + 1))
        new = dict(dims)
        change = {"reason": "变更"}
        if rnd.random() < 0.5:
            new["total"] = dims["total"] + Decimal("12345.67")
            new["tta"] = new["total"] - (dims["total"] - dims["tta"])
            change["total_amount"] = str(new["total"])
        else:
            new.update(technical_field="nuclear", contract_type="service", subtype="service.technical_service")
            change.update(technical_field="nuclear", contract_type="service", subtype="technical_service")
        with session_scope() as s:
            service.amend(s, registrar, cid, AmendmentIn(**change, effective_date=day))
        entries += [(day, -1, dims), (day, 1, new)]
        current[cid] = new
    for cid, _, _ in registered[::6] + registered[1::6]:
        with session_scope() as s:
            service.cancel(s, registrar, cid, "解除", today)
        entries.append((today, -1, current[cid]))
    return entries


def tally(entries, start, end, key):
    out = defaultdict(lambda: [0, Decimal("0.00"), Decimal("0.00")])
    for day, sign, dims in entries:
        if start <= day <= end:
            k = key(dims)
            if k is None:
                continue
            out[k][0] += sign
            out[k][1] += sign * dims["total"]
            out[k][2] += sign * dims["tta"]
    return {k: tuple(v) for k, v in out.items() if any(v)}


def as_map(table):
    return {r["key"]: (r["count"], r["total_amount"], r["technical_transaction_amount"]) for r in table.rows}


KEYS = {
    "contract_type": lambda d: d["contract_type"],
    "subtype": lambda d: d["subtype"],
    "technical_field": lambda d: d["technical_field"],
    "ip_type": lambda d: d["ip_type"],
    "seller_entity_type": lambda d: d["seller"]["etype"],
    "buyer_entity_type": lambda d: d["buyer"]["etype"],
    "seller_region": lambda d: d["seller"]["region"],
    "buyer_region": lambda d: d["buyer"]["region"],
    "intermediary": lambda d: d["intermediary"] or None,
    "seller": lambda d: d["seller"]["code"] or d["seller"]["name"],
    "buyer": lambda d: d["buyer"]["code"] or d["buyer"]["name"],
}


def test_every_breakdown_reconciles(world, engine):
    entries = build_ledger(world)
    today = service.today()
    last_month_end = today.replace(day=1) - dt.timedelta(days=1)
    # Mid-month edges (ledger), whole months and whole years (rollup), and both at once.
    windows = [
        (dt.date(today.year, 1, 1), today),
        (today - dt.timedelta(days=800), today),
        (today - dt.timedelta(days=200), today - dt.timedelta(days=30)),
        (dt.date(today.year - 1, 1, 1), dt.date(today.year - 1, 12, 31)),
        (dt.date(today.year - 1, today.month, 1), last_month_end),
        (dt.date(today.year - 2, 12, 1), today),
        (today, today),
    ]
    with session_scope() as s:
        # The rollup the service kept in step equals a GROUP BY over the ledger, and a rebuild changes nothing.
        assert rollup.differences(s) == []
        kept = sorted(s.execute(sa.select(RollupRow.__table__)).all())
        assert kept, "registrations must reach the rollup"
        assert rollup.rebuild(s) == len(kept)
        assert sorted(s.execute(sa.select(RollupRow.__table__)).all()) == kept
        for start, end in windows:
            everything = tally(entries, start, end, lambda d: "all").get("all", (0, Decimal(0), Decimal(0)))
            t = stats.totals(s, start, end)
            assert (t.count, t.total_amount, t.technical_transaction_amount) == everything
            for dim, key in KEYS.items():
                assert as_map(stats.breakdown(s, dim, start, end)) == tally(entries, start, end, key), dim
            for side in ("seller", "buyer"):  # top N: ranked in one pass, summed in another, the same rows
                for order_by in stats.ORDERINGS:
                    full = stats.breakdown(s, side, start, end, order_by=order_by).rows
                    top = stats.top_parties(s, side, start, end, limit=3, order_by=order_by).rows
                    assert top == full[: len(top)] and (top or not full), (side, order_by)
            for level in (2, 4):
                got = as_map(stats.breakdown(s, "seller_region", start, end, region_level=level))
                assert got == tally(entries, start, end, lambda d: d["seller"]["region"][:level]), level
            flows = {
                r["key"]: (r["count"], r["total_amount"], r["technical_transaction_amount"])
                for r in stats.flows(s, start, end, "3302").rows
            }
            local = lambda r: r.startswith("3302")  # noqa: E731
            expect = {
                "output": lambda d: "x" if local(d["seller"]["region"]) else None,
                "absorption": lambda d: "x" if local(d["buyer"]["region"]) else None,
                "local_local": lambda d: "x" if local(d["seller"]["region"]) and local(d["buyer"]["region"]) else None,
                "inflow": lambda d: "x" if local(d["buyer"]["region"]) and not local(d["seller"]["region"]) else None,
                "outflow": lambda d: "x" if local(d["seller"]["region"]) and not local(d["buyer"]["region"]) else None,
            }
            for name, key in expect.items():
                assert flows[name] == tally(entries, start, end, key).get("x", (0, Decimal("0.00"), Decimal("0.00"))), (
                    name
                )
        # series by month against the tally, and year-on-year
        series = stats.series(s, dt.date(today.year - 1, 1, 1), today, "month")
        for row in series.rows:
            y, m = map(int, row["period"].split("-"))
            start, end = stats.period_bounds(y, m)
            expected = tally(entries, start, end, lambda d: "all").get("all", (0, Decimal("0.00"), Decimal("0.00")))
            assert (row["count"], row["total_amount"], row["technical_transaction_amount"]) == expected
            prev = tally(entries, *stats.period_bounds(y - 1, m), lambda d: "all").get("all", (0, 0, 0))
            assert row["previous_count"] == prev[0]
        quarters = stats.series(s, dt.date(today.year - 1, 1, 1), today, "quarter")
        assert sum(r["count"] for r in quarters.rows) == sum(r["count"] for r in series.rows)
