"""Compose demo listings from the content banks: pure, deterministic for a seed.

An achievement or demand comes out as the exact `data` dict the listings service takes,
plus the organisation that posts it and the state it should end in.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from market.core.identifiers import patent_check_char
from market.core.vocab import IP_TYPE_LABELS, TRANSFER_MODE_LABELS, IPType, Maturity, OrgKind, TransferMode
from market.demo.content import BANKS, GIVEN_NAMES, SURNAMES, FieldBank, Problem, Tech
from market.demo.orgs import OrgSpec

NEGOTIABLE = "面议"
ListingKind = Literal["achievement", "demand"]
FinalState = Literal["published", "draft", "closed", "withdrawn"]

# Share of listings that are achievements; the rest are demands.
ACHIEVEMENT_SHARE = 0.6
# Most listings are live; a few drafts, a few closed or withdrawn, as on a real market.
STATE_WEIGHTS: tuple[tuple[FinalState, int], ...] = (("published", 86), ("draft", 7), ("closed", 5), ("withdrawn", 2))

TRL_FOR = {
    Maturity.lab: (2, 3),
    Maturity.pilot_small: (4,),
    Maturity.pilot: (5, 6),
    Maturity.small_batch: (7,),
    Maturity.industrial: (8, 9),
}
# Asking prices in 万元 (10,000 yuan), by maturity: the further along, the dearer.
PRICE_WAN = {
    Maturity.lab: (10, 80),
    Maturity.pilot_small: (30, 150),
    Maturity.pilot: (50, 300),
    Maturity.small_batch: (100, 500),
    Maturity.industrial: (200, 1500),
}
STAGE_TEXT = {
    Maturity.lab: (
        "目前已完成实验室原理验证，关键指标经多轮重复实验确认，具备开展小试的条件。",
        "已完成实验室阶段研究，发表相关论文多篇，亟需与企业合作推进工程化。",
    ),
    Maturity.pilot_small: (
        "已完成小试，制备样品经第三方检测机构检测，主要指标达到设计要求。",
        "小试样品已送合作企业试用，反馈良好，正在开展工艺放大研究。",
    ),
    Maturity.pilot: (
        "已建成中试线并连续稳定运行3个月以上，具备工程放大条件。",
        "已在合作企业完成中试验证，形成了完整的工艺包和质量标准。",
    ),
    Maturity.small_batch: (
        "已实现小批量生产，在3家以上企业开展应用验证，产品性能稳定。",
        "已小批量供货，用户使用报告齐全，可快速导入量产。",
    ),
    Maturity.industrial: (
        "已实现产业化应用，近三年累计实现销售收入超过5000万元。",
        "已在多家龙头企业规模化应用，技术成熟可靠，可提供成套技术服务。",
    ),
}
RESEARCH_MATURITY = (
    (Maturity.lab, 3),
    (Maturity.pilot_small, 3),
    (Maturity.pilot, 3),
    (Maturity.small_batch, 1),
    (Maturity.industrial, 1),
)
FIRM_MATURITY = ((Maturity.pilot, 1), (Maturity.small_batch, 3), (Maturity.industrial, 3))
PATENT_TYPE_DIGIT = {IPType.invention_patent: "1", IPType.utility_model: "2"}
RESEARCH_MODES = (
    TransferMode.transfer,
    TransferMode.license,
    TransferMode.joint_development,
    TransferMode.equity,
    TransferMode.technical_service,
)
FIRM_MODES = (TransferMode.license, TransferMode.technical_service, TransferMode.joint_development)
DEMAND_MODES = (
    TransferMode.joint_development,
    TransferMode.technical_service,
    TransferMode.transfer,
    TransferMode.license,
)


@dataclass(frozen=True)
class ListingSpec:
    kind: ListingKind
    org_key: str
    data: dict
    final_state: FinalState


def patent_number(year: int, type_digit: str, serial: int) -> str:
    """A granted CNIPA number (ZL + 12 digits + check char), e.g. ZL201710601862.3."""
    digits = f"{year:04d}{type_digit}{serial:07d}"
    return f"ZL{digits}.{patent_check_char(digits)}"


def _weighted(rng: random.Random, pairs):
    values, weights = zip(*pairs, strict=True)
    return rng.choices(values, weights=weights)[0]


def _wan(amount: Decimal) -> str:
    wan = amount / 10000
    return f"{wan:.0f}万元" if wan == wan.to_integral_value() else f"{wan}万元"


def _people(rng: random.Random, n: int) -> list[str]:
    names: list[str] = []
    while len(names) < n:
        name = rng.choice(SURNAMES) + rng.choice(GIVEN_NAMES)
        if name not in names:
            names.append(name)
    return names


def _labels(modes) -> str:
    return "、".join(TRANSFER_MODE_LABELS[m] for m in modes)


def achievement_titles(tech: Tech) -> list[str]:
    """Ways the same technology is titled, most plain first."""
    u = tech.uses
    return [tech.name, f"面向{u[0]}的{tech.name}", f"{tech.name}及其在{u[1]}中的应用", f"{u[2]}用{tech.name}"]


def demand_titles(problem: Problem) -> list[str]:
    return [f"{problem.subject}技术需求", f"寻求{problem.subject}技术合作", f"{problem.subject}解决方案征集"]


def _ip(rng: random.Random, tech: Tech, patent_serials: set[str]) -> tuple[IPType, list[str], str]:
    ip = tech.ip if rng.random() < 0.85 else IPType.technical_secret
    if ip in PATENT_TYPE_DIGIT:
        numbers = []
        for _ in range(rng.choice((1, 1, 2, 3))):
            number = ""
            while not number or number in patent_serials:  # no two listings claim the same patent
                number = patent_number(rng.randint(2016, 2024), PATENT_TYPE_DIGIT[ip], rng.randint(1, 9999999))
            patent_serials.add(number)
            numbers.append(number)
        return ip, numbers, f"已获授权{IP_TYPE_LABELS[ip]}{len(numbers)}项（专利号：{'、'.join(numbers)}）。"
    text = {
        IPType.software_copyright: f"已登记软件著作权{rng.randint(2, 6)}项，并申请发明专利{rng.randint(1, 3)}项。",
        IPType.ic_layout: "已完成集成电路布图设计登记，并申请相关发明专利。",
        IPType.technical_secret: "核心工艺参数以技术秘密形式保护，可提供完整工艺包。",
        IPType.plant_variety: "相关品种已获植物新品种权，并通过省级品种审定。",
    }.get(ip, "")
    return ip, [], text


def compose_achievement(
    rng: random.Random, bank: FieldBank, tech: Tech, title: str, holder: OrgSpec, patent_serials: set[str]
) -> dict:
    research = holder.kind in (OrgKind.university, OrgKind.institute)
    maturity = _weighted(rng, RESEARCH_MATURITY if research else FIRM_MATURITY)
    trl = rng.choice(TRL_FOR[maturity]) if rng.random() < 0.7 else None
    ip, patents, ip_text = _ip(rng, tech, patent_serials)
    offered = RESEARCH_MODES if research else FIRM_MODES
    modes = sorted(rng.sample(offered, rng.randint(1, 3)), key=list(TransferMode).index)
    price: Decimal | str
    if rng.random() < 0.25:
        price, price_text = NEGOTIABLE, "价格面议。"
    else:
        low, high = PRICE_WAN[maturity]
        amount = Decimal(rng.randint(low, high) * 10000)
        price, price_text = amount, f"意向价格{_wan(amount)}，可根据合作方式协商。"
    recognitions = []
    if maturity in (Maturity.small_batch, Maturity.industrial) and rng.random() < 0.2:
        recognitions.append("domestic_first")
    if maturity == Maturity.industrial and not research and rng.random() < 0.4:
        recognitions.append("first_set")
    params = rng.sample(tech.params, min(len(tech.params), rng.randint(2, 4)))
    team = "项目团队" if research else "公司研发团队"
    uses = "、".join(tech.uses)
    opening = rng.choice(
        (
            f"针对{tech.pain}的问题，{team}开展了系统研究。",
            f"{tech.uses[0]}等领域长期存在{tech.pain}的难题。",
            f"本成果面向{uses}等应用，解决{tech.pain}的问题。",
        )
    )
    applies = "" if uses in opening else f"可应用于{uses}等领域。"
    recognition_text = ""
    if "domestic_first" in recognitions:
        recognition_text += "经科技查新，该技术属国内首创。"
    if "first_set" in recognitions:
        recognition_text += "相关成套装备已通过省首台（套）产品认定。"
    summary = (
        f"{opening}技术方案：{tech.what}。主要技术指标：{'；'.join(params)}。"
        f"{rng.choice(STAGE_TEXT[maturity])}{ip_text}{recognition_text}"
        f"{applies}拟以{_labels(modes)}方式与企业合作，{price_text}"
    )
    keywords = list(tech.keywords)
    if rng.random() < 0.5:
        keywords.append(tech.uses[0])
    return {
        "title": title,
        "summary": summary,
        "technical_field": bank.field.value,
        "keywords": keywords,
        "maturity": maturity.value,
        "trl": trl,
        "ip_type": ip.value,
        "patent_numbers": patents,
        "transfer_modes": [m.value for m in modes],
        "asking_price": price,
        "inventors": _people(rng, rng.randint(2, 5)),
        "recognitions": recognitions,
        "region_code": holder.region_code,
    }


def compose_demand(
    rng: random.Random, bank: FieldBank, problem: Problem, title: str, firm: OrgSpec, today: dt.date
) -> dict:
    wanted = _weighted(rng, ((Maturity.pilot, 2), (Maturity.small_batch, 3), (Maturity.industrial, 3), (None, 2)))
    modes = sorted(rng.sample(DEMAND_MODES, rng.randint(1, 2)), key=list(TransferMode).index)
    budget: Decimal | str
    if rng.random() < 0.25:
        budget, budget_text = NEGOTIABLE, "费用面议，"
    else:
        amount = Decimal(rng.randint(10, 500) * 10000)
        budget, budget_text = amount, f"预算约{_wan(amount)}，"
    deadline = today + dt.timedelta(days=rng.randint(60, 365)) if rng.random() < 0.85 else None
    targets = "；".join(f"{i}. {t}" for i, t in enumerate(problem.targets, start=1))
    closing = rng.choice(
        (
            "希望合作方具备相关研发经验和工程化能力，可提供现场技术支持。",
            "欢迎高校院所和科技型企业对接，可先提供样品或方案进行验证。",
            "合作方需签订保密协议，项目完成后提供技术资料和人员培训。",
        )
    )
    description = (
        f"我公司主要从事{firm.business}。{problem.situation}。现寻求{problem.subject}方面的技术合作，"
        f"具体要求：{targets}。{closing}{budget_text}合作方式为{_labels(modes)}"
        + (f"，希望在{deadline.year}年{deadline.month}月前完成对接。" if deadline else "。")
    )
    return {
        "title": title,
        "description": description,
        "technical_field": bank.field.value,
        "keywords": list(problem.keywords),
        "wanted_maturity": wanted.value if wanted else None,
        "budget": budget,
        "cooperation_modes": [m.value for m in modes],
        "deadline": deadline,
        "region_code": firm.region_code,
    }


def _round_robin(per_field: dict, count: int) -> list:
    """Take `count` items, cycling over the fields so every field gets its share."""
    out: list = []
    queues = {k: list(v) for k, v in per_field.items()}
    while len(out) < count and any(queues.values()):
        for q in queues.values():
            if q and len(out) < count:
                out.append(q.pop(0))
    if len(out) < count:
        raise ValueError(f"the content banks hold only {len(out)} distinct listings of this kind; asked for {count}")
    return out


def demo_listings(
    orgs: list[OrgSpec], *, count: int = 320, seed: int = 2024, today: dt.date | None = None
) -> list[ListingSpec]:
    """`count` distinct listings: achievements from universities, institutes and firms, demands from firms."""
    rng = random.Random(seed)
    today = today or dt.date.today()
    research = [o for o in orgs if o.kind in (OrgKind.university, OrgKind.institute)]
    firms = [o for o in orgs if o.kind == OrgKind.enterprise]
    n_achievements = round(count * ACHIEVEMENT_SHARE)

    # Per field, candidate titles in rounds: every technology once, then its variants.
    ach_pool, dem_pool = {}, {}
    for bank in BANKS:
        rounds = [[(bank, tech, achievement_titles(tech)[r]) for tech in bank.techs] for r in range(4)]
        for r in rounds:
            rng.shuffle(r)
        ach_pool[bank.field] = [c for r in rounds for c in r]
        demand_rounds = [[(bank, p, demand_titles(p)[r]) for p in bank.problems] for r in range(3)]
        for dr in demand_rounds:
            rng.shuffle(dr)
        dem_pool[bank.field] = [c for dr in demand_rounds for c in dr]

    specs: list[ListingSpec] = []
    patent_serials: set[str] = set()
    for bank, tech, title in _round_robin(ach_pool, n_achievements):
        in_field_research = [o for o in research if bank.field in o.fields]
        in_field_firms = [o for o in firms if bank.field in o.fields]
        holder = rng.choice(in_field_firms if rng.random() < 0.2 else in_field_research)
        data = compose_achievement(rng, bank, tech, title, holder, patent_serials)
        specs.append(ListingSpec("achievement", holder.key, data, _weighted(rng, STATE_WEIGHTS)))
    for bank, problem, title in _round_robin(dem_pool, count - n_achievements):
        firm = rng.choice([o for o in firms if bank.field in o.fields])
        data = compose_demand(rng, bank, problem, title, firm, today)
        specs.append(ListingSpec("demand", firm.key, data, _weighted(rng, STATE_WEIGHTS)))
    return specs
