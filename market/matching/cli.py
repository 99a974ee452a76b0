"""`market search …`: apply index settings, drain the outbox, full reindex with swap, embed, lag."""

from __future__ import annotations

import json

import click


@click.group("search")
def search_group() -> None:
    """Meilisearch index upkeep."""


@search_group.command("apply-settings")
def apply_settings() -> None:
    """Create the indexes and apply their settings (idempotent)."""
    from market.matching import indexing

    indexing.apply_index_settings()
    click.echo("settings applied")


@search_group.command("reindex")
def reindex() -> None:
    """Rebuild every index from the database into a new index and swap it in (no empty moment)."""
    from market.matching import indexing

    indexing.apply_index_settings()
    counts = indexing.reindex()
    click.echo(json.dumps({"reindexed": counts}, ensure_ascii=False))


@search_group.command("drain")
@click.option("--limit", default=500, show_default=True, help="outbox rows per batch")
def drain(limit: int) -> None:
    """Drain due outbox rows into the index now, then check saved searches against the listings now public
    (what the worker's tasks do; with `market serve` running, its Meilisearch is used)."""
    from market.matching import indexing, saved_searches

    r = indexing.drain_index(limit=limit)
    notified = saved_searches.drain_notifications()
    click.echo(
        json.dumps({"processed": r.processed, "retried": r.retried, "error": r.error, "notifications": notified})
    )


@search_group.command("embed")
def embed() -> None:
    """Embed every public listing with the configured model (after a model change: all of them), with progress."""
    from market.matching import indexing
    from search import embeddings

    embedder = embeddings.get_embedder()
    if embedder is None:
        raise click.ClickException("MARKET_EMBEDDINGS=none: lexical matching only, nothing to embed")
    state: dict = {}

    def start(total: int) -> None:
        state["bar"] = click.progressbar(length=total, label=f"embedding with {embedder.identity}", show_pos=True)
        state["bar"].__enter__()

    try:
        counts = indexing.embed_all(on_start=start, on_progress=lambda n: state["bar"].update(n))
    finally:
        if "bar" in state:
            state["bar"].__exit__(None, None, None)
    click.echo(json.dumps({"model": embedder.identity, "embedded": counts}, ensure_ascii=False))


@search_group.command("lag")
def lag() -> None:
    """Print the index lag (oldest undrained outbox entry)."""
    from market.core.db import session_scope
    from market.matching import indexing

    with session_scope() as session:
        click.echo(json.dumps(indexing.index_lag(session), default=str))


commands: list[click.Command] = [search_group]
