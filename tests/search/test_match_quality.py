"""Matching quality floors on the four evaluation sets (bench/match_quality.py prints the figures).

The floors sit a little under what was measured; they guard against regressions and are not targets
to tune towards. How honest each set's figure is:
- tuned (match_eval.json, the issue's 32 × 100 set): the dictionary was extended where its first run missed.
- held-out: written without reading the dictionary, but its aggregate results were watched while the
  generic retrieval changes were made.
- blind (first): written by someone who read neither code nor dictionary; measured once at 0.868 / 0.621,
  then used as a development set for the generic changes of the second session (problem phrases,
  phrase-end links, dropped echoes). No longer blind.
- blind2: written by someone who read neither code, dictionary nor the other sets, after all of that was
  final, and measured once: 0.900 / 0.845 (the first session's code read 0.857 / 0.786 on it).
  The honest figure. Do not change the dictionary or scoring because of its misses; write a blind3.
- issue 13 (hybrid): the fusion's weights were chosen on these four sets (no longer blind to it, any of them);
  the honest figure for the hybrid is blind3's (tests/data/match_eval_blind3.json), measured once after
  everything was final: 0.959 / 0.894 (README). It has no floor here: nothing was tuned on it, keep it so.
- blind4 (tests/data/match_eval_blind4.json): written the same way in the fourth session, after evaluations joined
  matching and the match path was reworked; measured once at the end (README). No floor, for the same reason.
"""

import pytest

from bench.match_quality import EVAL_FILE, HOLDOUT_FILE, eval_set, evaluate, load, run_raw_baseline
from market.matching import indexing, match

SETS = [
    # file, recall@5 floor, MRR floor (hybrid, measured; lexical-only before issue 13), minimum demands / achievements
    pytest.param(EVAL_FILE, 0.95, 0.93, 30, 100, id="tuned"),  # 1.000 / 0.979 (lexical 1.000 / 0.984)
    pytest.param(HOLDOUT_FILE, 0.94, 0.90, 12, 40, id="held-out"),  # 1.000 / 0.974 (lexical 0.947 / 0.886)
    pytest.param(
        HOLDOUT_FILE.with_name("match_eval_blind.json"), 0.92, 0.78, 15, 50, id="blind"
    ),  # 0.974 / 0.842 (0.921 / 0.737)
    pytest.param(
        HOLDOUT_FILE.with_name("match_eval_blind2.json"), 0.95, 0.88, 30, 100, id="blind2"
    ),  # 1.000 / 0.943 (0.900 / 0.845)
]


@pytest.mark.parametrize(("path", "recall_floor", "mrr_floor", "min_demands", "min_achievements"), SETS)
def test_demands_find_their_achievements_in_other_words(
    pg_engine, meili, path, recall_floor, mrr_floor, min_demands, min_achievements
):
    data = eval_set(path)
    assert len(data["demands"]) >= min_demands and len(data["achievements"]) >= min_achievements
    a_ids, d_ids = load(data)
    assert indexing.drain_index().error is None
    assert indexing.embed_pending().error is None  # the shipped model, for real: ~100–150 listings per set
    quality = evaluate(data, a_ids, d_ids, k=5)
    assert match.match_mode() == "hybrid"
    assert quality.recall_at_k >= recall_floor, quality.per_demand
    assert quality.mrr >= mrr_floor, quality.per_demand
    # the dictionary and the scoring are what make the difference over a plain title query
    assert run_raw_baseline(data, a_ids, d_ids, k=5) < quality.recall_at_k - 0.3
