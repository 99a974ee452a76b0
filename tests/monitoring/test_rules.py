"""The index arithmetic on seed 000 篇四's table, hand-worked, including interpolation inside a band."""

from decimal import Decimal as D

import pytest

from market.monitoring import presets, rules

SET = rules.validate(presets.pian4())
IND = rules.indicators(SET)


def test_preset_weights_are_the_tables():
    assert [(d["name"], d["weight"]) for d in SET["dimensions"]] == [
        ("创新投入", "20"),
        ("创新主体", "25"),
        ("创新条件", "25"),
        ("创新产出", "15"),
        ("创新管理", "15"),
    ]
    assert sum(D(i["weight"]) for i in IND.values()) == 100 and len(IND) == 17
    assert IND["fiscal_st_share"]["department"] == "区财政局" and IND["invention_patents_per_10k"]["unit"] == "件/万人"


@pytest.mark.parametrize(
    ("code", "value", "score"),
    [
        # 地方财政支出: ≥10000 → 5; 10000-5000 → 5-4; 5000-1000 → 4-3; <1000 → 3-0
        ("fiscal_expenditure", "12000", "5.00"),
        ("fiscal_expenditure", "10000", "5.00"),
        ("fiscal_expenditure", "7500", "4.50"),  # 4 + (7500−5000)/(10000−5000) × (5−4)
        ("fiscal_expenditure", "5000", "4.00"),
        ("fiscal_expenditure", "3000", "3.50"),  # 3 + 2000/4000 × 1
        ("fiscal_expenditure", "500", "1.50"),
        ("fiscal_expenditure", "0", "0.00"),
        ("fiscal_expenditure", "-3", "0.00"),
        # 财政科技支出比重 1.25 %: 6 + (1.25−1)/(2−1) × (8−6) = 6.5
        ("fiscal_st_share", "1.25", "6.50"),
        ("fiscal_st_share", "0.25", "2.00"),
        # R&D 0.8 %: 4 + (0.8−0.5)/(1−0.5) × (6−4) = 5.2
        ("rd_intensity", "0.8", "5.20"),
        # 千家科技型中小企业 200: 3.5 + (200−100)/(300−100) × 0.5 = 3.75
        ("tech_smes_per_thousand", "200", "3.75"),
        # 万人有效发明专利 8: 4.5 + (8−4)/(12−4) × 1.5 = 5.25
        ("invention_patents_per_10k", "8", "5.25"),
        # 研发机构比例 30 %: 3.5 + (30−10)/(50−10) × 1 = 4
        ("rd_institution_share", "30", "4.00"),
        # 高新技术企业 55 家 in the filled gap: 4 + (55−10)/(100−10) × 6 = 7
        ("high_tech_enterprises", "55", "7.00"),
        # 农业产业化经营率 65 %: 2.5 + 5/10 × 0.5 = 2.75
        ("agri_industrialisation", "65", "2.75"),
        # 1/3 of the way: 2 + (13.333…) rounds to 2 decimals: 10→2, 20→5: 13 → 2 + 3/10 × 3 = 2.9
        ("high_tech_value_added_share", "13", "2.90"),
    ],
)
def test_bands(code, value, score):
    got, working = rules.score_indicator(IND[code], value)
    assert got == D(score), working


def test_per_item_counts_and_cap():
    # 创新平台: 1 国家级重点实验室 (2) + 2 省级企业技术中心 (2 × 1) + 1 省级产业技术研究院 (1) = 5 of max 8
    score, working = rules.score_indicator(
        IND["platforms"],
        {"national_key_lab": 1, "provincial_enterprise_tech_center": 2, "provincial_industry_institute": 1},
    )
    assert score == D("5.00") and "国家级重点实验室 1 × 2" in working
    # 服务机构: 3 国家级孵化器 (6) + 1 院士工作站 (0.5) = 6.5, capped at 6
    score, working = rules.score_indicator(
        IND["service_bodies"], {"national_incubator": 3, "academician_workstation": 1}
    )
    assert score == D("6.00") and "capped at 6" in working
    # 园区: 省级创新型乡镇 0.3 × 3 = 0.9
    assert rules.score_indicator(IND["parks"], {"provincial_innovative_town": 3})[0] == D("0.90")
    with pytest.raises(rules.DefinitionError):
        rules.score_indicator(IND["parks"], {"moon_base": 1})
    with pytest.raises(rules.DefinitionError):
        rules.score_indicator(IND["parks"], {"provincial_innovative_town": 1.5})
    with pytest.raises(rules.DefinitionError):
        rules.score_indicator(IND["management_innovation"], "5.5")


def test_region_total_and_ranks():
    a = rules.score_region(
        SET,
        "330212",
        {
            "fiscal_expenditure": "7500",  # 4.5
            "fiscal_st_share": "1.25",  # 6.5
            "platforms": {"national_key_lab": 1},  # 2
            "management_innovation": "3",  # 3
        },
    )
    assert a.total == D("16.00")
    assert [d["score"] for d in a.dimensions] == [D("11.00"), 0, D("2.00"), 0, D("3.00")]
    b = rules.score_region(
        SET, "330205", {"fiscal_expenditure": "12000", "fiscal_st_share": "2", "management_innovation": "3"}
    )
    c = rules.score_region(
        SET,
        "330206",
        {
            "fiscal_expenditure": "7500",
            "fiscal_st_share": "1.25",
            "platforms": {"national_key_lab": 1},
            "management_innovation": "3",
        },
    )
    assert b.total == D("16.00")  # 5 + 8 + 3
    ranked = rules.rank([a, b, c])
    assert [(s.region_code, s.rank) for s in ranked] == [("330205", 1), ("330206", 1), ("330212", 1)]
    d = rules.score_region(SET, "330211", {"fiscal_expenditure": "0"})
    assert [s.rank for s in rules.rank([d, a, b])] == [1, 1, 3]


@pytest.mark.parametrize(
    "broken",
    [
        lambda s: s["dimensions"][0].update(weight="21"),  # indicators add up to 20
        lambda s: s["dimensions"][0]["indicators"][0]["rule"]["bands"][1].update({"from": "999"}),  # a gap
        lambda s: s["dimensions"][0]["indicators"][0]["rule"]["bands"][-1].update(score_to="6"),  # not flat
        lambda s: s["dimensions"][4]["indicators"][2]["rule"].update(max="4"),  # max ≠ weight
        lambda s: s["dimensions"][1]["indicators"].append(dict(s["dimensions"][1]["indicators"][0])),  # code twice
        lambda s: s["dimensions"][0]["indicators"][0]["rule"].update(kind="vibes"),
    ],
)
def test_validate_refuses(broken):
    s = presets.pian4()
    broken(s)
    with pytest.raises(rules.DefinitionError):
        rules.validate(s)
