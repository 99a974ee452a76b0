"""Target arithmetic as plain functions: cumulative progress over several years, a ratio against a denominator."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

METRICS = {"count": "合同数", "total_amount": "合同成交额", "technical_transaction_amount": "技术交易额"}
KINDS = {"cumulative": "多年累计", "ratio": "占比 (对分母, 如 GDP)"}
PCT = Decimal("0.01")
RATIO = Decimal("0.0001")


def pct(part: Decimal, whole: Decimal, places: Decimal = PCT) -> Decimal | None:
    """part / whole in per cent, rounded half up; None when there is no whole."""
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(places, rounding=ROUND_HALF_UP)


def cumulative(achieved_by_year: dict[int, Decimal], target: Decimal) -> dict[str, Any]:
    """Progress of a multi-year cumulative target: the running sum year by year and its share of the target."""
    running, steps = Decimal(0), []
    for year in sorted(achieved_by_year):
        running += achieved_by_year[year]
        steps.append(
            {
                "year": year,
                "achieved": achieved_by_year[year],
                "cumulative": running,
                "progress_pct": pct(running, target),
            }
        )
    return {
        "achieved": running,
        "target": target,
        "progress_pct": pct(running, target),
        "remaining": max(Decimal(0), target - running),
        "met": running >= target,
        "years": steps,
    }


def ratio(achieved: Decimal, denominator: Decimal | None, target_pct: Decimal) -> dict[str, Any]:
    """A year's figure as a per cent of its denominator (成交额 / GDP), against the target per cent."""
    value = pct(achieved, denominator, RATIO) if denominator else None
    return {
        "achieved": achieved,
        "denominator": denominator,
        "ratio_pct": value,
        "target_pct": target_pct,
        "met": None if value is None else value >= target_pct,
    }
