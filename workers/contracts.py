"""Contract and statistics tasks: the monthly report (月度监测), produced on a schedule."""

from __future__ import annotations

from market.core.db import session_scope, utcnow
from market.core.workdays import china_date
from market.stats import service
from workers.base import add_beat, task

QUEUE = "default"


@task("market.contracts.monthly_report", queue=QUEUE)
def monthly_report(
    year: int | None = None, month: int | None = None, region: str | None = None, replace: bool = False
) -> int:
    """Produce (once) the report of the given month, default the month just ended; returns the report id."""
    if year is None or month is None:
        year, month = service.previous_month(china_date(utcnow()))
    with session_scope() as session:
        return service.produce_monthly_report(session, year, month, region, replace=replace).id


# Hourly (was daily, so the first report came a day after start): the first run after a month ends produces
# its report; later runs find it (one query) and do nothing. Back-fill with `market stats-report` or the endpoint.
add_beat("contracts-monthly-report", "market.contracts.monthly_report", 3600, queue=QUEUE)
