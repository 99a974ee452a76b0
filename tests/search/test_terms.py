"""Synonym dictionary and key-term extraction: different words for the same thing meet on one concept."""

import pytest

from search.synonyms import Thesaurus, parse_groups, shipped_groups, shipped_thesaurus
from search.terms import Segmenter, TermExtractor, shipped_vocabulary


def test_shipped_dictionary_has_at_least_200_groups_with_the_issue_examples():
    groups = shipped_groups()
    assert len(groups) >= 200
    t = shipped_thesaurus()
    for a, b in [("锂电", "锂离子电池"), ("锂电", "动力电池"), ("机器换人", "自动化改造"), ("机器换人", "机器人"),
                 ("轻量化", "减重"), ("废水", "污水"), ("VOCs", "有机废气")]:  # fmt: skip
        assert t.concept(a) == t.concept(b) or b.lower() in t.expand(a), (a, b)


def test_parse_groups_skips_comments_blank_and_single_terms_and_accepts_chinese_commas():
    text = "# comment\n\n锂电，锂离子电池, 动力电池\n孤词\n污水,废水,污水\n"
    assert parse_groups(text) == [["锂电", "锂离子电池", "动力电池"], ["污水", "废水"]]


def test_expand_and_meili_synonyms_are_mutual_and_case_folded():
    t = Thesaurus.of([["VOCs", "有机废气"], ["废气", "尾气"]])
    assert t.expand("vocs") == ["vocs", "有机废气"]
    syn = t.meili_synonyms()
    assert syn["有机废气"] == ["vocs"] and syn["vocs"] == ["有机废气"]
    assert t.concept("有机废气") == "vocs" and t.concept("不在词典") == "不在词典"


@pytest.mark.parametrize(
    ("text", "terms"),
    [
        ("高镍三元锂离子电池正极材料", ["高镍三元", "锂离子电池", "正极材料"]),
        ("喷涂车间VOCs治理", ["喷涂", "vocs"]),
        ("5G+工业互联网", ["5g", "工业互联网"]),
        ("没有任何术语", []),
    ],
)
def test_segmenter_forward_maximum_matching(text, terms):
    seg = Segmenter(shipped_thesaurus().terms() | shipped_vocabulary())
    assert seg.terms(text) == terms


def test_demand_and_achievement_in_different_words_share_concepts():
    ex = TermExtractor(shipped_thesaurus(), shipped_vocabulary())
    demand = ex.concepts("铸件打磨工序机器换人", [], "希望减少打磨粉尘，实现自动化改造")
    achievement = ex.terms("基于视觉引导的工业机器人自动抛光系统", "去毛刺 机器人打磨")
    shared = {c.key for c in demand} & ex.concept_keys(achievement)
    assert {"机器换人", "打磨"} <= shared
    # title and keywords weigh more than the body
    weights = {c.key: c.weight for c in demand}
    assert weights["机器换人"] > weights["粉尘"]
