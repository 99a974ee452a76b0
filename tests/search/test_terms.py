"""Synonym dictionary and key-term extraction: different words for the same thing meet on one concept."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from search.query import SearchFilters, fallback_position, match_queries
from search.synonyms import Thesaurus, parse_groups, shipped_groups, shipped_thesaurus
from search.terms import (
    OOV_MAX_LEN,
    Concept,
    ConceptMatcher,
    Segmenter,
    TermExtractor,
    bigrams,
    covers,
    oov_terms,
    shipped_vocabulary,
)


def test_shipped_dictionary_has_at_least_200_groups_with_the_issue_examples():
    groups = shipped_groups()
    assert len(groups) >= 200
    t = shipped_thesaurus()
    for a, b in [
        ("锂电", "锂离子电池"),
        ("锂电", "动力电池"),
        ("机器换人", "自动化改造"),
        ("机器换人", "机器人"),
        ("轻量化", "减重"),
        ("废水", "污水"),
        ("VOCs", "有机废气"),
    ]:
        assert t.concept(a) == t.concept(b) or b.lower() in t.expand(a), (a, b)


def test_parse_groups_skips_comments_blank_and_single_terms_and_accepts_chinese_commas():
    text = "# comment\n\n锂电，锂离子电池, 动力电池\n孤词\n污水,废水,污水\n"
    assert parse_groups(text) == [["锂电", "锂离子电池", "动力电池"], ["污水", "废水"]]


def test_expand_is_mutual_and_case_folded():
    t = Thesaurus.of([["VOCs", "有机废气"], ["废气", "尾气"]])
    assert t.expand("vocs") == ["vocs", "有机废气"] and t.expand("有机废气") == ["有机废气", "vocs"]
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


def test_gaps_are_the_chinese_runs_the_dictionary_does_not_cover():
    seg = Segmenter({"锂电池", "正极材料"})
    assert seg.gaps("石墨烯导热膜用于锂电池，NCM正极材料的包覆") == ["石墨烯导热膜用于", "的包覆"]
    assert seg.terms("石墨烯导热膜用于锂电池") == ["锂电池"]


@pytest.mark.parametrize(
    ("gap", "terms"),
    [
        ("石墨烯导热膜", ["石墨烯导热膜"]),
        ("希望寻找海水淡化的反渗透膜", ["海水淡化", "反渗透膜"]),  # cut at filler words (希望, 寻找, 的)
        ("我们需要提高", []),  # nothing but filler
        ("的", []),
        ("城市地下综合管廊智能巡检", ["城市地下综合", "管廊智能巡检"]),  # long pieces are halved
        ("项目", []),  # a stopword alone
    ],
)
def test_oov_terms_cut_at_filler_words_and_halve_long_pieces(gap, terms):
    assert oov_terms(gap) == terms
    assert all(2 <= len(t) <= OOV_MAX_LEN for t in oov_terms(gap))


@pytest.mark.parametrize(
    ("term", "text", "covered"),
    [
        ("石墨烯导热膜", "高导热石墨烯薄膜", True),  # 石墨, 墨烯, 导热: three of the five bigrams
        ("石墨烯导热膜", "导电薄膜", False),
        ("管廊", "综合管廊巡检", True),
        ("管廊", "廊管", False),
        ("bms", "电池BMS管理", True),
    ],
)
def test_covers_by_character_bigrams(term, text, covered):
    assert covers(term, bigrams(text)) is covered


def test_out_of_dictionary_terms_become_weaker_concepts_found_by_text():
    ex = TermExtractor(Thesaurus.of([["锂电", "锂离子电池"]]), frozenset())
    concepts = ex.concepts("锂电，石墨烯导热膜", ["自研关键词"], "需要的是防水涂层")
    by_key = {c.key: c for c in concepts}
    assert not by_key["锂电"].oov
    # the owner's keyword and the uncovered text are looked for in a candidate's text, not its terms
    assert by_key["自研关键词"].oov and by_key["石墨烯导热膜"].oov and by_key["防水涂层"].oov
    assert [c.oov for c in concepts] == sorted(c.oov for c in concepts)  # dictionary concepts first
    assert by_key["防水涂层"].weight < by_key["石墨烯导热膜"].weight < by_key["锂电"].weight
    shared = ex.shared(concepts, {"锂电"}, "一种防水涂层的制备")
    assert shared == {"锂电", "防水涂层"}
    assert ex.shared(concepts, set(), "") == frozenset()


def test_out_of_dictionary_pieces_that_extend_another_concept_are_dropped():
    ex = TermExtractor(Thesaurus.of([["COD", "化学需氧量"], ["体检", "健康体检"]]), frozenset())
    keys = {c.key for c in ex.concepts("COD超标被约谈", ["COD超标", "导尿管", "导尿管插进去太涩"], "体检拍的照片")}
    # COD超标 is COD again, 导尿管插进去太涩 is the keyword 导尿管 again, 体检拍 is 体检 again: counted once each
    assert {"cod", "导尿管", "体检"} <= keys
    assert not keys & {"cod超标", "导尿管插进去太涩", "体检拍"}
    assert "约谈" in keys  # a piece that extends nothing stays


def test_text_that_says_only_the_end_of_a_phrase_links_to_it_when_unambiguous():
    ex = TermExtractor(
        Thesaurus.of(
            [
                ["疲劳驾驶", "司机犯困", "开车打瞌睡"],
                ["光老化", "户外发脆"],
                ["再生塑料", "再生料发黄"],
                ["锈蚀", "不锈钢发黄"],
            ]
        ),
        frozenset(),
    )
    assert ex.linked_terms("夜班公交司机容易打瞌睡，还有人犯困") == ["开车打瞌睡", "司机犯困"]
    assert ex.thesaurus.concept(ex.terms("老是犯困")[0]) == "疲劳驾驶"
    # 发黄 ends phrases of two concepts: no link; 司机 is only the start of 司机犯困: no link
    assert ex.linked_terms("外壳发黄") == [] and ex.linked_terms("司机招聘") == []
    # a demand in its own words now shares a concept with the achievement's
    demand = {c.key for c in ex.concepts("公交车队犯困问题", ["犯困"], "")}
    assert "疲劳驾驶" in demand and "疲劳驾驶" in ex.concept_keys(ex.terms("驾驶员疲劳驾驶实时预警"))


def test_match_queries_add_relaxed_oov_queries_and_a_same_field_fallback():
    ex = TermExtractor(Thesaurus.of([["锂电", "锂离子电池"]]), frozenset())
    concepts = ex.concepts("锂电防水涂层", [], "")
    queries = match_queries("x_achievements", "achievement", concepts, SearchFilters(), field="new_energy")
    assert [(q["q"], q.get("matchingStrategy")) for q in queries] == [
        ("锂电", None),
        ("锂离子电池", None),
        ("防水涂层", "last"),
        ("防水涂层", "frequency"),
        ("", None),
    ]
    assert fallback_position(queries) == 4
    assert queries[4]["filter"][-1] == 'technical_field = "new_energy"'
    assert queries[4]["federationOptions"]["weight"] < min(q["federationOptions"]["weight"] for q in queries[:4])
    without = match_queries("x_achievements", "achievement", concepts, SearchFilters())
    assert fallback_position(without) is None and len(without) == 4


_ALPHABET = "石墨烯导热膜管廊电池防水涂层的，BMSbms5G- "


@settings(max_examples=300, deadline=None)
@given(
    keys=st.lists(st.text(alphabet=_ALPHABET, min_size=1, max_size=8), min_size=1, max_size=5),
    text=st.text(alphabet=_ALPHABET, max_size=40),
)
def test_prepared_matcher_agrees_with_bigram_coverage(keys, text):
    # ConceptMatcher tests Chinese pairs as substrings instead of building the text's bigrams: same answer
    concepts = [Concept(k, (k,), 1.0, (k,), frozenset({k}), oov=True) for k in keys]
    expected = frozenset(k for k in keys if text and covers(k, bigrams(text)))
    assert ConceptMatcher(concepts).shared(frozenset(), text) == expected


def test_match_queries_fetch_the_long_text_only_for_out_of_dictionary_concepts():
    ex = TermExtractor(Thesaurus.of([["锂电", "锂离子电池"]]), frozenset())
    known_only = match_queries("x", "achievement", ex.concepts("锂电", [], ""), SearchFilters())
    with_oov = match_queries("x", "achievement", ex.concepts("锂电防水涂层", [], ""), SearchFilters())
    assert all("summary" not in q["attributesToRetrieve"] for q in known_only)
    assert all("summary" in q["attributesToRetrieve"] for q in with_oov)
