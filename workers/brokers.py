"""Broker tasks (技术经纪人): the beat delivers broker notices to the inbox and webhooks."""

from __future__ import annotations

from market.brokers import notices
from market.core.db import session_scope
from workers.base import add_beat, task

QUEUE = "default"
DELIVER_NOTICES = "market.brokers.deliver_notices"


@task(DELIVER_NOTICES, queue=QUEUE, max_retries=3)
def deliver_notices() -> int:
    """Pending broker notices → inbox entries and webhook deliveries (sent by the webhook sweep)."""
    with session_scope() as session:
        return len(notices.deliver_pending(session))


add_beat("brokers-deliver-notices", DELIVER_NOTICES, 30.0, queue=QUEUE)
