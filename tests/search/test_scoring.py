"""Match scoring rules, table-driven: each constraint, 面议, and how they combine with text relevance."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from search.scoring import (
    CHECKS,
    FIELD_TEXT_FACTOR,
    FIT_VALUE,
    NO_TEXT_REASON,
    NO_TEXT_SHARE,
    WEIGHTS,
    Facts,
    Fit,
    explain_fused,
    field_fit,
    fuse_ranks,
    fused_score,
    maturity_fit,
    modes_fit,
    price_fit,
    rank_score,
    region_fit,
    score_pair,
    text_relevance,
)

D = Facts  # a demand's facts: wanted maturity, budget, cooperation modes
A = Facts  # an achievement's facts: maturity, asking price, transfer modes


@pytest.mark.parametrize(
    ("demand", "achievement", "fit"),
    [
        (D(technical_field="new_energy"), A(technical_field="new_energy"), Fit.fit),
        (D(technical_field="new_energy"), A(technical_field="new_materials"), Fit.miss),
        (D(technical_field=None), A(technical_field="new_materials"), Fit.unknown),
    ],
)
def test_field(demand, achievement, fit):
    assert field_fit(demand, achievement).fit == fit


@pytest.mark.parametrize(
    ("wanted", "has", "fit"),
    [
        (3, 5, Fit.fit),
        (3, 3, Fit.fit),
        (3, 2, Fit.partial),
        (4, 1, Fit.miss),
        (None, 2, Fit.unknown),
        (3, None, Fit.unknown),
    ],
)
def test_maturity(wanted, has, fit):
    assert maturity_fit(D(maturity_rank=wanted), A(maturity_rank=has)).fit == fit


@pytest.mark.parametrize(
    ("budget", "budget_negotiable", "price", "price_negotiable", "fit"),
    [
        (100_000_00, False, 80_000_00, False, Fit.fit),  # within budget
        (100_000_00, False, 100_000_00, False, Fit.fit),  # exactly the budget
        (100_000_00, False, 150_000_00, False, Fit.partial),  # up to 50% over
        (100_000_00, False, 150_000_01, False, Fit.miss),
        (100_000_00, False, None, True, Fit.fit),  # 面议 asking price fits any budget
        (None, True, 900_000_000_00, False, Fit.fit),  # 面议 budget fits any price
        (None, True, None, True, Fit.fit),
    ],
)
def test_price(budget, budget_negotiable, price, price_negotiable, fit):
    demand = D(price_fen=budget, negotiable=budget_negotiable)
    achievement = A(price_fen=price, negotiable=price_negotiable)
    assert price_fit(demand, achievement).fit == fit


@pytest.mark.parametrize(
    ("wanted", "offered", "fit"),
    [
        ({"transfer", "license"}, {"license"}, Fit.fit),
        ({"transfer"}, {"joint_development", "equity"}, Fit.miss),
        (set(), {"license"}, Fit.unknown),
    ],
)
def test_modes(wanted, offered, fit):
    assert modes_fit(D(modes=frozenset(wanted)), A(modes=frozenset(offered))).fit == fit


@pytest.mark.parametrize(
    ("a", "b", "fit"),
    [
        ("330212", "330203", Fit.fit),
        ("330212", "330106", Fit.partial),
        ("330212", "320102", Fit.miss),
        (None, "330212", Fit.unknown),
    ],
)
def test_region(a, b, fit):
    assert region_fit(D(region_code=a), A(region_code=b)).fit == fit


def test_text_relevance_weights_the_source_concepts():
    weights = {"锂离子电池": 3.0, "正极材料": 1.0}
    full, matched = text_relevance(weights, frozenset({"锂离子电池", "正极材料", "x"}), engine_score=1.0)
    half, matched_half = text_relevance(weights, frozenset({"锂离子电池"}), engine_score=1.0)
    none, matched_none = text_relevance(weights, frozenset(), engine_score=0.0)
    assert full == pytest.approx(1.0) and set(matched) == {"锂离子电池", "正极材料"}
    assert 0 == none < half < full and matched_half == ("锂离子电池",) and matched_none == ()


def test_score_combines_text_and_constraints_with_reasons():
    demand = D("new_energy", 3, 50_000_00, False, frozenset({"license"}), "330212", frozenset({"锂离子电池"}))
    good = A("new_energy", 4, 40_000_00, False, frozenset({"license"}), "330203", frozenset({"锂离子电池"}))
    bad = A("agriculture", 1, 900_000_00, False, frozenset({"equity"}), "110101", frozenset({"锂离子电池"}))
    w = {"锂离子电池": 1.0}
    s_good = score_pair(demand, good, query_concepts=w, candidate=good, engine_score=0.9)
    s_bad = score_pair(demand, bad, query_concepts=w, candidate=bad, engine_score=0.9)
    assert s_good.text_score == s_bad.text_score  # same text: the constraints decide
    assert s_good.score > s_bad.score
    assert s_good.score == pytest.approx(WEIGHTS["text"] * s_good.text_score + 1 - WEIGHTS["text"], abs=1e-4)
    assert {r.constraint: r.fit for r in s_bad.reasons} == {
        "technical_field": Fit.miss,
        "maturity": Fit.miss,
        "price": Fit.miss,
        "modes": Fit.miss,
        "region": Fit.miss,
    }
    assert s_good.matched_terms == ("锂离子电池",)
    assert sum(WEIGHTS.values()) == pytest.approx(1.0)


@pytest.mark.parametrize(("field", "factor"), [("new_energy", 1.0), (None, 0.9), ("agriculture", 0.7)])
def test_text_counts_less_across_technical_fields(field, factor):
    demand = D(technical_field="new_energy")
    candidate = A(technical_field=field, concepts=frozenset({"锂离子电池"}))
    s = score_pair(demand, candidate, query_concepts={"锂离子电池": 1.0}, candidate=candidate, engine_score=1.0)
    assert FIELD_TEXT_FACTOR[field_fit(demand, candidate).fit] == factor
    constraints = sum(WEIGHTS[r.constraint] * FIT_VALUE[r.fit] for r in s.reasons)
    assert s.score == pytest.approx(WEIGHTS["text"] * factor * s.text_score + constraints, abs=1e-4)


def test_same_field_candidate_beats_off_field_one_with_somewhat_more_text_evidence():
    demand = D(technical_field="agriculture")
    w = {"养殖": 2.0, "粪污": 1.0}
    same = A(technical_field="agriculture", concepts=frozenset({"养殖"}))
    off = A(technical_field="new_energy", concepts=frozenset({"养殖", "粪污"}))
    s_same = score_pair(demand, same, query_concepts=w, candidate=same, engine_score=0.6)
    s_off = score_pair(demand, off, query_concepts=w, candidate=off, engine_score=0.6)
    assert s_off.text_score > s_same.text_score and s_same.score > s_off.score


@pytest.mark.parametrize(
    "evidenced",
    [
        # the weakest same-field candidate with text evidence: every other constraint missed
        A("new_energy", 1, 900_000_00, False, frozenset({"equity"}), "110101", frozenset()),
        A("new_energy", 1, 900_000_00, False, frozenset({"equity"}), "110101", frozenset({"锂离子电池"})),
    ],
)
def test_same_field_fallback_without_text_ranks_below_any_same_field_text_evidence(evidenced):
    demand = D("new_energy", 3, 50_000_00, False, frozenset({"license"}), "330212")
    w = {"锂离子电池": 1.0}
    best_fallback = A("new_energy", 5, 10_000_00, False, frozenset({"license"}), "330203", frozenset())
    fb = score_pair(demand, best_fallback, query_concepts=w, candidate=best_fallback, engine_score=0.0)
    ev = score_pair(demand, evidenced, query_concepts=w, candidate=evidenced, engine_score=0.01)
    assert fb.text_score == 0.0 and fb.matched_terms == () and ev.text_score > 0
    assert fb.score < ev.score
    assert fb.score == pytest.approx(NO_TEXT_SHARE * (1 - WEIGHTS["text"]))
    # the reasons say why it is there, one entry per constraint still
    assert [r.constraint for r in fb.reasons] == [r.constraint for r in ev.reasons]
    assert fb.reasons[0].fit == Fit.fit and NO_TEXT_REASON in fb.reasons[0].detail
    assert NO_TEXT_REASON not in ev.reasons[0].detail


def _facts():
    codes = st.sampled_from([None, "330212", "330203", "330106", "320102", "33"])
    return st.builds(
        Facts,
        st.sampled_from([None, "new_energy", "agriculture"]),
        st.one_of(st.none(), st.integers(1, 5)),
        st.one_of(st.none(), st.integers(0, 10**9)),
        st.booleans(),
        st.frozensets(st.sampled_from(["transfer", "license", "equity"])),
        codes,
        st.frozensets(st.sampled_from(["锂离子电池", "正极材料", "隔膜"])),
    )


WEIGHTS_OF_CONCEPTS = st.dictionaries(
    st.sampled_from(["锂离子电池", "正极材料", "电解液"]), st.floats(0.5, 6), min_size=1
)


@given(demand=_facts(), candidate=_facts(), engine=st.floats(0, 1), weights=WEIGHTS_OF_CONCEPTS)
def test_ranking_score_is_the_explained_score(demand, candidate, engine, weights):
    # every candidate is ranked by rank_score and only those shown are explained: the two must agree
    explained = score_pair(demand, candidate, query_concepts=weights, candidate=candidate, engine_score=engine)
    assert (
        rank_score(demand, candidate, query_concepts=weights, candidate=candidate, engine_score=engine)
        == explained.score
    )
    assert [r.fit for r in explained.reasons] == [check(demand, candidate) for _, check in CHECKS]


# -- hybrid fusion ---------------------------------------------------------------------------------------


def test_rank_fusion_rewards_agreement_and_ignores_scales():
    lexical = {1: 0.9, 2: 0.5, 3: 0.0}  # 3: fetched but no text evidence
    semantic = {2: 0.93, 4: 0.91, 1: 0.80}
    fused = fuse_ranks(lexical, semantic)
    assert set(fused) == {1, 2, 4}
    assert fused[2] > fused[1]  # 2nd + 1st beats 1st + 3rd
    assert fused[2] > fused[4]  # found by both beats found by one
    assert fuse_ranks({7: 1.0}, {7: 1.0})[7] == 1.0  # first everywhere is 1.0
    assert fuse_ranks({7: 1.0}, {})[7] == 0.8  # first in one list only: its value, no agreement share
    # the heavier list decides between two candidates each first in one list
    assert fuse_ranks({1: 1.0}, {2: 1.0}, weights=(1.0, 2.0)) == {1: 0.444444, 2: 0.888889}
    # only ranks count: rescaling a list's scores changes nothing
    assert fuse_ranks(lexical, {i: s * 100 - 50 for i, s in semantic.items() if s * 100 - 50 > 0}) == fused


def test_fused_score_keeps_the_constraints_and_explains_the_same_score():
    demand = Facts("new_energy", 2, 100_000, False, frozenset({"license"}), "330212")
    same_field = Facts("new_energy", 3, 80_000, False, frozenset({"license"}), "330203")
    other_field = same_field._replace(technical_field="new_materials")
    assert fused_score(demand, same_field, 0.6) > fused_score(demand, other_field, 0.6)
    explained = explain_fused(demand, same_field, 0.6, ("锂电",))
    assert explained.score == fused_score(demand, same_field, 0.6) and explained.matched_terms == ("锂电",)
    # no text evidence at all: only a share of the constraints, said on the field reason
    bare = explain_fused(demand, same_field, 0.0, ())
    assert bare.score < fused_score(demand, other_field, 0.05)
    assert "无共同关键词" in bare.reasons[0].detail
