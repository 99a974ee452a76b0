"""Housekeeping on a schedule: processed outbox rows and old delivered webhooks are pruned."""

from __future__ import annotations

import datetime as dt
import os

from market.core import outbox
from market.core.db import session_scope
from market.matching import webhooks
from workers.base import add_beat, task

PRUNE = "market.maintenance.prune"
# Processed outbox rows say only "this was done"; the audit log keeps who changed what.
OUTBOX_KEEP = dt.timedelta(days=float(os.environ.get("MARKET_OUTBOX_KEEP_DAYS", "7")))
# Delivered webhooks stay this long for subscribers to look back; failed ones stay until redelivered.
DELIVERIES_KEEP = dt.timedelta(days=float(os.environ.get("MARKET_DELIVERIES_KEEP_DAYS", "30")))


@task(PRUNE, max_retries=0)
def prune() -> dict[str, int]:
    """Delete processed outbox rows and delivered webhook deliveries older than their keep periods."""
    with session_scope() as session:
        return {
            "outbox": outbox.prune(session, OUTBOX_KEEP),
            "webhook_deliveries": webhooks.prune_deliveries(session, DELIVERIES_KEEP),
        }


add_beat("maintenance-prune", PRUNE, 3600)
