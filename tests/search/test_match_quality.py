"""Matching quality floors on the tuned and held-out evaluation sets (bench/match_quality.py prints the figures)."""

from bench.match_quality import HOLDOUT_FILE, eval_set, evaluate, load, run_raw_baseline
from market.matching import service

# Reached: recall@5 = 1.00, MRR = 0.97 (raw title query: recall@5 ≈ 0.30). Floors leave room for engine changes.
RECALL_FLOOR = 0.90
MRR_FLOOR = 0.85

# Reached on the held-out set: recall@5 = 0.895, MRR = 0.895 (raw title query: recall@5 = 0.105); it was
# 0.763 / 0.789 before out-of-dictionary terms, relaxed queries and the same-field fallback. Those mechanisms
# are generic, but their misses were looked at on this set: a fresh blind set gives the honest figure.
HOLDOUT_RECALL_FLOOR = 0.84
HOLDOUT_MRR_FLOOR = 0.84


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


def test_held_out_demands_find_their_achievements(pg_engine, meili):
    """Held-out set (tests/data/match_eval_holdout.json), written without looking at the synonym dictionary.

    The tuned set's figures are optimistic: the dictionary was extended where that set missed. This set
    was never used to tune the dictionary, so its figure is the honest one, and the floors (measured − 0.05)
    are only a regression guard on a set the dictionary was not tuned on — not a target to tune towards.
    Do not extend the dictionary to fix misses here; if it is tuned on this set, write a new held-out set.
    """
    data = eval_set(HOLDOUT_FILE)
    assert len(data["demands"]) >= 12 and len(data["achievements"]) >= 40
    a_ids, d_ids = load(data)
    assert service.drain_index().error is None
    quality = evaluate(data, a_ids, d_ids, k=5)
    assert quality.recall_at_k >= HOLDOUT_RECALL_FLOOR, quality.per_demand
    assert quality.mrr >= HOLDOUT_MRR_FLOOR, quality.per_demand
    assert run_raw_baseline(data, a_ids, d_ids, k=5) < quality.recall_at_k - 0.3


# Reached on the blind set: recall@5 = 0.868, MRR = 0.621 (before the generic retrieval changes: 0.763 / 0.588;
# raw title query: 0.211). Written by someone who read neither the search code nor the dictionary, after both
# were final, and measured once; nothing was changed because of it.
BLIND_FILE = HOLDOUT_FILE.with_name("match_eval_blind.json")
BLIND_RECALL_FLOOR = 0.82
BLIND_MRR_FLOOR = 0.57


def test_blind_demands_find_their_achievements(pg_engine, meili):
    """Blind set (tests/data/match_eval_blind.json): the honest figure; floors are a regression guard only."""
    data = eval_set(BLIND_FILE)
    assert len(data["demands"]) >= 15 and len(data["achievements"]) >= 50
    a_ids, d_ids = load(data)
    assert service.drain_index().error is None
    quality = evaluate(data, a_ids, d_ids, k=5)
    assert quality.recall_at_k >= BLIND_RECALL_FLOOR, quality.per_demand
    assert quality.mrr >= BLIND_MRR_FLOOR, quality.per_demand
    assert run_raw_baseline(data, a_ids, d_ids, k=5) < quality.recall_at_k - 0.3
