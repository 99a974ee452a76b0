"""Controlled vocabularies shared by every domain: codes in English, labels in Chinese."""

from __future__ import annotations

from enum import StrEnum

# A listing published and still on the market: visible to everyone and searchable (listings and search share it).
LISTING_PUBLIC_STATES = frozenset({"published", "matched", "negotiating"})


class TechnicalField(StrEnum):
    """技术领域 — the national statistics' eleven fields."""

    electronic_information = "electronic_information"
    aerospace = "aerospace"
    advanced_manufacturing = "advanced_manufacturing"
    biomedicine = "biomedicine"
    new_materials = "new_materials"
    new_energy = "new_energy"
    environmental = "environmental"
    nuclear = "nuclear"
    agriculture = "agriculture"
    modern_transport = "modern_transport"
    urban_social = "urban_social"


TECHNICAL_FIELD_LABELS = {
    TechnicalField.electronic_information: "电子信息",
    TechnicalField.aerospace: "航空航天",
    TechnicalField.advanced_manufacturing: "先进制造",
    TechnicalField.biomedicine: "生物、医药和医疗器械",
    TechnicalField.new_materials: "新材料及其应用",
    TechnicalField.new_energy: "新能源与高效节能",
    TechnicalField.environmental: "环境保护与资源综合利用",
    TechnicalField.nuclear: "核应用",
    TechnicalField.agriculture: "农业",
    TechnicalField.modern_transport: "现代交通",
    TechnicalField.urban_social: "城市建设与社会发展",
}


class Maturity(StrEnum):
    """成熟度, in order of readiness."""

    lab = "lab"  # 实验室
    pilot_small = "pilot_small"  # 小试
    pilot = "pilot"  # 中试
    small_batch = "small_batch"  # 小批量
    industrial = "industrial"  # 产业化


MATURITY_LABELS = {
    Maturity.lab: "实验室",
    Maturity.pilot_small: "小试",
    Maturity.pilot: "中试",
    Maturity.small_batch: "小批量",
    Maturity.industrial: "产业化",
}
MATURITY_RANK = {m: i for i, m in enumerate(Maturity, start=1)}


def technical_field_label(code: str) -> str:
    """The field's Chinese name; a code outside the vocabulary is shown as it is."""
    return TECHNICAL_FIELD_LABELS[TechnicalField(code)] if code in TECHNICAL_FIELD_LABELS else code


def maturity_from_trl(trl: int) -> Maturity:
    """Map a technology readiness level (TRL 1-9) onto the five maturity stages."""
    if trl <= 3:
        return Maturity.lab
    if trl == 4:
        return Maturity.pilot_small
    if trl in (5, 6):
        return Maturity.pilot
    if trl == 7:
        return Maturity.small_batch
    return Maturity.industrial


class TransferMode(StrEnum):
    """转化方式 / 合作方式."""

    transfer = "transfer"  # 转让
    license = "license"  # 许可
    joint_development = "joint_development"  # 合作开发
    equity = "equity"  # 作价入股
    technical_service = "technical_service"  # 技术服务


TRANSFER_MODE_LABELS = {
    TransferMode.transfer: "转让",
    TransferMode.license: "许可",
    TransferMode.joint_development: "合作开发",
    TransferMode.equity: "作价入股",
    TransferMode.technical_service: "技术服务",
}


class IPType(StrEnum):
    """知识产权类型."""

    invention_patent = "invention_patent"  # 发明专利
    utility_model = "utility_model"  # 实用新型
    design = "design"  # 外观设计
    software_copyright = "software_copyright"  # 软件著作权
    ic_layout = "ic_layout"  # 集成电路布图设计
    plant_variety = "plant_variety"  # 植物新品种
    technical_secret = "technical_secret"  # 技术秘密
    other = "other"  # 其他
    none = "none"  # 未涉及知识产权


IP_TYPE_LABELS = {
    IPType.invention_patent: "发明专利",
    IPType.utility_model: "实用新型专利",
    IPType.design: "外观设计专利",
    IPType.software_copyright: "软件著作权",
    IPType.ic_layout: "集成电路布图设计",
    IPType.plant_variety: "植物新品种",
    IPType.technical_secret: "技术秘密",
    IPType.other: "其他知识产权",
    IPType.none: "未涉及知识产权",
}


class OrgKind(StrEnum):
    enterprise = "enterprise"  # 企业
    university = "university"  # 高等院校
    institute = "institute"  # 科研机构
    intermediary = "intermediary"  # 技术转移服务机构
    bureau = "bureau"  # 科技局
    other = "other"


ENTITY_TYPE_LABELS = {
    "010": "机关",
    "021": "科研机构",
    "022": "高等院校",
    "023": "医疗卫生",
    "024": "其他事业",
    "030": "社团",
    "100": "内资企业",
    "110": "国有企业",
    "120": "集体企业",
    "130": "股份合作企业",
    "140": "联营企业",
    "150": "有限责任公司",
    "160": "股份有限公司",
    "170": "私营企业",
    "190": "其他内资企业",
    "200": "港澳台商投资企业",
    "300": "外商投资企业",
    "400": "个体经营",
    "500": "其他",
}


def is_known_entity_type(code: str) -> bool:
    """法人性质: the listed codes, or any 1xx domestic-enterprise code."""
    return code in ENTITY_TYPE_LABELS or (len(code) == 3 and code.isdigit() and code[0] == "1")


def is_enterprise_entity(code: str) -> bool:
    return code[:1] in {"1", "2", "3"}


def is_research_entity(code: str) -> bool:
    """高等院校 or 科研机构."""
    return code in {"021", "022"}


class FilingLevel(StrEnum):
    """技术转移服务机构备案级别."""

    national = "national"
    provincial = "provincial"
    city = "city"
