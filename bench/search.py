"""Search and match latency through the HTTP API vs the same queries sent straight to Meilisearch, and indexing throughput.

Run: .venv/bin/python bench/search.py [--achievements 100000] [--demands 20000] [--queries 200]
Everything is real: a Meilisearch the script starts, a SQLite database (or MARKET_DATABASE_URL),
and the API in a uvicorn subprocess. Listings are synthetic, built from the domain dictionary.
"""

from __future__ import annotations

import gc
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import click
import httpx
import sqlalchemy as sa

# Run as a script, bench/ comes first on sys.path and this file would shadow the `search` package.
sys.path[:0] = [str(Path(__file__).resolve().parents[1])]

from market.core.config import PROJECT_ROOT  # noqa: E402
from market.core.vocab import Maturity, TechnicalField, TransferMode  # noqa: E402

SENTENCES = [
    "本成果涉及{0}与{1}，可用于{2}。",
    "针对{0}中的难题，提出{1}方案，显著改善{2}。",
    "企业需要{0}，希望结合{1}解决{2}问题。",
    "该技术以{0}为核心，兼顾{1}和{2}。",
    "围绕{0}开展{1}研究，形成{2}工程化能力。",
]


def synthetic(rng: random.Random, groups: list[tuple[str, ...]], n: int, kind: str, org_id: int) -> list[dict]:
    from market.core.db import utcnow

    now = utcnow()
    fields, maturities, modes = list(TechnicalField), list(Maturity), list(TransferMode)
    rows = []
    for i in range(n):
        terms = [rng.choice(rng.choice(groups)) for _ in range(5)]
        title = f"{terms[0]}{rng.choice(['技术', '系统', '工艺', '装置', '方法', '需求'])}{i}"
        text = "".join(rng.choice(SENTENCES).format(*rng.sample(terms, 3)) for _ in range(3))
        price = None if rng.random() < 0.3 else Decimal(rng.randrange(5, 500) * 10000)
        common = dict(
            title=title,
            technical_field=rng.choice(fields).value,
            keywords=terms[1:3],
            region_code="330212",
            status="published" if rng.random() < 0.95 else "draft",
            published_at=now,
            org_id=org_id,
            version=1,
            created_at=now,
            updated_at=now,
        )
        if kind == "achievement":
            rows.append(
                {
                    **common,
                    "summary": text,
                    "maturity": rng.choice(maturities).value,
                    "ip_type": "invention_patent",
                    "patent_numbers": [],
                    "transfer_modes": [m.value for m in rng.sample(modes, 2)],
                    "asking_price": price,
                    "price_negotiable": price is None,
                    "inventors": [],
                    "recognitions": [],
                }
            )
        else:
            rows.append(
                {
                    **common,
                    "description": text,
                    "wanted_maturity": rng.choice(maturities).value,
                    "budget": price,
                    "budget_negotiable": price is None,
                    "cooperation_modes": [rng.choice(modes).value],
                }
            )
    return rows


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] * 1000


def summary(name: str, api: list[float], raw: list[float]) -> None:
    a50, a90, a95 = pct(api, 50), pct(api, 90), pct(api, 95)
    r50, r90, r95 = pct(raw, 50), pct(raw, 90), pct(raw, 95)
    # Each API request is paired with the same request sent raw right after it: on a shared machine the
    # median of the paired differences is steadier than the difference of two medians.
    paired = statistics.median(a - r for a, r in zip(api, raw, strict=True)) * 1000
    print(
        f"{name:<17} API p50={a50:7.2f} p90={a90:7.2f} p95={a95:7.2f} ms | raw Meilisearch p50={r50:7.2f} "
        f"p90={r90:7.2f} p95={r95:7.2f} ms | API adds p50 {a50 - r50:+.2f} ms, median paired {paired:+.2f} ms",
        flush=True,
    )


def outbox_rows(kind: str, ids: list[int], now: object) -> list[dict]:
    return [
        {
            "topic": "search.index",
            "entity_type": kind,
            "entity_id": i,
            "created_at": now,
            "available_at": now,
            "attempts": 0,
        }
        for i in ids
    ]


def start_api(http_port: int, cwd: Path, env: dict[str, str]) -> tuple[subprocess.Popen, httpx.Client]:
    """The API in a uvicorn subprocess (from `cwd`: this tree, or a baseline checkout), once it answers."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "market.app:create_app",
            "--factory",
            "--port",
            str(http_port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=cwd,
        env={**env, "PYTHONPATH": str(cwd)},
    )
    http = httpx.Client(base_url=f"http://127.0.0.1:{http_port}", timeout=60)
    deadline = time.monotonic() + 120
    while True:
        try:
            if http.get("/healthz").status_code == 200:
                return proc, http
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            raise RuntimeError(f"API from {cwd} did not start")
        time.sleep(0.2)


@click.command()
@click.option("--achievements", default=100_000, show_default=True)
@click.option("--demands", default=20_000, show_default=True)
@click.option("--queries", default=200, show_default=True, help="requests per measured operation")
@click.option("--batch", default=2000, show_default=True, help="outbox rows per drain batch")
@click.option("--seed", default=7)
@click.option("--embed-sample", default=64, show_default=True, help="listings embedded to measure model throughput")
@click.option(
    "--vectors",
    "vector_source",
    type=click.Choice(["model", "random", "pool"]),
    default="model",
    show_default=True,
    help="listing vectors: the model's own (hours at full size; cached on disk between runs), or stand-ins for a "
    "speed run: random unit vectors of the model's dimension, or a pool of --pool-size really embedded texts reused "
    "(queries are always embedded by the real model)",
)
@click.option("--pool-size", default=256, show_default=True)
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="keep the database and the index here; a later run with the same directory and sizes skips loading",
)
@click.option(
    "--baseline",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="a checkout of older code (git archive COMMIT | tar -x -C DIR): its API runs beside this one on the same "
    "database and index, every request sent to both in turn",
)
def main(
    achievements: int,
    demands: int,
    queries: int,
    batch: int,
    seed: int,
    embed_sample: int,
    vector_source: str,
    pool_size: int,
    workdir: Path | None,
    baseline: Path | None,
) -> None:
    import json
    import secrets

    from bench._vector_cache import DiskCachedEmbedder, StandInPassages
    from market.core.db import create_db_engine, session_scope, set_engine
    from market.core.migrations import upgrade
    from market.embedded import free_port, start_meilisearch
    from market.listings.models import Demand
    from market.matching import listings, match, synonyms
    from search import embeddings, query, runtime, vectors, writer
    from search.client import MeiliClient
    from search.settings import index_uid, settings_for
    from search.synonyms import shipped_groups

    rng = random.Random(seed)
    workdir = workdir or Path(tempfile.mkdtemp(prefix="bench-search-"))
    workdir.mkdir(parents=True, exist_ok=True)
    state_file = workdir / "loaded.json"
    wanted = {"achievements": achievements, "demands": demands, "vectors": vector_source, "seed": seed}
    state = json.loads(state_file.read_text()) if state_file.exists() else {}
    reuse = state.get("loaded") == wanted
    master_key = state.get("master_key") or secrets.token_urlsafe(24)
    state_file.write_text(json.dumps({"master_key": master_key, "loaded": state.get("loaded") if reuse else None}))
    db_url = os.environ.get("MARKET_DATABASE_URL") or f"sqlite:///{workdir / 'bench.db'}"
    engine = create_db_engine(db_url)
    if not reuse and db_url.startswith("sqlite:///"):
        engine.dispose()
        Path(db_url.removeprefix("sqlite:///")).unlink(missing_ok=True)
        engine = create_db_engine(db_url)
    upgrade(engine)
    set_engine(engine)
    if not reuse:
        import shutil

        shutil.rmtree(workdir / "meili", ignore_errors=True)
    meili = start_meilisearch(workdir / "meili", master_key=master_key)
    key = runtime.scoped_key(meili.url, meili.master_key, "bench")
    client = MeiliClient(meili.url, key, timeout=120)
    runtime.configure(client, "bench")
    embedder = embeddings.from_settings()
    cached = DiskCachedEmbedder(embedder) if embedder is not None else None  # queries (and model passages) on disk
    corpus_embedder = cached if vector_source == "model" or cached is None else StandInPassages(cached, vector_source)
    embeddings.configure(corpus_embedder)
    print(f"load average at start: {os.getloadavg()[0]:.1f}; work directory {workdir}", flush=True)
    if embedder is not None:
        label = {
            "model": f"the model's own ({embedder.identity})",
            "random": f"STAND-INS: random unit vectors of dimension {embedder.dimensions} (not the model's)",
            "pool": f"STAND-INS: {pool_size} texts really embedded by {embedder.identity}, reused for every listing",
        }[vector_source]
        print(f"listing vectors: {label}; query vectors: the real model", flush=True)
    apis: list[tuple[str, subprocess.Popen]] = []
    try:
        for kind in ("achievement", "demand", "call"):  # as the API's start-up does, but waiting as long as it takes
            writer.ensure_index(client, index_uid(kind))
            client.wait_task(client.update_settings(index_uid(kind), settings_for(kind)), timeout=36000)
        groups = list(shipped_groups())
        with session_scope() as s:
            extractor = synonyms.current_extractor(s)
        if reuse:
            print(f"reusing the loaded corpus in {workdir} ({achievements} achievements, {demands} demands)")
        else:
            load(
                achievements, demands, batch, seed, embed_sample, rng, groups, embedder, corpus_embedder, vector_source
            )
            state_file.write_text(json.dumps({"master_key": master_key, "loaded": wanted}))
        gc.collect()
        gc.freeze()

        # -- the API in a uvicorn subprocess; a baseline tree's beside it on the same database and index
        env = {
            **os.environ,
            "MARKET_DATABASE_URL": db_url,
            "MARKET_MEILI_URL": meili.url,
            "MARKET_MEILI_API_KEY": key,
            "MARKET_MEILI_INDEX_PREFIX": "bench",
            "MARKET_DATA_DIR": str(workdir / "api"),
        }
        servers: list[tuple[str, httpx.Client]] = []
        for name, tree in [("API", PROJECT_ROOT)] + ([("baseline", baseline.resolve())] if baseline else []):
            proc, http = start_api(free_port(), tree, env)
            apis.append((name, proc))
            servers.append((name, http))

        words = [rng.choice(g) for g in rng.sample(groups, min(queries, len(groups)))]
        words = (words * (queries // len(words) + 1))[:queries]
        with session_scope() as s:
            demand_ids = rng.sample(list(s.scalars(sa.select(Demand.id).where(Demand.status == "published"))), queries)
        uid_a = index_uid("achievement")

        # The raw side gets the exact requests the API sends, prepared beforehand: pure Meilisearch time.
        # query embeddings, timed on their own (the API caches them: measured below with a warm cache)
        query_embedding: list[float] = []
        vector_of: dict[str, list[float]] = {}

        def embed_query(text: str) -> list[float] | None:
            if embedder is None:
                return None
            if text not in vector_of:
                t = time.perf_counter()
                vector_of[text] = embedder.embed([text], "query")[0]
                query_embedding.append(time.perf_counter() - t)
            return vector_of[text]

        from market.core.config import get_settings

        min_sim = get_settings().embeddings_min_similarity

        def search_body(q: str) -> tuple:  # with the query's meaning, as the API sends it
            variants = extractor.variants(extractor.terms(q))
            vector = embed_query(q)
            probe = None
            if vector is not None:  # the bounded semantic request, whose hits above the floor the federation scores
                probe = query.semantic_probe(uid_a, "achievement", vector, query.SearchFilters(), want=20)
            return probe, lambda ids: query.search_request(
                uid_a,
                "achievement",
                q,
                variants,
                query.SearchFilters(),
                sort="relevance",
                offset=0,
                limit=20,
                vector=vector,
                semantic_ids=ids,
            )

        match_bodies, semantic_bodies = {}, {}
        with session_scope() as s:
            for d in demand_ids:
                doc = listings.document_of("demand", s.get(Demand, d), extractor)
                match_bodies[d] = match.match_request(extractor, "demand", doc)
                vector = embed_query(vectors.embedding_text(doc))
                if vector is not None:
                    semantic_bodies[d] = match.semantic_match_request("achievement", vector, query.SearchFilters())
        search_bodies = {q: search_body(q) for q in set(words)}

        def raw_search(q: str) -> None:  # both requests, as market/matching/searching.py sends them
            probe, request = search_bodies[q]
            ids = None if probe is None else query.ids_above_floor(client.search(uid_a, probe)["hits"], min_sim)
            qs, fed, body = request(ids)
            client.search(uid_a, body) if body is not None else client.multi_search(qs, fed)

        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(max_workers=2)

        def raw_match(demand_id: int) -> None:
            # as the API sends them (market/matching/match.py): the semantic request in a second thread while the
            # lexical federation goes out, both awaited
            semantic = (
                pool.submit(client.search, uid_a, semantic_bodies[demand_id]) if demand_id in semantic_bodies else None
            )
            client.multi_search(match_bodies[demand_id], query.match_federation())
            if semantic is not None:
                semantic.result()

        def raw_match_sequential(demand_id: int) -> None:  # as the API sent them before (the baseline's way)
            client.multi_search(match_bodies[demand_id], query.match_federation())
            if demand_id in semantic_bodies:
                client.search(uid_a, semantic_bodies[demand_id])

        if embedder is not None:
            print(
                f"query embedding (uncached, real model, in this process): p50={pct(query_embedding, 50):.1f} ms "
                f"p95={pct(query_embedding, 95):.1f} ms over {len(query_embedding)} texts",
                flush=True,
            )
        # warm-up: each API's query-vector cache gets the same queries (embedding reported apart), connections
        for _, http in servers:
            for q, d in zip(words, demand_ids, strict=True):
                http.get("/api/v1/search", params={"q": q})
                http.get(f"/api/v1/match/demand/{d}")
        for q in words[:20]:
            raw_search(q)
        t_search = {name: [] for name, _ in servers}
        t_match = {name: [] for name, _ in servers}
        t_raw_search: list[float] = []
        t_raw_match: list[float] = []
        t_raw_match_seq: list[float] = []
        for q, d in zip(words, demand_ids, strict=True):
            for name, http in servers:
                t = time.perf_counter()
                assert http.get("/api/v1/search", params={"q": q}).status_code == 200
                t_search[name].append(time.perf_counter() - t)
            t = time.perf_counter()
            raw_search(q)
            t_raw_search.append(time.perf_counter() - t)
            for name, http in servers:
                t = time.perf_counter()
                assert http.get(f"/api/v1/match/demand/{d}").status_code == 200
                t_match[name].append(time.perf_counter() - t)
            t = time.perf_counter()
            raw_match(d)
            t_raw_match.append(time.perf_counter() - t)
            if baseline:
                t = time.perf_counter()
                raw_match_sequential(d)
                t_raw_match_seq.append(time.perf_counter() - t)
        floor = []
        for _ in range(queries):
            t = time.perf_counter()
            servers[0][1].get("/healthz")
            floor.append(time.perf_counter() - t)
        print(f"indexed: {achievements} achievements, {demands} demands; {queries} requests each, interleaved")
        print(f"load average at the end: {os.getloadavg()[0]:.1f}")
        print(f"HTTP floor (GET /healthz, no search): p50={pct(floor, 50):.2f} ms p95={pct(floor, 95):.2f} ms")
        for name, _ in servers:
            summary(f"search ({name})", t_search[name], t_raw_search)
        for name, _ in servers:
            summary(f"match ({name})", t_match[name], t_raw_match if name == "API" else t_raw_match_seq)
        if baseline:
            print(
                "(match: this tree's API is paired with raw Meilisearch sent as it sends them — the semantic request "
                "in a second thread beside the lexical one; the baseline with the two sent one after the other, as "
                "it sends them)"
            )
    finally:
        for _, proc in apis:
            proc.terminate()
            proc.wait(20)
        meili.stop()


def load(
    achievements: int,
    demands: int,
    batch: int,
    seed: int,
    embed_sample: int,
    rng: random.Random,
    groups: list,
    embedder: object,
    corpus_embedder: object,
    vector_source: str,
) -> None:
    """Generate the corpus, index it through the outbox drain, embed it, and measure each step."""
    from market.accounts.models import Organisation
    from market.core.db import session_scope, utcnow
    from market.core.outbox import OutboxEvent
    from market.listings.models import Achievement, Demand
    from market.matching import indexing, synonyms
    from search import embeddings, runtime, vectors, writer
    from search.settings import index_uid, settings_for
    from tests.factories import valid_credit_code

    client = runtime.get_client()
    with session_scope() as s:
        org = Organisation(
            name="基准机构",
            kind="university",
            credit_code=valid_credit_code(990001),
            entity_type_code="022",
            region_code="330203",
            verification_status="verified",
        )
        s.add(org)
        s.flush()
        org_id = org.id
    print(f"generating {achievements} achievements and {demands} demands …", flush=True)
    a_rows = synthetic(rng, groups, achievements, "achievement", org_id)
    d_rows = synthetic(rng, groups, demands, "demand", org_id)

    # -- indexing throughput: commit → searchable, through the outbox drain
    with session_scope() as s:
        for model, rows, kind in ((Achievement, a_rows, "achievement"), (Demand, d_rows, "demand")):
            for start in range(0, len(rows), 5000):
                s.execute(sa.insert(model), rows[start : start + 5000])
            s.execute(sa.insert(OutboxEvent), outbox_rows(kind, list(s.scalars(sa.select(model.id))), utcnow()))
    del a_rows, d_rows
    committed = time.perf_counter()
    result = indexing.drain_index(limit=batch)
    drained = time.perf_counter() - committed
    total = achievements + demands
    assert result.error is None, result.error
    print(
        f"indexing via outbox drain (by words): {total} listings in {drained:.1f} s = {total / drained:,.0f} "
        f"listings/s (commit → searchable, batch {batch})",
        flush=True,
    )

    if embedder is not None:
        # -- embedding throughput of the model itself, on a sample of real listing texts (nothing cached)
        with session_scope() as s:
            extractor = synonyms.current_extractor(s)
            sample_ids = s.scalars(sa.select(Achievement.id).limit(embed_sample)).all()
            sample = [
                vectors.embedding_text(d)
                for d in indexing.load_documents(s, "achievement", set(sample_ids), extractor).values()
                if d
            ]
        started = time.perf_counter()
        for text in sample[:16]:
            embedder.embed([text], "passage")
        single = 16 / (time.perf_counter() - started)
        started = time.perf_counter()
        for i in range(0, len(sample), vectors.BATCH):
            embedder.embed(sample[i : i + vectors.BATCH], "passage")
        batched = len(sample) / (time.perf_counter() - started)
        print(
            f"embedding throughput ({embedder.identity}): single {single:.1f} listings/s, batched "
            f"{batched:.1f} listings/s (batches of {vectors.BATCH}, {len(sample)} listings, "
            f"mean {sum(map(len, sample)) / len(sample):.0f} chars)",
            flush=True,
        )
        # -- the embedding pass over the corpus (the product's own pass; vectors as --vectors says)
        started = time.perf_counter()
        embedded = indexing.embedding_pass(client, extractor, limit=500, max_batches=10**6)
        took = time.perf_counter() - started
        assert embedded.error is None, embedded.error
        corpus_embedder.save()
        print(
            f"embedding pass ({vector_source} vectors): {embedded.processed} listings in {took:.1f} s = "
            f"{embedded.processed / took:,.0f} listings/s through the pass (store + push with vectors); "
            f"{corpus_embedder.computed} vectors computed by the model in {corpus_embedder.compute_seconds:.1f} s",
            flush=True,
        )
        # -- commit → searchable by words, then by meaning, for one new listing and for a batch (the real model)
        embeddings.configure(embedder)
        for n in (1, 20):
            with session_scope() as s:
                fresh = synthetic(random.Random(seed + n), groups, n, "achievement", org_id)
                for row in fresh:
                    row["status"], row["title"] = "published", row["title"] + f"新{n}"
                new_ids = [s.execute(sa.insert(Achievement).values(**row)).inserted_primary_key[0] for row in fresh]
                s.execute(sa.insert(OutboxEvent), outbox_rows("achievement", new_ids, utcnow()))
            started = time.perf_counter()
            assert indexing.drain_index(limit=batch).error is None
            by_words = time.perf_counter() - started
            assert indexing.embed_pending(limit=vectors.BATCH).error is None
            by_meaning = time.perf_counter() - started
            print(
                f"commit → searchable, {n} new listing(s), real model: by words {by_words * 1000:.0f} ms, "
                f"by meaning {by_meaning * 1000:.0f} ms",
                flush=True,
            )
        embeddings.configure(corpus_embedder)

    # -- Meilisearch's own bulk add of the same documents into a fresh index
    with session_scope() as s:
        extractor = synonyms.current_extractor(s)
        docs = {
            k: [d for d in indexing.load_documents(s, k, set(s.scalars(sa.select(m.id))), extractor).values() if d]
            for k, m in (("achievement", Achievement), ("demand", Demand))
        }
    bulk_uid = index_uid("achievement", "_bulk")
    writer.ensure_index(client, bulk_uid)
    client.wait_task(client.update_settings(bulk_uid, settings_for("achievement")), timeout=600)
    flat = docs["achievement"] + [{**d, "id": d["id"] + 10**9} for d in docs["demand"]]
    del docs
    started = time.perf_counter()
    tasks = [client.add_documents(bulk_uid, flat[i : i + batch]) for i in range(0, len(flat), batch)]
    for t in tasks:
        client.wait_task(t, timeout=36000)
    bulk = time.perf_counter() - started
    print(
        f"Meilisearch bulk add (same documents, same settings, vectors included): {len(flat)} in {bulk:.1f} s = "
        f"{len(flat) / bulk:,.0f} docs/s",
        flush=True,
    )
    client.wait_task(client.delete_index(bulk_uid))
    # The generated rows and documents are no longer needed: left alive, every garbage collection in the
    # measured loop would walk them and charge the raw side with pauses Meilisearch never caused.
    del flat, tasks


if __name__ == "__main__":
    main()
