"""The monthly monitoring view (月度监测制度, seed 001): per month and region, the figures the market computes,
against the same month a year earlier, year to date against last year's, and against the bureau's targets.

Regions: the region asked for (default the deployment's) and each district / county under it that has
registered technology-output contracts this year or last. Figures: `market.monitoring.figures`. Targets:
the yearly targets (`PUT /api/v1/stats/targets/{year}`) and the multi-year cumulative / ratio targets
(`/api/v1/stats/period-targets`) of the region, each with its working as of the month's last day.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from market.core import regions
from market.monitoring import figures
from market.stats import service as stats
from market.stats import targets
from market.stats.models import PeriodTarget, StatsTarget

MONTHLY = (
    "contracts_registered",
    "contract_turnover",
    "technical_transaction_amount",
    "evaluations_completed",
    "vouchers_redeemed",
    "filed_intermediaries",
    "brokers_employed",
)
STOCKS = frozenset({"filed_intermediaries", "brokers_employed"})  # a count on the last day, not a sum over the period
YEAR_TARGET_FIELD = {
    "contracts_registered": "contract_count",
    "contract_turnover": "total_amount",
    "technical_transaction_amount": "technical_transaction_amount",
}
COLUMNS = [
    "region_code",
    "region_name",
    "metric",
    "label",
    "unit",
    "month",
    "same_month_last_year",
    "month_growth_pct",
    "year_to_date",
    "year_to_date_last_year",
    "year_to_date_growth_pct",
    "year_target",
    "year_target_progress_pct",
]


def _districts(session: Session, prefix: str, start: dt.date, end: dt.date) -> list[str]:
    """The six-digit seller regions under a prefix with registered contracts in [start, end]."""
    if len(prefix) == 6:
        return []
    src = stats.source("region", start, end)
    keys = session.scalars(
        sa.select(src.c.key)
        .where(src.c.key.like(f"{prefix}%"))
        .group_by(src.c.key)
        .having(sa.func.sum(src.c.count) != 0)
    )
    return sorted(k for k in keys if len(k) == 6 and k != regions.full_code(prefix))


def _num(v: Decimal | None) -> str | None:
    return None if v is None else str(v)


def _row(session: Session, prefix: str, metric: str, year: int, month: int) -> dict[str, Any]:
    m = figures.METRICS[metric]
    start, end = stats.period_bounds(year, month)
    ly_start, ly_end = stats.period_bounds(year - 1, month)
    now = m.compute(session, prefix, start, end)
    before = m.compute(session, prefix, ly_start, ly_end)
    if metric in STOCKS:
        ytd, ytd_before = now, before
    else:
        ytd = m.compute(session, prefix, dt.date(year, 1, 1), end)
        ytd_before = m.compute(session, prefix, dt.date(year - 1, 1, 1), ly_end)
    row: dict[str, Any] = {
        "region_code": regions.full_code(prefix),
        "region_name": regions.region_name(prefix),
        "metric": metric,
        "label": m.label,
        "unit": m.unit,
        "month": _num(now.value),
        "same_month_last_year": _num(before.value),
        "month_growth_pct": stats.growth(now.value or 0, before.value or 0),
        "year_to_date": _num(ytd.value),
        "year_to_date_last_year": _num(ytd_before.value),
        "year_to_date_growth_pct": stats.growth(ytd.value or 0, ytd_before.value or 0),
        "year_target": None,
        "year_target_progress_pct": None,
        "working": {"month": now.working, "same_month_last_year": before.working, "year_to_date": ytd.working},
    }
    field = YEAR_TARGET_FIELD.get(metric)
    if field:
        goal = session.scalar(
            sa.select(getattr(StatsTarget, field)).where(StatsTarget.year == year, StatsTarget.region_prefix == prefix)
        )
        if goal:
            achieved = ytd.value or Decimal(0)
            pct = (Decimal(achieved) * 100 / Decimal(goal)).quantize(Decimal("0.01"))
            row["year_target"], row["year_target_progress_pct"] = str(goal), str(pct)
            row["working"]["year_target"] = f"{achieved} / {goal} × 100 = {pct} % of the {year} target"
    return row


def _period_targets(session: Session, prefix: str, year: int, end: dt.date) -> list[dict[str, Any]]:
    ids = session.scalars(
        sa.select(PeriodTarget.id)
        .where(PeriodTarget.region_prefix == prefix, PeriodTarget.first_year <= year, PeriodTarget.last_year >= year)
        .order_by(PeriodTarget.id)
    )
    return [targets.progress(session, i, end) for i in ids]


def view(session: Session, year: int, month: int, region: str | None = None) -> dict[str, Any]:
    """The month's monitored figures per region, with last year's, the growth and the targets."""
    prefix = targets.checked_prefix(region)
    start, end = stats.period_bounds(year, month)
    places = [prefix] + _districts(session, prefix, dt.date(year - 1, 1, 1), end)
    out_regions = []
    for p in places:
        out_regions.append(
            {
                "region_code": regions.full_code(p),
                "region_name": regions.region_name(p),
                "figures": [_row(session, p, m, year, month) for m in MONTHLY],
                "targets": _period_targets(session, p, year, end),
            }
        )
    return {
        "year": year,
        "month": month,
        "period": f"{start.isoformat()} … {end.isoformat()}",
        "region": regions.full_code(prefix),
        "region_name": regions.region_name(prefix),
        "basis": "contracts: 技术输出 (sellers in the region), by registration date",
        "regions": out_regions,
    }


def flat(result: dict[str, Any]) -> tuple[list[str], list[list[Any]], list[str], list[list[Any]]]:
    """The view as two tables for CSV / XLSX: the figures, and the targets with their working."""
    rows = [[f[c] for c in COLUMNS] for r in result["regions"] for f in r["figures"]]
    target_header = ["region_code", "region_name", "target", "kind", "metric", "progress", "working"]
    target_rows = []
    for r in result["regions"]:
        for t in r["targets"]:
            if t["kind"] == "cumulative":
                progress = f"{t['achieved']} / {t['target']} = {t['progress_pct']} %"
                working = "; ".join(t["working"])
            else:
                progress = "; ".join(f"{y['year']}: {y['ratio_pct']} %" for y in t["years"])
                working = "; ".join(y["working"] for y in t["years"])
            target_rows.append(
                [r["region_code"], r["region_name"], t["name"], t["kind"], t["metric"], progress, working]
            )
    return COLUMNS, rows, target_header, target_rows
