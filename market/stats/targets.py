"""Multi-year targets (cumulative, or a ratio against a bureau-entered denominator such as GDP) and their progress."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from market.auth.actor import Actor
from market.core import audit, regions
from market.core.db import to_money, utcnow
from market.core.errors import NotFound, ValidationFailed
from market.core.workdays import china_date
from market.stats import rules
from market.stats.models import Denominator, PeriodTarget
from market.stats.service import totals


def checked_prefix(region: str | None) -> str:
    """A region code or prefix (default the deployment's) as its prefix; a 422 when it is not one."""
    from market.core.config import get_settings

    prefix = regions.region_prefix(region or get_settings().region_code)
    if not prefix.isdigit() or len(prefix) not in (2, 4, 6):
        raise ValidationFailed.field("region", "invalid_region_code", "region: a region code or prefix, e.g. 3302")
    return prefix


def create(session: Session, actor: Actor, data: dict[str, Any]) -> PeriodTarget:
    if data["first_year"] > data["last_year"]:
        raise ValidationFailed.field("last_year", "years_out_of_order", "last_year is before first_year")
    if data["kind"] == "cumulative" and data.get("target_amount") is None:
        raise ValidationFailed.field("target_amount", "target_amount_required", "a cumulative target needs an amount")
    if data["kind"] == "ratio" and (data.get("target_pct") is None or not data.get("denominator")):
        raise ValidationFailed.field(
            "target_pct", "ratio_target_incomplete", "a ratio target needs target_pct and a denominator"
        )
    target = PeriodTarget(
        region_prefix=checked_prefix(data.get("region")),
        kind=data["kind"],
        metric=data["metric"],
        first_year=data["first_year"],
        last_year=data["last_year"],
        name=data["name"],
        target_amount=data.get("target_amount") if data["kind"] == "cumulative" else None,
        target_pct=data.get("target_pct") if data["kind"] == "ratio" else None,
        denominator=data.get("denominator") if data["kind"] == "ratio" else None,
        set_by=actor.user_id,
    )
    session.add(target)
    session.flush()
    audit.record(
        session,
        entity_type="stats_period_target",
        entity_id=target.id,
        action="create",
        actor=actor,
        detail={k: str(v) if isinstance(v, Decimal) else v for k, v in data.items()},
    )
    return target


def set_denominator(session: Session, actor: Actor, name: str, region: str, year: int, amount: Decimal) -> Denominator:
    prefix = checked_prefix(region)
    row = session.scalar(
        sa.select(Denominator).where(
            Denominator.name == name, Denominator.region_prefix == prefix, Denominator.year == year
        )
    )
    if row is None:
        row = Denominator(name=name, region_prefix=prefix, year=year, amount=to_money(amount))
        session.add(row)
    row.amount, row.set_by = to_money(amount), actor.user_id
    session.flush()
    audit.record(
        session,
        entity_type="stats_denominator",
        entity_id=row.id,
        action="set",
        actor=actor,
        detail={"name": name, "region_prefix": prefix, "year": year, "amount": str(row.amount)},
    )
    return row


def _metric(session: Session, metric: str, start: dt.date, end: dt.date, prefix: str) -> Decimal:
    return Decimal(getattr(totals(session, start, end, seller_region=prefix), metric))


def progress(session: Session, target_id: int, as_of: dt.date | None = None) -> dict[str, Any]:
    """Year by year figures (basis 技术输出: sellers in the region) against the target, with the working."""
    t = session.get(PeriodTarget, target_id)
    if t is None:
        raise NotFound("no such target", code="target_not_found")
    as_of = as_of or china_date(utcnow())
    years = [y for y in range(t.first_year, t.last_year + 1) if dt.date(y, 1, 1) <= as_of]
    by_year = {
        y: _metric(session, t.metric, dt.date(y, 1, 1), min(as_of, dt.date(y, 12, 31)), t.region_prefix) for y in years
    }
    out: dict[str, Any] = {
        "id": t.id,
        "name": t.name,
        "kind": t.kind,
        "metric": t.metric,
        "metric_label": rules.METRICS[t.metric],
        "region": t.region_prefix,
        "region_name": regions.region_name(t.region_prefix),
        "first_year": t.first_year,
        "last_year": t.last_year,
        "as_of": as_of,
        "basis": "output",
    }
    if t.kind == "cumulative":
        result = rules.cumulative(by_year, t.target_amount or Decimal(0))
        out.update(result)
        out["working"] = [f"{s['year']}: {s['achieved']} → cumulative {s['cumulative']}" for s in result["years"]] + [
            f"{result['achieved']} / {result['target']} = {result['progress_pct']} %"
        ]
        return out
    dens = {
        d.year: d.amount
        for d in session.scalars(
            sa.select(Denominator).where(
                Denominator.name == t.denominator, Denominator.region_prefix == t.region_prefix
            )
        )
    }
    rows = []
    for y in years:
        r = rules.ratio(by_year[y], dens.get(y), t.target_pct or Decimal(0))
        r["year"] = y
        r["working"] = (
            f"{by_year[y]} / {t.denominator} {dens[y]} × 100 = {r['ratio_pct']} % (target ≥ {t.target_pct} %)"
            if y in dens
            else f"no {t.denominator} entered for {y}"
        )
        rows.append(r)
    out.update({"denominator": t.denominator, "target_pct": t.target_pct, "years": rows})
    return out
