"""Subsidy tasks: compute a run (progress is written to the run as each policy finishes)."""

from __future__ import annotations

import logging

from market.core.errors import MarketError
from market.subsidies import service
from workers.base import task

log = logging.getLogger(__name__)

COMPUTE_RUN = "market.subsidies.compute_run"


@task(COMPUTE_RUN, queue="subsidies", max_retries=2)
def compute_run_task(run_id: int) -> None:
    try:
        service.compute_run(run_id)
    except MarketError as exc:
        # A run that is no longer a draft (reviewed, frozen) is a decision, not a transient failure: no retry.
        log.warning("subsidy run %s not computed: %s (%s)", run_id, exc.message, exc.code)
