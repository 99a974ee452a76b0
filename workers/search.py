"""Search tasks: drain the outbox into Meilisearch, notify saved searches, deliver signed webhooks."""

from __future__ import annotations

import contextlib
import logging

from celery import current_task
from celery.signals import worker_ready

from market.core import outbox
from market.core.db import session_scope
from market.matching import service
from search.client import SearchUnavailable
from search.indexer import TOPIC
from search.vectors import EMBED_TOPIC
from workers.base import add_beat, task

log = logging.getLogger(__name__)
QUEUE = "search"
WEBHOOK_RETRIES = 8


@task("market.search.drain", queue=QUEUE, max_retries=0)
def drain_search_index() -> dict:
    """Drain every due outbox row; failures are rescheduled on the rows themselves (backoff), not here."""
    result = service.drain_index(on_public=_queue_notifications)
    return {"processed": result.processed, "retried": result.retried, "batches": result.batches, "error": result.error}


@task("market.search.embed", queue=QUEUE, max_retries=0)
def embed_search_index() -> dict:
    """The embedding pass: vectors for listings indexed without one; failures come back on the rows (backoff)."""
    result = service.embed_pending(on_public=_queue_notifications)
    return {"processed": result.processed, "retried": result.retried, "batches": result.batches, "error": result.error}


def _queue_notifications(public: list[tuple[str, int]]) -> None:
    for kind, listing_id in public:
        with contextlib.suppress(Exception):
            notify_saved_searches.apply_async((kind, listing_id), retry=False)


@task("market.search.notify", queue=QUEUE)
def notify_saved_searches(kind: str, listing_id: int) -> int:
    with session_scope() as session:
        created = service.notify_for_listing(session, kind, listing_id)
        deliveries = service.pending_deliveries(session, created)
    for delivery_id in deliveries:
        deliver_webhook.apply_async((delivery_id,), retry=False)
    return len(created)


@task("market.search.deliver_webhook", queue=QUEUE, max_retries=WEBHOOK_RETRIES)
def deliver_webhook(delivery_id: int) -> str:
    retries = current_task.request.retries if current_task else 0
    return service.deliver_webhook(delivery_id, final_attempt=retries >= WEBHOOK_RETRIES)


def nudge() -> None:
    """After a listing change commits: drain now (if Redis is down, the beat entry catches up)."""
    try:
        drain_search_index.apply_async(retry=False)
    except Exception:  # noqa: BLE001 - never fail a committed write over a nudge
        log.warning("could not nudge the search drain; the beat entry will catch up", exc_info=True)


outbox.register_nudger(TOPIC, nudge)
add_beat("search-drain", "market.search.drain", 30, queue=QUEUE)


def nudge_embedding() -> None:
    """Listings were indexed without a vector: embed them now (the beat entry catches up if Redis is down)."""
    try:
        embed_search_index.apply_async(retry=False)
    except Exception:  # noqa: BLE001 - never fail a committed write over a nudge
        log.warning("could not nudge the embedding pass; the beat entry will catch up", exc_info=True)


outbox.register_nudger(EMBED_TOPIC, nudge_embedding)
add_beat("search-embed", "market.search.embed", 30, queue=QUEUE)


@worker_ready.connect
def _apply_settings_on_start(**_: object) -> None:
    try:
        service.apply_index_settings()
    except SearchUnavailable:
        log.warning("Meilisearch unavailable at worker start; settings applied on the next `market search apply-settings`")
