"""Demo organisations: firms, universities, institutes and intermediaries with valid credit codes."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from market.core.identifiers import CREDIT_CODE_ALPHABET, credit_code_check_char
from market.core.vocab import FilingLevel, OrgKind, TechnicalField
from market.demo.content import BANKS

F = TechnicalField
ALL_FIELDS = tuple(F)

REGION_NAMES = {
    "330203": "海曙区",
    "330205": "江北区",
    "330206": "北仑区",
    "330211": "镇海区",
    "330212": "鄞州区",
    "330213": "奉化区",
    "330281": "余姚市",
    "330282": "慈溪市",
    "330225": "象山县",
    "330226": "宁海县",
    "330100": "杭州市",
    "310115": "上海市浦东新区",
    "320500": "苏州市",
}
NINGBO = ("330203", "330205", "330206", "330211", "330212", "330213", "330281", "330282", "330225", "330226")
ELSEWHERE = ("330100", "310115", "320500")
# How a firm's name starts, by region: 宁波 firms mostly say 宁波, county-level ones their county.
NAME_PREFIX = {
    "330281": ("余姚", "宁波"),
    "330282": ("慈溪", "宁波"),
    "330225": ("象山", "宁波"),
    "330226": ("宁海", "宁波"),
    "330100": ("杭州", "浙江"),
    "310115": ("上海",),
    "320500": ("苏州", "江苏"),
}
BRANDS = (
    "甬兴",
    "天一",
    "四明",
    "明州",
    "东钱",
    "三江",
    "海天",
    "慈航",
    "姚江",
    "奉川",
    "北港",
    "镇远",
    "凤凰",
    "月湖",
    "梅山",
    "象港",
    "宁峰",
    "杉杉",
    "博睿",
    "恒昌",
    "瑞丰",
    "中鼎",
    "华纬",
    "精诚",
    "德瑞",
    "金田",
    "汇泽",
    "启航",
    "联创",
    "拓新",
    "晟泰",
    "宏润",
    "科润",
    "蓝海",
    "远大",
    "亿纬",
    "众诚",
    "鼎力",
)
FIRM_ENTITY_TYPES = ("150", "150", "150", "160", "170")


@dataclass(frozen=True)
class OrgSpec:
    key: str  # stable handle the generator refers to
    name: str
    kind: OrgKind
    entity_type_code: str
    region_code: str
    credit_code: str
    fields: tuple[TechnicalField, ...]
    business: str = ""  # firms: what they do, for demand descriptions
    filing_level: FilingLevel | None = None
    filing_date: dt.date | None = None


# Universities (022) and institutes (021): public institutions; the listings attributed to them are invented.
RESEARCH = (
    ("宁波大学", OrgKind.university, "330205", ALL_FIELDS),
    (
        "宁波诺丁汉大学",
        OrgKind.university,
        "330212",
        (F.electronic_information, F.environmental, F.new_materials, F.urban_social),
    ),
    (
        "宁波工程学院",
        OrgKind.university,
        "330205",
        (F.advanced_manufacturing, F.modern_transport, F.urban_social, F.new_energy),
    ),
    (
        "浙大宁波理工学院",
        OrgKind.university,
        "330212",
        (F.electronic_information, F.advanced_manufacturing, F.biomedicine, F.aerospace),
    ),
    ("浙江万里学院", OrgKind.university, "330212", (F.agriculture, F.biomedicine, F.environmental)),
    ("宁波职业技术学院", OrgKind.university, "330206", (F.advanced_manufacturing, F.new_materials)),
    ("浙江大学", OrgKind.university, "330100", ALL_FIELDS),
    (
        "浙江工业大学",
        OrgKind.university,
        "330100",
        (F.biomedicine, F.environmental, F.advanced_manufacturing, F.new_energy),
    ),
    ("苏州大学", OrgKind.university, "320500", (F.nuclear, F.biomedicine, F.new_materials)),
    ("上海科技大学", OrgKind.university, "310115", (F.electronic_information, F.biomedicine, F.aerospace)),
    (
        "中国科学院宁波材料技术与工程研究所",
        OrgKind.institute,
        "330211",
        (F.new_materials, F.new_energy, F.advanced_manufacturing, F.nuclear, F.aerospace),
    ),
    ("宁波工业互联网研究院", OrgKind.institute, "330206", (F.electronic_information, F.advanced_manufacturing)),
    ("宁波市农业科学研究院", OrgKind.institute, "330212", (F.agriculture,)),
    ("宁波市海洋与渔业研究院", OrgKind.institute, "330212", (F.agriculture, F.environmental)),
    ("宁波市生态环境科学研究院", OrgKind.institute, "330203", (F.environmental, F.urban_social)),
    ("宁波市建筑科学研究院", OrgKind.institute, "330203", (F.urban_social, F.new_materials)),
    ("宁波航空航天创新研究院", OrgKind.institute, "330212", (F.aerospace, F.modern_transport)),
    ("中国科学院上海高等研究院", OrgKind.institute, "310115", (F.new_energy, F.nuclear, F.electronic_information)),
    ("浙江省辐射技术应用研究所", OrgKind.institute, "330100", (F.nuclear, F.biomedicine)),
    ("苏州轨道交通技术研究院", OrgKind.institute, "320500", (F.modern_transport, F.urban_social)),
)

INTERMEDIARIES = (
    ("宁波甬科技术转移有限公司", "150", "330212", FilingLevel.national, dt.date(2019, 12, 6)),
    ("浙江创新港技术转移服务有限公司", "150", "330205", FilingLevel.provincial, dt.date(2021, 6, 18)),
    ("宁波市北仑区科技创新服务中心", "024", "330206", FilingLevel.city, dt.date(2022, 3, 25)),
    ("宁波知识产权运营中心有限公司", "150", "330203", FilingLevel.provincial, dt.date(2020, 9, 10)),
    ("余姚市科技成果转化服务有限公司", "170", "330281", FilingLevel.city, dt.date(2023, 5, 12)),
    ("上海浦江技术转移有限公司", "150", "310115", FilingLevel.national, dt.date(2018, 11, 30)),
    ("苏州工业园区科技成果转化服务有限公司", "160", "320500", FilingLevel.provincial, dt.date(2020, 4, 8)),
)

FIRMS_PER_FIELD = 3


def credit_code(rng: random.Random, *, registrar: str, region_code: str) -> str:
    """A GB 32100 code: registrar (12 事业单位, 91 企业…), region, a 9-char organisation body, check char."""
    body = "".join(rng.choice(CREDIT_CODE_ALPHABET) for _ in range(9))
    first17 = registrar + region_code + body
    return first17 + credit_code_check_char(first17)


def _registrar(entity_type_code: str) -> str:
    return "91" if entity_type_code[0] in "123" else "12"


def demo_orgs(seed: int = 2024) -> list[OrgSpec]:
    """Every demo organisation, deterministic for a seed."""
    rng = random.Random(seed)
    orgs: list[OrgSpec] = []
    for i, (name, kind, region, fields) in enumerate(RESEARCH):
        etc = "022" if kind == OrgKind.university else "021"
        code = credit_code(rng, registrar=_registrar(etc), region_code=region)
        orgs.append(OrgSpec(f"research-{i:02d}", name, kind, etc, region, code, tuple(fields)))
    brands = list(BRANDS)
    rng.shuffle(brands)
    n = 0
    for bank in BANKS:
        for j in range(FIRMS_PER_FIELD):
            # Two in three firms are in Ningbo; the rest in Hangzhou, Shanghai or Suzhou.
            region = rng.choice(NINGBO) if (n % 3) != 2 else rng.choice(ELSEWHERE)
            etc = rng.choice(FIRM_ENTITY_TYPES)
            prefix = rng.choice(NAME_PREFIX.get(region, ("宁波",)))
            suffix = "股份有限公司" if etc == "160" else "有限公司"
            name = f"{prefix}{brands[n % len(brands)]}{bank.industry[j % len(bank.industry)]}{suffix}"
            code = credit_code(rng, registrar="91", region_code=region)
            business = bank.business[j % len(bank.business)]
            orgs.append(OrgSpec(f"firm-{n:02d}", name, OrgKind.enterprise, etc, region, code, (bank.field,), business))
            n += 1
    for i, (name, etc, region, level, filed) in enumerate(INTERMEDIARIES):
        code = credit_code(rng, registrar=_registrar(etc), region_code=region)
        orgs.append(OrgSpec(f"broker-{i:02d}", name, OrgKind.intermediary, etc, region, code, (), "", level, filed))
    return orgs
