"""Search tasks: drain the outbox into Meilisearch, embed, notify saved searches, deliver signed webhooks.

Every task here drains durable rows (outbox rows, webhook deliveries with their due time) through
market/matching; a write nudges them by task name after its commit (outbox.route), and the beat entries
make it happen when Redis was down.
"""

from __future__ import annotations

import logging

from celery.signals import worker_ready

from market.matching import flows, indexing, notifications, saved_searches
from search.client import SearchUnavailable
from workers.base import add_beat, task

log = logging.getLogger(__name__)
QUEUE = indexing.QUEUE
DRAIN, NOTIFY, EMBED = indexing.DRAIN_TASK, indexing.NOTIFY_TASK, indexing.EMBED_TASK
DELIVER = notifications.DELIVER_TASK


@task(DRAIN, queue=QUEUE, max_retries=0)
def drain_search_index() -> dict:
    """Drain every due outbox row; failures are rescheduled on the rows themselves (backoff), not here."""
    result = indexing.drain_index()
    return {"processed": result.processed, "retried": result.retried, "batches": result.batches, "error": result.error}


@task(NOTIFY, queue=QUEUE, max_retries=0)
def notify_saved_searches(*_legacy: object) -> dict:
    """Check saved searches against the listings the drain found public (rows of NOTIFY_TOPIC).

    (Messages queued by the previous version carried a listing; its outbox row is drained here all the same.)"""
    return saved_searches.drain_notifications()


@task(EMBED, queue=QUEUE, max_retries=0)
def embed_search_index() -> dict:
    """The embedding pass: vectors for listings indexed without one; failures come back on the rows (backoff)."""
    result = indexing.embed_pending()
    return {"processed": result.processed, "retried": result.retried, "batches": result.batches, "error": result.error}


@task(DELIVER, queue=QUEUE, max_retries=0)
def deliver_webhooks() -> dict:
    """Send every webhook delivery that is due (each failure is rescheduled on its row, for hours)."""
    return flows.sweep_webhooks()


add_beat("search-drain", DRAIN, 30, queue=QUEUE)
add_beat("search-notify", NOTIFY, 30, queue=QUEUE)
add_beat("webhooks-deliver", DELIVER, 30, queue=QUEUE)
add_beat("search-embed", EMBED, 30, queue=QUEUE)


@worker_ready.connect
def _apply_settings_on_start(**_: object) -> None:
    try:
        indexing.apply_index_settings()
    except SearchUnavailable:
        log.warning(
            "Meilisearch unavailable at worker start; settings applied on the next `market search apply-settings`"
        )
