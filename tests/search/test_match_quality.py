"""Matching quality floor on the evaluation set (bench/match_quality.py prints the same figures)."""

from bench.match_quality import eval_set, evaluate, load, run_raw_baseline
from market.matching import service

# Reached: recall@5 = 1.00, MRR = 0.95 (raw title query: recall@5 ≈ 0.30). Floors leave room for engine changes.
RECALL_FLOOR = 0.90
MRR_FLOOR = 0.85


def test_demands_find_their_achievements_in_other_words(pg_engine, meili):
    data = eval_set()
    assert len(data["demands"]) >= 30 and len(data["achievements"]) >= 100
    a_ids, d_ids = load(data)
    assert service.drain_index().error is None
    quality = evaluate(data, a_ids, d_ids, k=5)
    assert quality.recall_at_k >= RECALL_FLOOR, quality.per_demand
    assert quality.mrr >= MRR_FLOOR
    # the dictionary and scoring are what make the difference
    assert run_raw_baseline(data, a_ids, d_ids, k=5) < quality.recall_at_k - 0.3
