"""Match scoring: text relevance combined with structured compatibility, with the reasons shown. Pure functions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple

from market.core import regions
from market.core.vocab import MATURITY_LABELS, MATURITY_RANK

_MATURITY_BY_RANK = {rank: m for m, rank in MATURITY_RANK.items()}


class Fit(StrEnum):
    fit = "fit"
    partial = "partial"
    miss = "miss"
    unknown = "unknown"  # one side did not say: neither rewarded nor punished


FIT_VALUE = {Fit.fit: 1.0, Fit.partial: 0.5, Fit.miss: 0.0, Fit.unknown: 0.5}

# How much each part counts; text relevance leads, constraints reorder close candidates.
WEIGHTS = {
    "text": 0.60,
    "technical_field": 0.12,
    "maturity": 0.10,
    "price": 0.10,
    "modes": 0.05,
    "region": 0.03,
}
# Within text relevance: Meilisearch's own ranking score vs how much of the source's meaning is covered.
ENGINE_SHARE = 0.35
# Text evidence counts less across technical fields: the same words mean less in another field, so a
# same-field candidate stays above an off-field one with similar text evidence.
FIELD_TEXT_FACTOR = {Fit.fit: 1.0, Fit.unknown: 0.9, Fit.partial: 0.9, Fit.miss: 0.7}
# A candidate without any text evidence (a same-field fallback) keeps this share of its constraint score:
# at most 0.4 × 0.25 = 0.1, below the 0.12 any same-field candidate with text evidence has for its field alone.
NO_TEXT_SHARE = 0.25
NO_TEXT_REASON = "无共同关键词，仅技术领域相同 (no shared terms; same field)"


class Facts(NamedTuple):
    """What matching needs to know about one listing (either side); a tuple: one is made per candidate."""

    technical_field: str | None = None
    maturity_rank: int | None = None  # achievement: its maturity; demand: the wanted maturity
    price_fen: int | None = None  # achievement: asking price; demand: budget
    negotiable: bool = True  # 面议
    modes: frozenset[str] = frozenset()  # transfer modes / cooperation modes
    region_code: str | None = None
    concepts: frozenset[str] = frozenset()
    # achievement: the TRL of its latest finished evaluation; when set, `maturity_rank` is the maturity that TRL
    # means (it outranks the self-declared one) and the maturity reason says so ("评价TRL …")
    evaluated_trl: int | None = None


class Reason(NamedTuple):
    constraint: str
    fit: Fit
    detail: str


@dataclass(frozen=True)
class MatchScore:
    score: float
    text_score: float
    matched_terms: tuple[str, ...]
    reasons: tuple[Reason, ...] = field(default_factory=tuple)


# -- the checks decide (cheap: every candidate is ranked), the reasons describe (only for those shown) --


def field_check(demand: Facts, achievement: Facts) -> Fit:
    if not demand.technical_field or not achievement.technical_field:
        return Fit.unknown
    return Fit.fit if demand.technical_field == achievement.technical_field else Fit.miss


def maturity_check(demand: Facts, achievement: Facts) -> Fit:
    wanted, has = demand.maturity_rank, achievement.maturity_rank
    if wanted is None or has is None:
        return Fit.unknown
    if has >= wanted:
        return Fit.fit
    return Fit.partial if has == wanted - 1 else Fit.miss


def price_check(demand: Facts, achievement: Facts) -> Fit:
    """面议 on either side is compatible with anything; otherwise asking price vs budget (up to 50 % over: partial)."""
    if demand.negotiable or achievement.negotiable or demand.price_fen is None or achievement.price_fen is None:
        return Fit.fit
    if achievement.price_fen <= demand.price_fen:
        return Fit.fit
    return Fit.partial if achievement.price_fen * 2 <= demand.price_fen * 3 else Fit.miss


def modes_check(demand: Facts, achievement: Facts) -> Fit:
    if not demand.modes or not achievement.modes:
        return Fit.unknown
    return Fit.miss if demand.modes.isdisjoint(achievement.modes) else Fit.fit


def region_check(demand: Facts, achievement: Facts) -> Fit:
    """Local supply is preferred (same city), then same province; elsewhere is still allowed."""
    a, b = demand.region_code or "", achievement.region_code or ""
    if len(a) < 4 or len(b) < 4:
        return Fit.unknown
    if regions.same_city(a, b):
        return Fit.fit
    return Fit.partial if regions.same_province(a, b) else Fit.miss


CHECKS = (
    ("technical_field", field_check),
    ("maturity", maturity_check),
    ("price", price_check),
    ("modes", modes_check),
    ("region", region_check),
)


def field_fit(demand: Facts, achievement: Facts) -> Reason:
    fit = field_check(demand, achievement)
    if fit is Fit.unknown:
        return Reason("technical_field", fit, "技术领域未填写")
    if fit is Fit.fit:
        return Reason("technical_field", fit, f"技术领域一致 ({demand.technical_field})")
    return Reason("technical_field", fit, f"技术领域不同 ({demand.technical_field} ≠ {achievement.technical_field})")


def _maturity_label(rank: int | None) -> str:
    if rank is None or rank not in _MATURITY_BY_RANK:
        return "未说明"
    return MATURITY_LABELS[_MATURITY_BY_RANK[rank]]


def maturity_fit(demand: Facts, achievement: Facts) -> Reason:
    fit = maturity_check(demand, achievement)
    wanted, has = demand.maturity_rank, achievement.maturity_rank
    if achievement.evaluated_trl is not None:
        source = f"评价TRL {achievement.evaluated_trl}，{_maturity_label(has)}"  # verified by an evaluation agency
    else:
        source = f"自报{_maturity_label(has)}"
    detail = {
        Fit.unknown: f"成熟度要求未说明 ({source})" if has is not None else "成熟度要求未说明",
        Fit.fit: f"成熟度满足要求 ({source} ≥ {_maturity_label(wanted)})",
        Fit.partial: f"成熟度差一级 ({source} < {_maturity_label(wanted)})",
        Fit.miss: f"成熟度不足 ({source} < {_maturity_label(wanted)})",
    }[fit]
    return Reason("maturity", fit, detail)


def price_fit(demand: Facts, achievement: Facts) -> Reason:
    fit = price_check(demand, achievement)
    if fit is Fit.fit:
        priced = not (demand.negotiable or achievement.negotiable) and None not in (
            demand.price_fen,
            achievement.price_fen,
        )
        return Reason("price", fit, "报价在预算内" if priced else "价格面议，可协商")
    return Reason("price", fit, "报价超出预算不到50%" if fit is Fit.partial else "报价远超预算")


def modes_fit(demand: Facts, achievement: Facts) -> Reason:
    fit = modes_check(demand, achievement)
    if fit is Fit.fit:
        return Reason("modes", fit, "合作方式相符: " + ", ".join(sorted(demand.modes & achievement.modes)))
    return Reason("modes", fit, "合作方式未说明" if fit is Fit.unknown else "合作方式不相符")


def region_fit(demand: Facts, achievement: Facts) -> Reason:
    fit = region_check(demand, achievement)
    detail = {Fit.unknown: "地区未说明", Fit.fit: "同一城市", Fit.partial: "同一省份", Fit.miss: "不同省份"}[fit]
    return Reason("region", fit, detail)


EXPLAIN = (field_fit, maturity_fit, price_fit, modes_fit, region_fit)


def text_relevance(
    query_concepts: Mapping[str, float], candidate_concepts: frozenset[str], engine_score: float
) -> tuple[float, tuple[str, ...]]:
    """Blend the engine's ranking score with the weighted share of the source's concepts the candidate has."""
    total = sum(query_concepts.values())
    matched = tuple(k for k in query_concepts if k in candidate_concepts)
    coverage = sum(query_concepts[k] for k in matched) / total if total else 0.0
    engine = min(max(engine_score, 0.0), 1.0)
    return ENGINE_SHARE * engine + (1 - ENGINE_SHARE) * coverage, matched


# Each check's weighted value per fit, in `CHECKS` order: looked up for every candidate of every match.
_WEIGHTED = tuple({fit: WEIGHTS[name] * FIT_VALUE[fit] for fit in Fit} for name, _ in CHECKS)


def _combine(text: float, fits: list[Fit] | tuple[Fit, ...]) -> float:
    """The score from text relevance and the constraints' fits (in `CHECKS` order, the field first)."""
    constraints = 0.0
    for weighted, fit in zip(_WEIGHTED, fits, strict=True):
        constraints += weighted[fit]
    if text <= 0.0:
        return round(NO_TEXT_SHARE * constraints, 4)
    return round(WEIGHTS["text"] * FIELD_TEXT_FACTOR[fits[0]] * text + constraints, 4)


def rank_score(
    demand: Facts, achievement: Facts, *, query_concepts: Mapping[str, float], candidate: Facts, engine_score: float
) -> float:
    """`score_pair(...).score` without the reasons: every candidate is ranked, only those shown are explained."""
    text, _ = text_relevance(query_concepts, candidate.concepts, engine_score)
    return _combine(text, [check(demand, achievement) for _, check in CHECKS])


def score_pair(
    demand: Facts, achievement: Facts, *, query_concepts: Mapping[str, float], candidate: Facts, engine_score: float
) -> MatchScore:
    """Score one (demand, achievement) pair with its reasons; `candidate` is whichever side the search found.

    Text counts in full within the same technical field and less across fields (`FIELD_TEXT_FACTOR`).
    Without any text evidence (no shared concept, no engine score) only a share of the constraints counts,
    and the reasons say so: such a candidate ranks below every same-field candidate with text evidence.
    """
    text, matched = text_relevance(query_concepts, candidate.concepts, engine_score)
    reasons = tuple(explain(demand, achievement) for explain in EXPLAIN)
    score = _combine(text, [r.fit for r in reasons])
    if text <= 0.0:
        # said on the field reason: the reasons keep one entry per constraint
        field = reasons[0]
        note = NO_TEXT_REASON if field.fit == Fit.fit else "无共同关键词"
        return MatchScore(score, 0.0, matched, (field._replace(detail=f"{note}；{field.detail}"),) + reasons[1:])
    return MatchScore(score, round(text, 4), matched, reasons)


# -- hybrid: lexical and semantic evidence fused by rank, then the same constraints -------------------------

# Rank fusion: a list's n-th candidate counts (k + 1) / (k + n) of the list's weight (1.0 for the first); k small,
# because only the first few dozen candidates of each list count.
RRF_K = 10
# How much each list counts in the hybrid: (lexical, semantic). Meaning counts double: on the evaluation sets
# written in firms' own words, meaning alone ranked the answer higher than words alone (README).
HYBRID_WEIGHTS = (1.0, 2.0)
# Share of the other lists' evidence added to the best one's: agreement counts, absence costs little.
AGREEMENT = 0.25


def fuse_ranks(
    *lists: Mapping[int, float], k: int | None = None, weights: tuple[float, ...] | None = None
) -> dict[int, float]:
    """Rank fusion of scored candidate lists (id → score, higher better; ≤ 0 means "not found"), scaled to 0–1
    (1.0: first in every list). Ranks, not scores: an engine's keyword score and a cosine similarity are not on
    one scale, and neither needs calibrating for a model or a corpus. A candidate's evidence is its best list's
    value plus `AGREEMENT` × the others' (not a plain reciprocal-rank sum): an answer found by meaning alone —
    in other words, often in another field — must not lose half its evidence for being absent from the words'
    list."""
    k = RRF_K if k is None else k
    weights = weights or (1.0,) * len(lists)
    per_list: list[dict[int, float]] = []
    for scores, weight in zip(lists, weights, strict=True):
        ranked = sorted((i for i, s in scores.items() if s > 0), key=lambda i: (-scores[i], i))
        per_list.append({i: weight * (k + 1) / (k + rank) for rank, i in enumerate(ranked, start=1)})
    if not per_list:
        return {}
    top = max(weights) + AGREEMENT * (sum(weights) - max(weights))
    out = {}
    for i in set().union(*per_list):
        values = sorted((p.get(i, 0.0) for p in per_list), reverse=True)
        out[i] = round((values[0] + AGREEMENT * sum(values[1:])) / top, 6)
    return out


def fused_score(demand: Facts, achievement: Facts, text: float) -> float:
    """The score of a pair from fused text evidence (0–1) and the constraints: `explain_fused(...).score`."""
    return _combine(text, [check(demand, achievement) for _, check in CHECKS])


def explain_fused(demand: Facts, achievement: Facts, text: float, shown_terms: tuple[str, ...]) -> MatchScore:
    """`fused_score` with the constraints' reasons (one per constraint, as `score_pair`)."""
    reasons = tuple(explain(demand, achievement) for explain in EXPLAIN)
    score = _combine(text, [r.fit for r in reasons])
    if text <= 0.0:
        field = reasons[0]
        note = NO_TEXT_REASON if field.fit == Fit.fit else "无共同关键词"
        return MatchScore(score, 0.0, shown_terms, (field._replace(detail=f"{note}；{field.detail}"),) + reasons[1:])
    return MatchScore(score, round(text, 4), shown_terms, reasons)
