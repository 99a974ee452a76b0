"""Turnover statistics: sums over the contract ledger (registration-dated, signed entries), read through its rollup.

Every figure is a SUM over `contract_ledger`: a registration adds +1 and its amounts on its
registration date, an amendment subtracts the old version and adds the new one on the
amendment's registration date, a cancellation subtracts on its date. So a period's figures
are exactly the contracts (in the versions) registered in it, net of later changes
registered in it, and past periods are never rewritten. A period is read from `stats_rollup`
(the same sums per year, quarter, month and day, kept in step with the ledger) as its whole
years, quarters and months and the days at its edges (`market.stats.rollup`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from market.contracts import rules
from market.core import regions, workdays
from market.core.config import get_settings
from market.core.db import to_money, utcnow
from market.core.errors import ValidationFailed
from market.core.vocab import ENTITY_TYPE_LABELS, IP_TYPE_LABELS, TECHNICAL_FIELD_LABELS
from market.stats import rollup
from market.stats.models import MonthlyReport, RollupRow, StatsTarget

ZERO = Decimal("0.00")


@dataclass
class Figures:
    """Count, 合同成交额 and 技术交易额 of one row."""

    count: int = 0
    total_amount: Decimal = ZERO
    technical_transaction_amount: Decimal = ZERO

    def as_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "total_amount": to_money(self.total_amount),
            "technical_transaction_amount": to_money(self.technical_transaction_amount),
        }

    def __add__(self, other: Figures) -> Figures:
        return Figures(
            self.count + other.count,
            self.total_amount + other.total_amount,
            self.technical_transaction_amount + other.technical_transaction_amount,
        )


@dataclass
class Table:
    """A statistic: named columns and rows of plain values (what JSON, CSV and XLSX render)."""

    title: str
    columns: list[str]
    rows: list[dict[str, Any]]
    meta: dict[str, Any] = field(default_factory=dict)


def source(
    dimension: str,
    start: dt.date,
    end: dt.date,
    *,
    years: bool = True,
    quarters: bool = True,
    keys: list[str] | None = None,
) -> sa.Subquery:
    """The rollup rows to sum for one dimension over [start, end]: its whole years (if `years`), whole quarters
    (if `quarters`), whole months and the days at its edges. Columns: period (yyyymm; a year's is yyyy00, a
    quarter's its first month), key, key2, name, count, total_amount, technical_transaction_amount. With `keys`,
    only the rows of those keys."""
    R = RollupRow
    split = rollup.split_period(start, end, years=years, quarters=quarters)
    columns = (R.key, R.key2, R.name, R.count, R.total_amount, R.technical_transaction_amount)

    def rows(grain: str, period: Any, first: int, last: int) -> sa.Select:
        stmt = sa.select(period.label("period"), *columns).where(
            R.dimension == dimension, R.grain == grain, R.period.between(first, last)
        )
        return stmt.where(R.key.in_(keys)) if keys is not None else stmt

    def day(d: dt.date) -> int:
        return d.year * 10000 + d.month * 100 + d.day

    parts = [rows("y", R.period * 100, *split.years)] if split.years else []
    parts += [rows("q", R.period // 10 * 100 + R.period % 10 * 3 - 2, *q) for q in split.quarters]
    parts += [rows("m", R.period, *m) for m in split.months]
    parts += [rows("d", R.period // 100, day(first), day(last)) for first, last in split.days]
    if not parts:  # an empty period: no rows, with the same columns
        parts = [rows("d", R.period // 100, 1, 0)]
    return (sa.union_all(*parts) if len(parts) > 1 else parts[0]).subquery("src")


def _figures_columns(src: sa.Subquery) -> tuple[Any, Any, Any]:
    return (
        sa.func.coalesce(sa.func.sum(src.c.count), 0).label("count"),
        sa.func.coalesce(sa.func.sum(src.c.total_amount), 0).label("total_amount"),
        sa.func.coalesce(sa.func.sum(src.c.technical_transaction_amount), 0).label("technical_transaction_amount"),
    )


def _figures(row: Any) -> Figures:
    return Figures(
        int(row.count or 0), to_money(row.total_amount or 0), to_money(row.technical_transaction_amount or 0)
    )


# --- periods ------------------------------------------------------------------------------------


def period_bounds(year: int, month: int | None = None, quarter: int | None = None) -> tuple[dt.date, dt.date]:
    if month is not None and quarter is not None:
        raise ValidationFailed("give month or quarter, not both", code="ambiguous_period")
    if month is not None:
        if not 1 <= month <= 12:
            raise ValidationFailed.field("month", "invalid_month", "month must be 1-12")
        start = dt.date(year, month, 1)
        end = dt.date(year + (month == 12), month % 12 + 1, 1) - dt.timedelta(days=1)
        return start, end
    if quarter is not None:
        if not 1 <= quarter <= 4:
            raise ValidationFailed.field("quarter", "invalid_quarter", "quarter must be 1-4")
        start = dt.date(year, 3 * quarter - 2, 1)
        last_month = 3 * quarter
        end = dt.date(year + (last_month == 12), last_month % 12 + 1, 1) - dt.timedelta(days=1)
        return start, end
    return dt.date(year, 1, 1), dt.date(year, 12, 31)


def same_day_last_year(day: dt.date) -> dt.date:
    return day.replace(year=day.year - 1, day=min(day.day, 28) if day.month == 2 and day.day == 29 else day.day)


def growth(current: Decimal | int, previous: Decimal | int) -> str | None:
    """Year-on-year growth in percent (2 places), None when last year had nothing."""
    if not previous:
        return None
    value = (Decimal(current) - Decimal(previous)) * 100 / Decimal(previous)
    return str(value.quantize(Decimal("0.01")))


def totals(session: Session, start: dt.date, end: dt.date, seller_region: str | None = None) -> Figures:
    """All registered contracts of the period, or those whose seller is in a region (code prefix)."""
    if seller_region is None:
        src = source("subtype", start, end)
        return _figures(session.execute(sa.select(*_figures_columns(src))).one())
    src = source("region", start, end)
    stmt = sa.select(*_figures_columns(src)).where(src.c.key.like(f"{seller_region}%"))
    return _figures(session.execute(stmt).one())


def summary(session: Session, start: dt.date, end: dt.date) -> Table:
    cur = totals(session, start, end)
    prev = totals(session, same_day_last_year(start), same_day_last_year(end))
    row = {"from": start, "to": end, **cur.as_dict(), **_yoy(cur, prev)}
    return Table("summary", list(row), [row])


def _yoy(cur: Figures, prev: Figures) -> dict[str, Any]:
    return {
        "previous_count": prev.count,
        "previous_total_amount": to_money(prev.total_amount),
        "previous_technical_transaction_amount": to_money(prev.technical_transaction_amount),
        "count_growth_pct": growth(cur.count, prev.count),
        "total_amount_growth_pct": growth(cur.total_amount, prev.total_amount),
        "technical_transaction_amount_growth_pct": growth(
            cur.technical_transaction_amount, prev.technical_transaction_amount
        ),
    }


def year_to_date(session: Session, as_of: dt.date) -> Table:
    start = dt.date(as_of.year, 1, 1)
    table = summary(session, start, as_of)
    table.title = "year_to_date"
    return table


GRANULARITIES = ("month", "quarter", "year")


def series(session: Session, start: dt.date, end: dt.date, granularity: str = "month") -> Table:
    """Figures per registration month / quarter / year, each beside the same period a year earlier."""
    if granularity not in GRANULARITIES:
        raise ValidationFailed.field("granularity", "invalid_granularity", "granularity: month, quarter or year")
    src = source(
        "subtype", same_day_last_year(start), end, years=granularity == "year", quarters=granularity != "month"
    )
    year = (src.c.period // 100).label("year")
    keys: tuple[sa.Label[Any], ...]
    if granularity == "month":
        keys = (year, (src.c.period % 100).label("month"))
    elif granularity == "quarter":
        keys = (year, ((src.c.period % 100 + 2) // 3).label("quarter"))
    else:
        keys = (year,)
    stmt = sa.select(*keys, *_figures_columns(src)).group_by(*keys)
    found: dict[tuple, Figures] = {}
    for row in session.execute(stmt):
        found[tuple(int(v) for v in row[: len(keys)])] = _figures(row)
    rows = []
    for key in _period_keys(start, end, granularity):
        cur = found.get(key, Figures())
        prev = found.get((key[0] - 1, *key[1:]), Figures())
        label = {
            "month": lambda k: f"{k[0]}-{k[1]:02d}",
            "quarter": lambda k: f"{k[0]}Q{k[1]}",
            "year": lambda k: str(k[0]),
        }[granularity](key)
        rows.append({"period": label, **cur.as_dict(), **_yoy(cur, prev)})
    return Table(
        f"by_{granularity}", ["period", *(rows[0] if rows else Figures().as_dict())], rows, {"from": start, "to": end}
    )


def _period_keys(start: dt.date, end: dt.date, granularity: str) -> list[tuple[int, ...]]:
    keys: list[tuple[int, ...]] = []
    year, month = start.year, start.month
    while (year, month) <= (end.year, end.month):
        key = {"month": (year, month), "quarter": (year, (month + 2) // 3), "year": (year,)}[granularity]
        if key not in keys:
            keys.append(key)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return keys


# --- breakdowns ---------------------------------------------------------------------------------


def _type_label(code: str) -> str:
    return rules.CONTRACT_TYPES.get(code, (code, {}))[0]


SUBTYPE_LABELS = {f"{t}.{s}": label for t, (_, subs) in rules.CONTRACT_TYPES.items() for s, label in subs.items()}


def _region_label(code: str) -> str:
    return regions.region_name(code)


@dataclass(frozen=True)
class Dimension:
    name: str
    description: str
    rollup: str  # the rollup dimension it is read from
    label: Any = None  # callable(key) -> label


DIMENSIONS: dict[str, Dimension] = {
    d.name: d
    for d in (
        Dimension("contract_type", "合同类型", "subtype", _type_label),
        Dimension("subtype", "合同类型细分", "subtype"),
        Dimension("technical_field", "技术领域", "technical_field", lambda k: TECHNICAL_FIELD_LABELS.get(k, k)),
        Dimension("ip_type", "知识产权类型", "ip_type", lambda k: IP_TYPE_LABELS.get(k, k)),
        Dimension(
            "seller_entity_type",
            "技术输出方法人性质",
            "seller_entity_type",
            lambda k: ENTITY_TYPE_LABELS.get(k, k or "境外"),
        ),
        Dimension(
            "buyer_entity_type",
            "技术吸纳方法人性质",
            "buyer_entity_type",
            lambda k: ENTITY_TYPE_LABELS.get(k, k or "境外"),
        ),
        Dimension(
            "plan_source",
            "计划来源 (国家 / 部门 / 省 / 地市县 / 计划外)",
            "plan_source",
            lambda k: rules.PLAN_SOURCES.get(k, k or "未填"),
        ),
        Dimension("payment_method", "支付方式", "payment_method", lambda k: rules.PAYMENT_METHODS.get(k, k or "未填")),
    )
}
# Region breakdowns read the (seller region, buyer region) pairs: key is the seller's, key2 the buyer's.
REGION_DIMENSIONS = {
    "seller_region": ("key", "技术输出 (卖方所在地)"),
    "buyer_region": ("key2", "技术吸纳 (买方所在地)"),
}
PARTY_DIMENSIONS = {"seller": "卖方 (技术输出方)", "buyer": "买方 (技术吸纳方)", "intermediary": "中介机构"}
ORDERINGS = ("count", "total_amount", "technical_transaction_amount")  # in _figures_columns order
ALL_BREAKDOWNS = (*DIMENSIONS, *REGION_DIMENSIONS, *PARTY_DIMENSIONS)


def _nonzero(f: Figures) -> bool:
    return bool(f.count or f.total_amount or f.technical_transaction_amount)


def breakdown(
    session: Session,
    dimension: str,
    start: dt.date,
    end: dt.date,
    *,
    region_level: int = 6,
    within: str | None = None,
    limit: int | None = None,
    order_by: str = "total_amount",
) -> Table:
    """Figures of registered contracts in [start, end] grouped by one dimension, biggest first."""
    if order_by not in ORDERINGS:
        raise ValidationFailed.field("order_by", "invalid_order", f"order_by: {', '.join(ORDERINGS)}")
    meta: dict[str, Any] = {"dimension": dimension, "from": start, "to": end}
    if dimension in DIMENSIONS:
        dim = DIMENSIONS[dimension]
        src = source(dim.rollup, start, end)
        keys = (src.c.key, src.c.key2) if dimension == "subtype" else (src.c.key,)
        figs = _figures_columns(src)
        stmt = sa.select(*keys, *figs).group_by(*keys)
        meta["description"] = dim.description

        def key_of(row: Any) -> tuple[str, str]:
            if dimension == "subtype":
                return f"{row[0]}.{row[1]}", SUBTYPE_LABELS.get(f"{row[0]}.{row[1]}", row[1])
            return row[0], dim.label(row[0]) if dim.label else row[0]

    elif dimension in REGION_DIMENSIONS:
        if region_level not in (2, 4, 6):
            raise ValidationFailed.field("region_level", "invalid_region_level", "region_level: 2, 4 or 6")
        column_name, meta["description"] = REGION_DIMENSIONS[dimension]
        src = source("region", start, end)
        column = src.c[column_name]
        region_key = sa.func.substr(column, 1, region_level).label("key")
        figs = _figures_columns(src)
        stmt = sa.select(region_key, *figs).group_by(region_key)
        if within:
            stmt = stmt.where(column.like(f"{rules.region_prefix(within)}%"))
        meta["region_level"] = region_level

        def key_of(row: Any) -> tuple[str, str]:
            return row[0], _region_label(row[0])

    elif dimension in PARTY_DIMENSIONS:
        meta["description"] = PARTY_DIMENSIONS[dimension]
        # Keyed by credit code when the party has one, else by name; shown under the greatest name seen.
        src = source(dimension, start, end)
        if limit:
            return _top_parties(session, dimension, src, start, end, limit, order_by, meta)
        figs = _figures_columns(src)
        stmt = sa.select(src.c.key, sa.func.max(src.c.name).label("name"), *figs).group_by(src.c.key)

        def key_of(row: Any) -> tuple[str, str]:
            return row[0], row[1]

    else:
        raise ValidationFailed.field(
            "dimension", "unknown_dimension", f"dimension must be one of: {', '.join(ALL_BREAKDOWNS)}"
        )
    sort = figs[ORDERINGS.index(order_by)]
    stmt = stmt.order_by(sort.desc(), sa.literal_column("1"))
    if limit:
        stmt = stmt.limit(limit)
    rows = []
    for row in session.execute(stmt):
        figures = _figures(row)
        if not _nonzero(figures):
            continue
        key, label = key_of(row)
        rows.append({"key": key, "label": label, **figures.as_dict()})
    return Table(f"by_{dimension}", ["key", "label", *Figures().as_dict()], rows, meta)


def _top_parties(
    session: Session,
    dimension: str,
    src: sa.Subquery,
    start: dt.date,
    end: dt.date,
    limit: int,
    order_by: str,
    meta: dict[str, Any],
) -> Table:
    """The first `limit` parties of a breakdown in two passes: tens of thousands of parties are ranked by the one
    figure ordered by (summing the other two and comparing names for all of them costs more than the ranking
    itself), then the figures and names of just those few are summed (the same rows, so the same exact sums)."""
    sort = _figures_columns(src)[ORDERINGS.index(order_by)]
    ranked = [
        key
        for key, _ in session.execute(
            sa.select(src.c.key, sort).group_by(src.c.key).order_by(sort.desc(), src.c.key).limit(limit)
        )
    ]
    rows = []
    if ranked:
        few = source(dimension, start, end, keys=ranked)
        figs = _figures_columns(few)
        stmt = sa.select(few.c.key, sa.func.max(few.c.name).label("name"), *figs).group_by(few.c.key)
        found = {row.key: row for row in session.execute(stmt)}
        for key in ranked:
            figures = _figures(found[key])
            if _nonzero(figures):
                rows.append({"key": key, "label": found[key].name, **figures.as_dict()})
    return Table(f"by_{dimension}", ["key", "label", *Figures().as_dict()], rows, meta)


def top_parties(
    session: Session, side: str, start: dt.date, end: dt.date, limit: int = 10, order_by: str = "total_amount"
) -> Table:
    if side not in ("seller", "buyer"):
        raise ValidationFailed.field("side", "invalid_side", "side: seller or buyer")
    table = breakdown(session, side, start, end, limit=limit, order_by=order_by)
    table.title = f"top_{side}s"
    return table


# --- regional flows -----------------------------------------------------------------------------

FLOW_LABELS = {
    "output": "技术输出 (卖方在本地)",
    "absorption": "技术吸纳 (买方在本地)",
    "local_local": "本地↔本地",
    "inflow": "技术流入 (外地卖方 → 本地买方)",
    "outflow": "技术流出 (本地卖方 → 外地买方)",
}


def flows(session: Session, start: dt.date, end: dt.date, region: str | None = None) -> Table:
    """Output, absorption, local↔local, inflow and outflow for a region (default: the deployment's)."""
    prefix = rules.region_prefix(region or get_settings().region_code)
    if not prefix.isdigit():
        raise ValidationFailed.field(
            "region", "invalid_region_code", "region must be a region code or prefix, e.g. 3302"
        )
    src = source("region", start, end)
    seller_in = src.c.key.like(f"{prefix}%")
    buyer_in = src.c.key2.like(f"{prefix}%")
    conditions = {
        "output": seller_in,
        "absorption": buyer_in,
        "local_local": sa.and_(seller_in, buyer_in),
        "inflow": sa.and_(buyer_in, sa.not_(seller_in)),
        "outflow": sa.and_(seller_in, sa.not_(buyer_in)),
    }
    columns = []
    for name, cond in conditions.items():
        columns += [
            sa.func.coalesce(sa.func.sum(sa.case((cond, src.c.count), else_=0)), 0).label(f"{name}_count"),
            sa.func.coalesce(sa.func.sum(sa.case((cond, src.c.total_amount), else_=0)), 0).label(f"{name}_total"),
            sa.func.coalesce(sa.func.sum(sa.case((cond, src.c.technical_transaction_amount), else_=0)), 0).label(
                f"{name}_tta"
            ),
        ]
    # One pass over the period, only rows touching the region.
    stmt = sa.select(*columns).where(sa.or_(seller_in, buyer_in))
    row = session.execute(stmt).one()._mapping
    rows = [
        {
            "key": name,
            "label": label,
            "count": int(row[f"{name}_count"]),
            "total_amount": to_money(row[f"{name}_total"] or 0),
            "technical_transaction_amount": to_money(row[f"{name}_tta"] or 0),
        }
        for name, label in FLOW_LABELS.items()
    ]
    return Table(
        "flows",
        ["key", "label", *Figures().as_dict()],
        rows,
        {"region": prefix, "region_name": regions.region_name(prefix), "from": start, "to": end},
    )


# --- targets ------------------------------------------------------------------------------------


def set_target(
    session: Session,
    actor_user_id: int,
    year: int,
    region: str | None,
    *,
    contract_count: int | None,
    total_amount: Decimal | None,
    technical_transaction_amount: Decimal | None,
) -> StatsTarget:
    prefix = rules.region_prefix(region or get_settings().region_code)
    target = session.scalar(sa.select(StatsTarget).where(StatsTarget.year == year, StatsTarget.region_prefix == prefix))
    if target is None:
        target = StatsTarget(year=year, region_prefix=prefix)
        session.add(target)
    if all(v is None for v in (contract_count, total_amount, technical_transaction_amount)):
        raise ValidationFailed("a target needs at least one figure", code="empty_target")
    target.contract_count, target.set_by = contract_count, actor_user_id
    target.total_amount = to_money(total_amount) if total_amount is not None else None
    target.technical_transaction_amount = (
        to_money(technical_transaction_amount) if technical_transaction_amount is not None else None
    )
    session.flush()
    from types import SimpleNamespace

    from market.core import audit

    audit.record(
        session,
        entity_type="stats_target",
        entity_id=target.id,
        action="set",
        actor=SimpleNamespace(user_id=actor_user_id),
        detail={
            "year": year,
            "region_prefix": prefix,
            "contract_count": contract_count,
            "total_amount": None if total_amount is None else str(target.total_amount),
            "technical_transaction_amount": None
            if technical_transaction_amount is None
            else str(target.technical_transaction_amount),
        },
    )
    return target


def progress(session: Session, year: int, region: str | None = None, as_of: dt.date | None = None) -> Table:
    """Figures so far this year against the bureau's target; the basis is 技术输出 (sellers in the region)."""
    prefix = rules.region_prefix(region or get_settings().region_code)
    as_of = as_of or workdays.china_date(utcnow())
    end = min(as_of, dt.date(year, 12, 31))
    target = session.scalar(sa.select(StatsTarget).where(StatsTarget.year == year, StatsTarget.region_prefix == prefix))
    done = totals(session, dt.date(year, 1, 1), end, seller_region=prefix)
    rows = []
    for metric, achieved in (
        ("count", done.count),
        ("total_amount", done.total_amount),
        ("technical_transaction_amount", done.technical_transaction_amount),
    ):
        goal = getattr(target, "contract_count" if metric == "count" else metric, None) if target else None
        pct = str((Decimal(achieved) * 100 / Decimal(goal)).quantize(Decimal("0.01"))) if goal else None
        rows.append({"metric": metric, "target": goal, "achieved": achieved, "progress_pct": pct})
    return Table(
        "target_progress",
        ["metric", "target", "achieved", "progress_pct"],
        rows,
        {"year": year, "region": prefix, "region_name": regions.region_name(prefix), "as_of": end, "basis": "output"},
    )


# --- the monthly report (月度监测) ----------------------------------------------------------------


def build_monthly_report(session: Session, year: int, month: int, region: str | None = None) -> dict[str, Any]:
    prefix = rules.region_prefix(region or get_settings().region_code)
    start, end = period_bounds(year, month)
    tables = [
        summary(session, start, end),
        year_to_date(session, end),
        breakdown(session, "contract_type", start, end),
        breakdown(session, "technical_field", start, end),
        breakdown(session, "seller_entity_type", start, end),
        breakdown(session, "buyer_entity_type", start, end),
        flows(session, start, end, prefix),
        flows(session, dt.date(year, 1, 1), end, prefix),
        top_parties(session, "seller", start, end),
        top_parties(session, "buyer", start, end),
        progress(session, year, prefix, end),
    ]
    tables[7].title = "flows_year_to_date"
    return {
        "year": year,
        "month": month,
        "region": prefix,
        "region_name": regions.region_name(prefix),
        "tables": [jsonable_table(t) for t in tables],
    }


def produce_monthly_report(
    session: Session, year: int, month: int, region: str | None = None, *, replace: bool = False
) -> MonthlyReport:
    """Store the 月度监测 report of a month once (again only with replace=True)."""
    prefix = rules.region_prefix(region or get_settings().region_code)
    existing = session.scalar(
        sa.select(MonthlyReport).where(
            MonthlyReport.year == year, MonthlyReport.month == month, MonthlyReport.region_prefix == prefix
        )
    )
    if existing is not None and not replace:
        return existing
    content = build_monthly_report(session, year, month, prefix)
    if existing is None:
        existing = MonthlyReport(year=year, month=month, region_prefix=prefix, content=content)
        session.add(existing)
    else:
        existing.content, existing.generated_at = content, utcnow()
    session.flush()
    return existing


def previous_month(today: dt.date) -> tuple[int, int]:
    return (today.year - 1, 12) if today.month == 1 else (today.year, today.month - 1)


def jsonable_table(table: Table) -> dict[str, Any]:
    def plain(v: Any) -> Any:
        if isinstance(v, Decimal):
            return str(v)
        if isinstance(v, dt.date):
            return v.isoformat()
        return v

    return {
        "title": table.title,
        "columns": table.columns,
        "rows": [{k: plain(v) for k, v in row.items()} for row in table.rows],
        "meta": {k: plain(v) for k, v in table.meta.items()},
    }


def table_from_json(data: dict[str, Any]) -> Table:
    return Table(data["title"], data["columns"], data["rows"], data.get("meta", {}))
