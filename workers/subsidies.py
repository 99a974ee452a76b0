"""Subsidy tasks: compute queued runs (progress is written to the run as each policy finishes)."""

from __future__ import annotations

import logging

from market.core import outbox
from market.core.errors import MarketError
from market.subsidies import service
from workers.base import add_beat, task

log = logging.getLogger(__name__)

COMPUTE_RUN = "market.subsidies.compute_run"
COMPUTE_QUEUED = service.COMPUTE_QUEUED_TASK


@task(COMPUTE_QUEUED, queue="subsidies", max_retries=0)
def compute_queued() -> dict:
    """Compute every run queued in the outbox (one at a time; a failure stays on its row and comes back)."""
    return outbox.drain_topic(service.COMPUTE_TOPIC, service.compute_queued, limit=1, lease=service.STALE_COMPUTATION)


@task(COMPUTE_RUN, queue="subsidies", max_retries=2)
def compute_run_task(run_id: int) -> None:
    """Compute one run now (kept for callers by name; queued runs go through compute_queued)."""
    try:
        service.compute_run(run_id)
    except MarketError as exc:
        # A run that is no longer a draft (reviewed, frozen) is a decision, not a transient failure: no retry.
        log.warning("subsidy run %s not computed: %s (%s)", run_id, exc.message, exc.code)


# A run queued while Redis was down (no nudge arrived) is computed by this sweep.
add_beat("subsidies-compute-queued", COMPUTE_QUEUED, 30, queue="subsidies")
