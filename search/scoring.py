"""Match scoring: text relevance combined with structured compatibility, with the reasons shown. Pure functions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple


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


@dataclass(frozen=True)
class Facts:
    """What matching needs to know about one listing (either side)."""

    technical_field: str | None = None
    maturity_rank: int | None = None  # achievement: its maturity; demand: the wanted maturity
    price_fen: int | None = None  # achievement: asking price; demand: budget
    negotiable: bool = True  # 面议
    modes: frozenset[str] = frozenset()  # transfer modes / cooperation modes
    region_code: str | None = None
    concepts: frozenset[str] = frozenset()


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


def field_fit(demand: Facts, achievement: Facts) -> Reason:
    if not demand.technical_field or not achievement.technical_field:
        return Reason("technical_field", Fit.unknown, "技术领域未填写")
    if demand.technical_field == achievement.technical_field:
        return Reason("technical_field", Fit.fit, f"技术领域一致 ({demand.technical_field})")
    return Reason(
        "technical_field", Fit.miss, f"技术领域不同 ({demand.technical_field} ≠ {achievement.technical_field})"
    )


def maturity_fit(demand: Facts, achievement: Facts) -> Reason:
    wanted, has = demand.maturity_rank, achievement.maturity_rank
    if wanted is None or has is None:
        return Reason("maturity", Fit.unknown, "成熟度要求未说明")
    if has >= wanted:
        return Reason("maturity", Fit.fit, f"成熟度满足要求 ({has} ≥ {wanted})")
    if has == wanted - 1:
        return Reason("maturity", Fit.partial, f"成熟度差一级 ({has} < {wanted})")
    return Reason("maturity", Fit.miss, f"成熟度不足 ({has} < {wanted})")


def price_fit(demand: Facts, achievement: Facts) -> Reason:
    """面议 on either side is compatible with anything; otherwise asking price vs budget."""
    if demand.negotiable or achievement.negotiable or demand.price_fen is None or achievement.price_fen is None:
        return Reason("price", Fit.fit, "价格面议，可协商")
    if achievement.price_fen <= demand.price_fen:
        return Reason("price", Fit.fit, "报价在预算内")
    if achievement.price_fen * 2 <= demand.price_fen * 3:
        return Reason("price", Fit.partial, "报价超出预算不到50%")
    return Reason("price", Fit.miss, "报价远超预算")


def modes_fit(demand: Facts, achievement: Facts) -> Reason:
    if not demand.modes or not achievement.modes:
        return Reason("modes", Fit.unknown, "合作方式未说明")
    common = sorted(demand.modes & achievement.modes)
    if common:
        return Reason("modes", Fit.fit, "合作方式相符: " + ", ".join(common))
    return Reason("modes", Fit.miss, "合作方式不相符")


def region_fit(demand: Facts, achievement: Facts) -> Reason:
    """Local supply is preferred (same city), then same province; elsewhere is still allowed."""
    a, b = demand.region_code or "", achievement.region_code or ""
    if len(a) < 4 or len(b) < 4:
        return Reason("region", Fit.unknown, "地区未说明")
    if a[:4] == b[:4]:
        return Reason("region", Fit.fit, "同一城市")
    if a[:2] == b[:2]:
        return Reason("region", Fit.partial, "同一省份")
    return Reason("region", Fit.miss, "不同省份")


def text_relevance(
    query_concepts: Mapping[str, float], candidate_concepts: frozenset[str], engine_score: float
) -> tuple[float, tuple[str, ...]]:
    """Blend the engine's ranking score with the weighted share of the source's concepts the candidate has."""
    total = sum(query_concepts.values())
    matched = tuple(k for k in query_concepts if k in candidate_concepts)
    coverage = sum(query_concepts[k] for k in matched) / total if total else 0.0
    engine = min(max(engine_score, 0.0), 1.0)
    return ENGINE_SHARE * engine + (1 - ENGINE_SHARE) * coverage, matched


def score_pair(
    demand: Facts, achievement: Facts, *, query_concepts: Mapping[str, float], candidate: Facts, engine_score: float
) -> MatchScore:
    """Score one (demand, achievement) pair; `candidate` is whichever side was found by the search.

    Text counts in full within the same technical field and less across fields (`FIELD_TEXT_FACTOR`).
    Without any text evidence (no shared concept, no engine score) only a share of the constraints counts,
    and the reasons say so: such a candidate ranks below every same-field candidate with text evidence.
    """
    text, matched = text_relevance(query_concepts, candidate.concepts, engine_score)
    field = field_fit(demand, achievement)
    reasons = (
        field,
        maturity_fit(demand, achievement),
        price_fit(demand, achievement),
        modes_fit(demand, achievement),
        region_fit(demand, achievement),
    )
    constraints = sum(WEIGHTS[r.constraint] * FIT_VALUE[r.fit] for r in reasons)
    if text <= 0.0:
        # said on the field reason: the reasons keep one entry per constraint
        note = NO_TEXT_REASON if field.fit == Fit.fit else "无共同关键词"
        noted = field._replace(detail=f"{note}；{field.detail}")
        return MatchScore(round(NO_TEXT_SHARE * constraints, 4), 0.0, matched, (noted,) + reasons[1:])
    score = WEIGHTS["text"] * FIELD_TEXT_FACTOR[field.fit] * text + constraints
    return MatchScore(round(score, 4), round(text, 4), matched, reasons)
