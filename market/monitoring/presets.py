"""Shipped indicator sets: seed 000 篇四's 区科技创新能力监测评价指标体系, exactly its numbers.

Where the source is open or garbled the choice is written next to the indicator:
- 高新技术企业数量 (10 points) lists "≧100家 (10分)" and then the bands of the per-thousand indicator
  below it ("10-5家 (4-3.5分)", …): nothing covers 10–100. The gap is filled linearly from 4 points at
  10 to 10 points at 100, so the scale stays continuous; edit the set (a new version) to decide otherwise.
- 科技管理机构情况 reads "鼓励行政科技管理部门 (4分)": taken as 独立 (an independent) 科技管理部门, the
  items being mutually exclusive arrangements (4 / 2 / 1) plus a 领导小组 (1), capped at 5.
- 争取上级支持与奖励's "其他部门行业奖励和表彰酌情得分" is an item worth 1 point each, awarded at discretion.
- 科技管理创新情况 has no scale: points are assessed (0–5).

Of the table, the market's own records support one figure: 省级以上技术转移机构 (an item of
省级以上创新创业服务机构建设情况), counted from national / provincial filings in force. The other indicators
are fiscal, statistical and registry figures of other departments and are entered. 技术合同成交额 and its
ratio to GDP (seed 000's targets) are not in 篇四's table: a set version can add them as indicators with
`"market": "contract_turnover"` / `"turnover_gdp_pct"`, and the monthly view shows them regardless.
"""

from __future__ import annotations

from typing import Any

SEED_000_PIAN4 = "科技创新跃升计划实施方案 篇四 附件: 区科技创新能力监测评价指标体系 (seed 000)"


def scale(*points: tuple[str, str]) -> dict[str, Any]:
    """Bands from (value, score) points, ascending from (0, 0): linear between points, flat above the last."""
    bands: list[dict[str, str | None]] = [
        {"from": a, "to": b, "score_from": sa, "score_to": sb}
        for (a, sa), (b, sb) in zip(points, points[1:], strict=False)
    ]
    top, score = points[-1]
    bands.append({"from": top, "to": None, "score_from": score, "score_to": score})
    return {"kind": "bands", "bands": bands}


def items(cap: str, **entries: tuple[str, str]) -> dict[str, Any]:
    return {
        "kind": "per_item",
        "max": cap,
        "items": {code: {"label": label, "points": points} for code, (label, points) in entries.items()},
    }


def ind(
    code: str,
    name: str,
    weight: str,
    unit: str,
    department: str,
    rule: dict[str, Any],
    note: str = "",
    market: dict[str, str] | str | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "code": code,
        "name": name,
        "weight": weight,
        "unit": unit,
        "department": department,
        "rule": rule,
    }
    if market:
        out["market"] = market
    return {**out, "note": note} if note else out


def pian4() -> dict[str, Any]:
    """The whole table: 创新投入 20, 创新主体 25, 创新条件 25, 创新产出 15, 创新管理 15 = 100 points."""
    fin, stat, sci, amr = "区财政局", "区统计局", "区科信局", "区市场监督管理局"
    return {
        "source": SEED_000_PIAN4,
        "dimensions": [
            {
                "code": "input",
                "name": "创新投入",
                "weight": "20",
                "indicators": [
                    ind(
                        "fiscal_expenditure",
                        "地方财政支出",
                        "5",
                        "万元",
                        fin,
                        scale(("0", "0"), ("1000", "3"), ("5000", "4"), ("10000", "5")),
                    ),
                    ind(
                        "fiscal_st_share",
                        "地方财政科技支出占公共财政支出的比重",
                        "8",
                        "%",
                        fin,
                        scale(("0", "0"), ("0.5", "4"), ("1", "6"), ("2", "8")),
                    ),
                    ind(
                        "rd_intensity",
                        "规上工业企业R&D经费支出占主营业务收入的比重",
                        "7",
                        "%",
                        stat,
                        scale(("0", "0"), ("0.5", "4"), ("1", "6"), ("1.5", "7")),
                    ),
                ],
            },
            {
                "code": "actors",
                "name": "创新主体",
                "weight": "25",
                "indicators": [
                    ind(
                        "high_tech_enterprises",
                        "高新技术企业数量",
                        "10",
                        "家",
                        sci,
                        scale(("0", "0"), ("2", "2.5"), ("5", "3.5"), ("10", "4"), ("100", "10")),
                        note="source gives no band for 10–100 家; filled linearly 4 → 10 points",
                    ),
                    ind(
                        "high_tech_per_thousand",
                        "千家工商注册企业中高新技术企业数量",
                        "4",
                        "家",
                        f"{sci}, {amr}",
                        scale(("0", "0"), ("2", "2.5"), ("5", "3.5"), ("10", "4")),
                    ),
                    ind(
                        "tech_smes",
                        "科技型中小企业",
                        "7",
                        "家",
                        sci,
                        scale(("0", "0"), ("100", "2.5"), ("500", "5"), ("1000", "7")),
                    ),
                    ind(
                        "tech_smes_per_thousand",
                        "千家工商注册企业中科技型中小企业数量",
                        "4",
                        "家",
                        f"{sci}, {amr}",
                        scale(("0", "0"), ("30", "2.5"), ("100", "3.5"), ("300", "4")),
                    ),
                ],
            },
            {
                "code": "conditions",
                "name": "创新条件",
                "weight": "25",
                "indicators": [
                    ind(
                        "platforms",
                        "省级以上科技创新平台建设情况",
                        "8",
                        "家",
                        f"{sci}, 区发展和改革局",
                        items(
                            "8",
                            national_key_lab=("国家级重点实验室", "2"),
                            provincial_key_lab=("省级重点实验室", "1"),
                            national_innovation_center=("国家级技术创新中心 / 工程研究中心", "2"),
                            provincial_innovation_center=("省级技术创新中心 / 工程研究中心", "1"),
                            national_enterprise_tech_center=("国家级企业技术中心", "2"),
                            provincial_enterprise_tech_center=("省级企业技术中心", "1"),
                            national_clinical_center=("国家级临床医学研究中心", "2"),
                            provincial_clinical_center=("省级临床医学研究中心", "1"),
                            provincial_industry_institute=("省级产业技术研究院", "1"),
                        ),
                    ),
                    ind(
                        "parks",
                        "省级以上创新园区、基地建设情况",
                        "6",
                        "家",
                        sci,
                        items(
                            "6",
                            national_high_tech_zone=("国家级高新区", "3"),
                            provincial_high_tech_zone=("省级高新区", "2"),
                            national_agri_park=("国家级农业科技园区", "2"),
                            provincial_agri_park=("省级农业科技园区", "1"),
                            national_sustainable_zone=("国家级可持续发展实验区", "2"),
                            provincial_sustainable_zone=("省级可持续发展实验区", "1"),
                            national_industry_base=("国家级特色产业基地", "1"),
                            provincial_industry_base=("省级特色产业基地", "0.5"),
                            national_innovative_county=("国家级创新型县", "3"),
                            provincial_innovative_county=("省级创新型县", "2"),
                            national_cooperation_base=("国家级国际科技合作基地", "2"),
                            provincial_cooperation_base=("省级国际科技合作基地", "1"),
                            national_innovative_town=("国家级创新型乡镇", "0.5"),
                            provincial_innovative_town=("省级创新型乡镇", "0.3"),
                        ),
                    ),
                    ind(
                        "service_bodies",
                        "省级以上创新创业服务机构建设情况",
                        "6",
                        "家",
                        sci,
                        items(
                            "6",
                            national_incubator=("国家级孵化器", "2"),
                            provincial_incubator=("省级孵化器", "1"),
                            national_maker_space=("国家级众创空间 (星创天地)", "1"),
                            provincial_maker_space=("省级众创空间 (星创天地)", "0.5"),
                            productivity_center=("省级以上生产力促进中心", "1"),
                            innovation_alliance=("省级以上产业技术创新战略联盟", "1"),
                            tech_transfer_institution=("省级以上技术转移机构", "1"),
                            technology_market=("省级以上技术市场", "1"),
                            academician_workstation=("院士工作站", "0.5"),
                        ),
                        note="省级以上技术转移机构 is counted by the market from its filing records (备案)",
                        market={"tech_transfer_institution": "filed_intermediaries"},
                    ),
                    ind(
                        "rd_institution_share",
                        "规上工业企业建设研发机构比例",
                        "5",
                        "%",
                        stat,
                        scale(("0", "0"), ("10", "3.5"), ("50", "4.5"), ("80", "5")),
                    ),
                ],
            },
            {
                "code": "output",
                "name": "创新产出",
                "weight": "15",
                "indicators": [
                    ind(
                        "invention_patents_per_10k",
                        "万人有效发明专利拥有量",
                        "6",
                        "件/万人",
                        amr,
                        scale(("0", "0"), ("2", "3.5"), ("4", "4.5"), ("12", "6")),
                    ),
                    ind(
                        "high_tech_value_added_share",
                        "规上高新技术产业增加值占规上工业增加值比重",
                        "6",
                        "%",
                        stat,
                        scale(("0", "0"), ("10", "2"), ("20", "5"), ("40", "6")),
                    ),
                    ind(
                        "agri_industrialisation",
                        "农业产业化经营率",
                        "3",
                        "%",
                        stat,
                        scale(("0", "0"), ("50", "2"), ("60", "2.5"), ("70", "3")),
                    ),
                ],
            },
            {
                "code": "management",
                "name": "创新管理",
                "weight": "15",
                "indicators": [
                    ind(
                        "st_administration",
                        "科技管理机构情况",
                        "5",
                        "项",
                        sci,
                        items(
                            "5",
                            independent_bureau=("独立的行政科技管理部门", "4"),
                            joint_office=("合署办公", "2"),
                            extra_nameplate=("加挂科技局牌子", "1"),
                            leading_group=("成立科技创新工作领导小组", "1"),
                        ),
                        note="source reads 鼓励行政科技管理部门; taken as 独立",
                    ),
                    ind(
                        "higher_support",
                        "争取上级支持与奖励",
                        "5",
                        "项",
                        "区发改局, 区科信局, 区财政局 等",
                        items(
                            "5",
                            national_project=("国家级项目", "1"),
                            provincial_project=("省级项目", "0.5"),
                            national_award=("国家级科技奖励", "3"),
                            provincial_award=("省级科技奖励", "2"),
                            national_commendation=("国家级通报表彰", "3"),
                            provincial_commendation=("省部级通报表彰", "2"),
                            city_commendation=("市级通报表彰", "1"),
                            other_discretionary=("其他部门行业奖励和表彰 (酌情)", "1"),
                        ),
                    ),
                    ind(
                        "management_innovation",
                        "科技管理创新情况",
                        "5",
                        "分",
                        "区发改局, 区科信局, 区市场监督管理局 等",
                        {"kind": "assessed", "max": "5"},
                    ),
                ],
            },
        ],
    }


PRESETS = {"seed000-pian4": ("区科技创新能力监测评价指标体系 (篇四)", pian4)}
