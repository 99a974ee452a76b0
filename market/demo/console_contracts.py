"""Demo data for the console's registrar pages and the director's dashboard: technology contracts.

- last year's and this year's registrations, month by month, through the audited import (the only way to a past
  registration date), so the dashboard compares this year with last and a subsidy run has last year to work on;
- contracts filed today by the demo universities and institutes through the contracts service, waiting in the
  registrar's queue (one returned for correction already);
- this year's turnover target, so progress against it shows.

Everything goes through the services the API uses and is audited like any other change.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from market.accounts import service as accounts
from market.accounts.models import Organisation, User
from market.accounts.roles import Role
from market.auth.actor import Actor
from market.contracts import service as contracts
from market.contracts.schemas import ContractIn
from market.core.vocab import OrgKind, TechnicalField
from market.stats import service as stats

SEED = 2026
BUREAU = ("科技局", "330200")
REGISTRARS = (("demo-registrar", "周登记"), ("demo-registrar-2", "吴登记"))
DIRECTOR = ("demo-director", "郑局长")
# (type, subtype, ip type, project name stem)
DEALS = (
    ("transfer", "patent_right", "invention_patent", "专利权转让"),
    ("license", "patent_ordinary", "invention_patent", "专利普通实施许可"),
    ("development", "commissioned", "none", "委托开发"),
    ("development", "cooperative", "none", "合作开发"),
    ("consulting", "analysis_evaluation", "none", "技术评价咨询"),
    ("service", "technical_service", "none", "技术服务"),
    ("transfer", "technical_secret", "technical_secret", "技术秘密转让"),
    ("license", "technical_secret", "technical_secret", "技术秘密许可"),
)
SUBJECTS = (
    "伺服电机高精度控制算法",
    "注塑件银纹缺陷在线检测",
    "海水淡化膜抗污染涂层",
    "锂电池极片涂布厚度控制",
    "港口集装箱智能理货视觉系统",
    "养殖尾水生态净化工艺",
    "稀土永磁材料晶界扩散",
    "医用导管亲水涂层",
    "石化装置泄漏红外监测",
    "家电变频驱动芯片方案",
)
PAYMENTS = ("lump_sum", "instalments", "royalty")
PLANS = ("unplanned", "unplanned", "municipal", "provincial", "national")


def _user(session: Session, org: Organisation, username: str, name: str, role: Role) -> Actor:
    user = session.scalar(sa.select(User).where(User.username == username))
    if user is None:
        user = accounts.create_user(session, org=org, username=username, password=None, display_name=name, role=role)
    return accounts.actor_for_user(session, user, org)


def _org_admin(session: Session, org: Organisation) -> Actor | None:
    user = session.scalar(sa.select(User).where(User.org_id == org.id, User.role == Role.org_admin).order_by(User.id))
    return accounts.actor_for_user(session, user, org) if user is not None else None


def _amounts(rng: random.Random) -> tuple[Decimal, Decimal]:
    """合同成交额 and 技术交易额 (a deduction of up to a fifth), in whole thousands of yuan."""
    total = Decimal(rng.randrange(80, 3200)) * 1000
    deducted = (total * Decimal(rng.choice((0, 0, 5, 10, 20))) / 100).quantize(Decimal("1000"))
    return total, total - deducted


def _import_row(
    rng: random.Random, seller: Organisation, buyer: Organisation, day: dt.date, number: str, i: int
) -> dict[str, Any]:
    kind, subtype, ip_type, stem = DEALS[i % len(DEALS)]
    total, technical = _amounts(rng)
    signed = day - dt.timedelta(days=rng.randrange(5, 40))
    fields = list(TechnicalField)
    row: dict[str, Any] = {
        "registration_number": number,
        "registration_date": day.isoformat(),
        "project_name": f"{SUBJECTS[i % len(SUBJECTS)]}{stem}",
        "contract_type": kind,
        "subtype": subtype,
        "signing_date": signed.isoformat(),
        "valid_from": signed.isoformat(),
        "valid_until": (signed + dt.timedelta(days=rng.randrange(365, 1100))).isoformat(),
        "total_amount": str(total),
        "technical_transaction_amount": str(technical),
        "payment_method": PAYMENTS[i % len(PAYMENTS)],
        "ip_type": ip_type,
        "technical_field": fields[rng.randrange(len(fields))].value,
        "plan_source": PLANS[i % len(PLANS)],
    }
    for role, org in (("seller", seller), ("buyer", buyer)):
        row |= {
            f"{role}_name": org.name,
            f"{role}_credit_code": org.credit_code,
            f"{role}_entity_type": org.entity_type_code,
            f"{role}_region": org.region_code,
        }
    return row


def load_console_contracts(session: Session, *, today: dt.date | None = None) -> dict[str, int]:
    """Registrations of last year and this year, a queue of filed contracts, and this year's target."""
    today = today or contracts.today()
    rng = random.Random(SEED)
    bureau = accounts.ensure_bureau(session, name=BUREAU[0], region_code=BUREAU[1], credit_code=None)
    registrars = [_user(session, bureau, u, n, Role.registrar) for u, n in REGISTRARS]
    director = _user(session, bureau, *DIRECTOR, Role.bureau_admin)
    verified = sa.select(Organisation).where(Organisation.verification_status == "verified").order_by(Organisation.id)
    research = list(session.scalars(verified.where(Organisation.kind.in_((OrgKind.university, OrgKind.institute)))))
    firms = list(session.scalars(verified.where(Organisation.kind == OrgKind.enterprise)))
    local = [o for o in research if o.region_code.startswith("3302")]
    if len(local) < 2 or len(firms) < 4:
        return {"contracts_imported": 0, "contracts_filed": 0}
    # Sellers are mostly local research bodies (技术输出), buyers local and outside firms (吸纳, 流出);
    # some local firms buy from outside (流入).
    rows: list[dict[str, Any]] = []
    months = [(today.year - 1, m) for m in range(1, 13)] + [(today.year, m) for m in range(1, today.month + 1)]
    for year, month in months:
        for k in range(rng.randrange(2, 6)):
            day = dt.date(year, month, rng.randrange(1, 28))
            if day >= today:
                continue
            i = len(rows)
            seller = research[rng.randrange(len(research))] if i % 5 == 4 else local[rng.randrange(len(local))]
            buyer = firms[rng.randrange(len(firms))]
            rows.append(_import_row(rng, seller, buyer, day, f"DEMO{year}{month:02d}{k:02d}", i))
    imported = contracts.import_rows(session, director, rows)

    # Filed today, waiting for a registrar: the sellers' own administrators file them (as through the API).
    filed = 0
    for i in range(8):
        seller, buyer = local[i % len(local)], firms[(i * 3) % len(firms)]
        actor = _org_admin(session, seller)
        if actor is None:
            continue
        kind, subtype, ip_type, stem = DEALS[i % len(DEALS)]
        total, technical = _amounts(rng)
        if i == 0:  # a large one: 30 working days to decide
            total, technical = Decimal("6800000"), Decimal("6500000")
        body = ContractIn.model_validate(
            {
                "project_name": f"{SUBJECTS[(i + 3) % len(SUBJECTS)]}{stem}",
                "contract_type": kind,
                "subtype": subtype,
                "signing_date": (today - dt.timedelta(days=3 + i)).isoformat(),
                "valid_from": (today - dt.timedelta(days=3 + i)).isoformat(),
                "valid_until": (today + dt.timedelta(days=730)).isoformat(),
                "total_amount": str(total),
                "technical_transaction_amount": str(technical),
                "deductions": [{"kind": "equipment", "description": "样机及设备", "amount": str(total - technical)}]
                if total > technical
                else [],
                "payment_method": PAYMENTS[i % len(PAYMENTS)],
                "ip_type": ip_type,
                "technical_field": list(TechnicalField)[i % len(TechnicalField)].value,
                "plan_source": "unplanned",
                "parties": [{"role": "seller", "org_id": seller.id}, {"role": "buyer", "org_id": buyer.id}],
            }
        )
        contract, _ = contracts.file_contract(session, actor, body, idempotency_key=None)
        filed += 1
        if i == 7:  # one already returned for correction
            contracts.return_for_correction(
                session, registrars[1], contract.id, [{"field": "parties", "message": "买方签章页缺失，请补充"}]
            )
    done = stats.totals(session, dt.date(today.year, 1, 1), today)
    stats.set_target(
        session,
        director.user_id,
        today.year,
        None,
        contract_count=max(10, done.count * 12 // max(today.month, 1)),
        total_amount=(done.total_amount * 12 / max(today.month, 1)).quantize(Decimal("1000")) or Decimal("1000000"),
        technical_transaction_amount=(done.technical_transaction_amount * 12 / max(today.month, 1)).quantize(
            Decimal("1000")
        )
        or Decimal("1000000"),
    )
    return {"contracts_imported": len(imported), "contracts_filed": filed}
