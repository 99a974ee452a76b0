"""Matching quality on the evaluation sets: recall@k and MRR of demand → achievements.

Run: .venv/bin/python bench/match_quality.py [--k 5] [--verbose] [--eval-file PATH ...]
Without --eval-file it evaluates all five sets in tests/data: tuned (match_eval.json, the one the
dictionary was extended on), held-out, blind (now a development set), blind2 (written by someone who
read neither code nor dictionary, measured once; the hybrid's fusion was then chosen on it and the others)
and blind3 (written for issue 13, measured once after everything was final: the honest hybrid figure).
tests/search/test_match_quality.py says how each was used.
Each set gets its own SQLite database and index prefix in a temporary directory, on its own
Meilisearch, unless MARKET_MEILI_URL / MARKET_DATABASE_URL are set (then one set per run).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import click

# Run as a script, bench/ comes first on sys.path and bench/search.py would shadow the `search` package.
sys.path[:0] = [str(Path(__file__).resolve().parents[1])]

from market.core.config import PROJECT_ROOT  # noqa: E402

EVAL_FILE = PROJECT_ROOT / "tests" / "data" / "match_eval.json"
HOLDOUT_FILE = PROJECT_ROOT / "tests" / "data" / "match_eval_holdout.json"
BLIND_FILE = PROJECT_ROOT / "tests" / "data" / "match_eval_blind.json"
BLIND2_FILE = PROJECT_ROOT / "tests" / "data" / "match_eval_blind2.json"
# written for issue 13 by someone who read neither code, dictionaries nor the other sets; measured once, at the end
BLIND3_FILE = PROJECT_ROOT / "tests" / "data" / "match_eval_blind3.json"
# written the same way for the fourth session (after evaluations joined matching); measured once, at the end
BLIND4_FILE = PROJECT_ROOT / "tests" / "data" / "match_eval_blind4.json"
LABELS = {
    EVAL_FILE: "tuned",
    HOLDOUT_FILE: "held-out",
    BLIND_FILE: "blind",
    BLIND2_FILE: "blind2",
    BLIND3_FILE: "blind3",
    BLIND4_FILE: "blind4",
}


def eval_set(path: Path = EVAL_FILE) -> dict[str, Any]:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def label_of(path: Path) -> str:
    return LABELS.get(Path(path).resolve(), Path(path).stem)


def load(data: dict[str, Any]) -> tuple[dict[str, int], dict[str, int]]:
    """Insert the set as published listings (and their outbox rows); returns key → id maps."""
    from market.accounts.models import Organisation
    from market.core import outbox
    from market.core.db import session_scope, utcnow
    from market.listings.models import Achievement, Demand
    from tests.factories import valid_credit_code

    with session_scope() as s:
        uni = Organisation(
            name="评测大学",
            kind="university",
            credit_code=valid_credit_code(900001),
            entity_type_code="022",
            region_code="330203",
            verification_status="verified",
        )
        firm = Organisation(
            name="评测企业",
            kind="enterprise",
            credit_code=valid_credit_code(900002),
            entity_type_code="150",
            region_code="330212",
            verification_status="verified",
        )
        s.add_all([uni, firm])
        s.flush()
        now = utcnow()
        a_ids, d_ids = {}, {}
        for key, field, maturity, title, text, keywords in data["achievements"]:
            a = Achievement(
                org_id=uni.id,
                title=title,
                summary=text,
                keywords=keywords,
                technical_field=field,
                maturity=maturity,
                ip_type="invention_patent",
                transfer_modes=["license", "transfer"],
                asking_price=None,
                price_negotiable=True,
                region_code="330203",
                status="published",
                published_at=now,
            )
            s.add(a)
            s.flush()
            outbox.emit(s, "search.index", "achievement", a.id)
            a_ids[key] = a.id
        for key, field, maturity, title, text, keywords, _relevant in data["demands"]:
            d = Demand(
                org_id=firm.id,
                title=title,
                description=text,
                keywords=keywords,
                technical_field=field,
                wanted_maturity=maturity,
                budget=Decimal("500000.00"),
                budget_negotiable=False,
                cooperation_modes=["license"],
                region_code="330212",
                status="published",
                published_at=now,
            )
            s.add(d)
            s.flush()
            outbox.emit(s, "search.index", "demand", d.id)
            d_ids[key] = d.id
    return a_ids, d_ids


@dataclass
class Quality:
    recall_at_k: float
    mrr: float
    k: int
    per_demand: list[dict[str, Any]]
    recall_at_10: float = 0.0


def _quality(
    queries: list[tuple[str, int, list[str]]], kind: str, key_of: dict[int, str], k: int, mode: str | None
) -> Quality:
    from market.core.db import session_scope
    from market.listings.models import Achievement, Demand
    from market.matching import match

    model = Demand if kind == "demand" else Achievement
    recalls, recalls10, rrs, rows = [], [], [], []
    for key, listing_id, relevant in queries:
        with session_scope() as s:
            listing = s.get(model, listing_id)
            result = match.match_listing(s, kind, listing, limit=max(k, 10), mode=mode)
        ranked = [key_of.get(i["listing"]["id"]) for i in result["items"]]
        recalls.append(len([r for r in relevant if r in ranked[:k]]) / len(relevant))
        recalls10.append(len([r for r in relevant if r in ranked[:10]]) / len(relevant))
        first = next((pos for pos, r in enumerate(ranked, start=1) if r in relevant), None)
        rrs.append(1 / first if first else 0.0)
        rows.append({"source": key, "relevant": relevant, "top": ranked[:k], "recall": recalls[-1], "rr": rrs[-1]})
    n = len(recalls)
    return Quality(sum(recalls) / n, sum(rrs) / n, k, rows, sum(recalls10) / n)


def evaluate(
    data: dict[str, Any], a_ids: dict[str, int], d_ids: dict[str, int], k: int = 5, mode: str | None = None
) -> Quality:
    """demand → achievements: each demand's relevant achievements among its matches."""
    key_of = {v: key for key, v in a_ids.items()}
    queries = [(key, d_ids[key], relevant) for key, *_rest, relevant in data["demands"]]
    return _quality(queries, "demand", key_of, k, mode)


def evaluate_reverse(
    data: dict[str, Any], a_ids: dict[str, int], d_ids: dict[str, int], k: int = 5, mode: str | None = None
) -> Quality:
    """achievement → demands: every achievement that answers some demand, and the demands it answers."""
    key_of = {v: key for key, v in d_ids.items()}
    wanted: dict[str, list[str]] = {}
    for key, *_rest, relevant in data["demands"]:
        for a in relevant:
            wanted.setdefault(a, []).append(key)
    queries = [(a, a_ids[a], demands) for a, demands in wanted.items() if a in a_ids]
    return _quality(queries, "achievement", key_of, k, mode)


def run_raw_baseline(data: dict[str, Any], a_ids: dict[str, int], d_ids: dict[str, int], k: int = 5) -> float:
    """Recall@k of the demand's title sent as a plain Meilisearch query (no expansion, no scoring)."""
    from search import runtime
    from search.settings import index_uid

    key_of = {v: key for key, v in a_ids.items()}
    recalls = []
    for _key, _f, _m, title, _t, _kw, relevant in data["demands"]:
        hits = runtime.get_client().search(index_uid("achievement"), {"q": title, "limit": k})["hits"]
        ranked = [key_of.get(h["id"]) for h in hits]
        recalls.append(len([r for r in relevant if r in ranked]) / len(relevant))
    return sum(recalls) / len(recalls)


def _fresh_database(path: Path) -> None:
    """A new SQLite database at `path`, migrated to heads, as the process's engine."""
    from market.core.db import create_db_engine, set_engine
    from market.core.migrations import upgrade

    engine = create_db_engine(f"sqlite:///{path}")
    upgrade(engine)
    set_engine(engine)


@click.command()
@click.option("--k", default=5, show_default=True)
@click.option("--verbose", is_flag=True, help="print every demand's top k")
@click.option(
    "--eval-file",
    "eval_files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="evaluation set(s) to run (repeatable); default: all six (tuned, held-out, blind, blind2, blind3, blind4)",
)
@click.option(
    "--mode",
    "modes",
    multiple=True,
    type=click.Choice(["hybrid", "lexical", "semantic"]),
    help="matching mode(s) to measure (repeatable); default: all three side by side",
)
@click.option(
    "--cache-vectors/--no-cache-vectors",
    default=True,
    show_default=True,
    help="keep the model's vectors on disk between runs (.var/bench-vectors)",
)
def main(k: int, verbose: bool, eval_files: tuple[Path, ...], modes: tuple[str, ...], cache_vectors: bool) -> None:
    import os

    from bench._vector_cache import DiskCachedEmbedder
    from market.matching import indexing
    from search import embeddings, runtime
    from search.client import MeiliClient

    files = [Path(f).resolve() for f in eval_files] or list(LABELS)
    own_db, own_meili = not os.environ.get("MARKET_DATABASE_URL"), not os.environ.get("MARKET_MEILI_URL")
    if len(files) > 1 and not (own_db and own_meili):
        # two sets in one database and index would rank each other's listings; keep them apart
        raise click.UsageError("with MARKET_DATABASE_URL / MARKET_MEILI_URL set, pass exactly one --eval-file")
    modes = modes or ("lexical", "semantic", "hybrid")
    embedder = embeddings.from_settings()
    if embedder is not None and cache_vectors:
        embedder = DiskCachedEmbedder(embedder)
    embeddings.configure(embedder)
    if embedder is None:
        modes = ("lexical",)
    workdir = Path(tempfile.mkdtemp(prefix="match-quality-"))
    server = None
    if own_meili:
        from market.embedded import start_meilisearch

        server = start_meilisearch(workdir / "meili")
    try:
        for n, path in enumerate(files, start=1):
            label = label_of(path)
            if own_db:
                _fresh_database(workdir / f"eval{n}.db")
            if server is not None:
                prefix = f"eval{n}"
                key = runtime.scoped_key(server.url, server.master_key, prefix)
                runtime.configure(MeiliClient(server.url, key), prefix)
            indexing.apply_index_settings()
            data = eval_set(path)
            a_ids, d_ids = load(data)
            indexing.drain_index()
            started = time.perf_counter()
            embedded = indexing.embed_pending()
            embed_seconds = time.perf_counter() - started
            print(
                f"[{label}] {path.name}: demands={len(d_ids)} achievements={len(a_ids)}  "
                f"embedding pass {embed_seconds:.1f} s ({embedded.processed} rows, error={embedded.error})"
            )
            baseline = run_raw_baseline(data, a_ids, d_ids, k)
            for mode in modes:
                for direction, run in (("demand→achievements", evaluate), ("achievement→demands", evaluate_reverse)):
                    started = time.perf_counter()
                    q = run(data, a_ids, d_ids, k, mode=mode)
                    took = time.perf_counter() - started
                    if verbose:
                        for row in q.per_demand:
                            print(json.dumps(row, ensure_ascii=False))
                    print(
                        f"[{label}] {mode:8s} {direction:20s} recall@{k}={q.recall_at_k:.3f}  "
                        f"recall@10={q.recall_at_10:.3f}  MRR={q.mrr:.3f}  (n={len(q.per_demand)}, {took:.1f} s)"
                    )
            print(f"[{label}] raw title query baseline recall@{k}={baseline:.3f}")
        if isinstance(embedder, DiskCachedEmbedder):
            embedder.save()
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
