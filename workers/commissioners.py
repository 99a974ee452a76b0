"""Commissioner tasks (科技特派员): the beat delivers commissioner notices to the inbox and webhooks."""

from __future__ import annotations

from market.commissioners import notices
from market.core.db import session_scope
from workers.base import add_beat, task

QUEUE = "default"
DELIVER_NOTICES = "market.commissioners.deliver_notices"


@task(DELIVER_NOTICES, queue=QUEUE, max_retries=3)
def deliver_notices() -> int:
    """Pending commissioner notices → inbox entries and webhook deliveries (sent by the webhook sweep)."""
    with session_scope() as session:
        return len(notices.deliver_pending(session))


add_beat("commissioners-deliver-notices", DELIVER_NOTICES, 30.0, queue=QUEUE)
