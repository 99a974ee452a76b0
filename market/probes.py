"""Domain figures that core's readiness check and metrics report, plugged in here so that core imports no domain.

`install()` is called by the API (`market.app.create_app`) and the `market ready` command; it imports nothing heavy
(the domain modules load when a check or a scrape first asks).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from market.core import health, metrics


def _index_lag(session: Session) -> dict[str, Any]:
    from market.matching.indexing import index_lag

    return index_lag(session)


def _webhook_counts(session: Session) -> dict[str, int]:
    from market.matching.models import WebhookDelivery

    counts = {"pending": 0, "delivered": 0, "failed": 0}
    for status, count in session.execute(
        sa.select(WebhookDelivery.status, sa.func.count()).group_by(WebhookDelivery.status)
    ):
        counts[status] = count
    return counts


def install() -> None:
    health.set_index_lag_source(_index_lag)
    metrics.set_webhook_counts_source(_webhook_counts)
