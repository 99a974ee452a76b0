"""Match scoring rules, table-driven: each constraint, 面议, and how they combine with text relevance."""

import pytest

from search.scoring import (
    WEIGHTS,
    Facts,
    Fit,
    field_fit,
    maturity_fit,
    modes_fit,
    price_fit,
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
    [(3, 5, Fit.fit), (3, 3, Fit.fit), (3, 2, Fit.partial), (4, 1, Fit.miss), (None, 2, Fit.unknown), (3, None, Fit.unknown)],
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
    [("330212", "330203", Fit.fit), ("330212", "330106", Fit.partial), ("330212", "320102", Fit.miss), (None, "330212", Fit.unknown)],
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
        "technical_field": Fit.miss, "maturity": Fit.miss, "price": Fit.miss, "modes": Fit.miss, "region": Fit.miss,
    }
    assert s_good.matched_terms == ("锂离子电池",)
    assert sum(WEIGHTS.values()) == pytest.approx(1.0)
