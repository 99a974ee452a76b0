"""Indicator sets (presets installed once, new versions by the bureau), values per region and period, scores."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from market.auth.actor import Actor
from market.core import audit, regions
from market.core.db import utcnow
from market.core.errors import InvalidState, NotFound, ValidationFailed
from market.core.identifiers import IdentifierError, check_region_code
from market.monitoring import figures, rules
from market.monitoring.models import IndicatorSet, IndicatorValue
from market.monitoring.presets import PRESETS

PERIOD = re.compile(r"^(19[9]\d|20\d\d|2100)(-(0[1-9]|1[0-2]))?$")


def ensure_presets(session: Session) -> None:
    """Install each shipped set once as version 1; later versions are the bureau's."""
    for code, (name, build) in PRESETS.items():
        if session.scalar(sa.select(IndicatorSet.id).where(IndicatorSet.code == code).limit(1)) is None:
            session.add(
                IndicatorSet(
                    code=code, version=1, name=name, definition=rules.validate(build(), figures.METRICS), is_preset=True
                )
            )
    session.flush()


def list_sets(session: Session) -> list[IndicatorSet]:
    ensure_presets(session)
    return list(session.scalars(sa.select(IndicatorSet).order_by(IndicatorSet.code, IndicatorSet.version)))


def get_set(session: Session, code: str, version: int | None = None) -> IndicatorSet:
    """A set's given version, else its latest."""
    ensure_presets(session)
    stmt = sa.select(IndicatorSet).where(IndicatorSet.code == code)
    stmt = stmt.where(IndicatorSet.version == version) if version else stmt.order_by(IndicatorSet.version.desc())
    found = session.scalar(stmt.limit(1))
    if found is None:
        raise NotFound("no such indicator set (version)", code="indicator_set_not_found")
    return found


def _invalid(e: rules.DefinitionError) -> ValidationFailed:
    return ValidationFailed(e.message, code=e.code, details=[{"field": e.path, "code": e.code, "message": e.message}])


def new_version(session: Session, actor: Actor, code: str, name: str, definition: dict[str, Any]) -> IndicatorSet:
    """Store a new version of a set (a new set when the code is new); earlier versions are kept as they were."""
    try:
        definition = rules.validate(definition, figures.METRICS)
    except rules.DefinitionError as e:
        raise _invalid(e) from None
    ensure_presets(session)
    last = session.scalar(sa.select(sa.func.max(IndicatorSet.version)).where(IndicatorSet.code == code)) or 0
    row = IndicatorSet(code=code, version=last + 1, name=name, definition=definition, created_by=actor.user_id)
    session.add(row)
    session.flush()
    audit.record(
        session,
        entity_type="monitoring_indicator_set",
        entity_id=row.id,
        action="version",
        actor=actor,
        detail={"code": code, "version": row.version},
    )
    return row


def check_period(period: str) -> str:
    if not PERIOD.fullmatch(period or ""):
        raise ValidationFailed.field("period", "invalid_period", "period is a year (2025) or a month (2025-06)")
    return period


def check_region(code: str) -> str:
    try:
        return check_region_code(code)
    except IdentifierError as e:
        raise ValidationFailed.field("region_code", e.code, e.message) from None


def _stored(value: Any) -> Any:
    """A value as kept: numbers as strings (exact), counts as an object."""
    if isinstance(value, dict):
        return {k: str(v) for k, v in value.items()}
    return str(value)


def put_values(
    session: Session,
    actor: Actor,
    code: str,
    region_code: str,
    period: str,
    values: dict[str, Any],
    *,
    source: str = "entered",
) -> list[IndicatorValue]:
    """Enter (or replace) a region's values for a period; a null value removes the entry."""
    region_code, period = check_region(region_code), check_period(period)
    indicator_set = get_set(session, code)
    known = rules.indicators(indicator_set.definition)
    if not values:
        raise ValidationFailed.field("values", "no_values", "give at least one indicator value")
    for ind_code, value in values.items():
        if ind_code not in known:
            raise ValidationFailed.field(f"values.{ind_code}", "unknown_indicator", f"{ind_code} is not in {code}")
        if value is not None:
            try:
                rules.score_indicator(known[ind_code], value, f"values.{ind_code}")
            except rules.DefinitionError as e:
                raise _invalid(e) from None
    existing = {
        v.indicator_code: v
        for v in session.scalars(
            sa.select(IndicatorValue).where(
                IndicatorValue.set_code == code,
                IndicatorValue.region_code == region_code,
                IndicatorValue.period == period,
                IndicatorValue.indicator_code.in_(list(values)),
            )
        )
    }
    written = []
    for ind_code, value in values.items():
        row = existing.get(ind_code)
        if value is None:
            if row is not None:
                session.delete(row)
            continue
        if row is None:
            row = IndicatorValue(set_code=code, indicator_code=ind_code, region_code=region_code, period=period)
            session.add(row)
        row.value, row.source, row.entered_by = {"value": _stored(value)}, source, actor.user_id
        written.append(row)
    session.flush()
    audit.record(
        session,
        entity_type="monitoring_values",
        entity_id=indicator_set.id,
        action=source,
        actor=actor,
        detail={
            "set": code,
            "region_code": region_code,
            "period": period,
            "values": {k: None if v is None else _stored(v) for k, v in values.items()},
        },
    )
    return written


def rows_of(
    session: Session, code: str, period: str, within: str | None = None
) -> dict[str, dict[str, IndicatorValue]]:
    """region → {indicator: stored value row} for a period."""
    stmt = sa.select(IndicatorValue).where(IndicatorValue.set_code == code, IndicatorValue.period == period)
    if within:
        stmt = stmt.where(IndicatorValue.region_code.startswith(regions.region_prefix(within)))
    out: dict[str, dict[str, IndicatorValue]] = {}
    for v in session.scalars(stmt):
        out.setdefault(v.region_code, {})[v.indicator_code] = v
    return out


def values_of(session: Session, code: str, period: str, within: str | None = None) -> dict[str, dict[str, Any]]:
    """region → {indicator: value} for a period."""
    return {
        region: {ind: v.value["value"] for ind, v in vals.items()}
        for region, vals in rows_of(session, code, period, within).items()
    }


def previous_period(period: str) -> str:
    """The same period a year earlier (year-on-year)."""
    return f"{int(period[:4]) - 1}{period[4:]}"


def scores(
    session: Session, code: str, period: str, *, version: int | None = None, within: str | None = None
) -> dict[str, Any]:
    """Every region's total, dimension and indicator scores with the working, ranked, beside last year's."""
    period = check_period(period)
    indicator_set = get_set(session, code, version)
    definition = indicator_set.definition

    def scored(p: str) -> list[rules.RegionScore]:
        stored = rows_of(session, code, p, within)
        out = []
        for region, vals in stored.items():
            s = rules.score_region(definition, region, {k: v.value["value"] for k, v in vals.items()})
            for d in s.dimensions:
                for i in d["indicators"]:
                    row = vals.get(i["code"])
                    i["source"] = row.source if row else None
                    if row is not None and row.value.get("working"):
                        i["working"] = f"{i['working']} (value computed by the market: {row.value['working']})"
            out.append(s)
        return rules.rank(out)

    last_year = {s.region_code: s for s in scored(previous_period(period))}
    rows = []
    for s in scored(period):
        before = last_year.get(s.region_code)
        _year_on_year(s.dimensions, before.dimensions if before else None)
        rows.append(
            {
                "rank": s.rank,
                "region_code": s.region_code,
                "region_name": regions.region_name(s.region_code),
                "total": s.total,
                "previous_total": before.total if before else None,
                "change": s.total - before.total if before else None,
                "previous_rank": before.rank if before else None,
                "dimensions": s.dimensions,
            }
        )
    return {
        "set": code,
        "version": indicator_set.version,
        "name": indicator_set.name,
        "period": period,
        "previous_period": previous_period(period),
        "regions": rows,
    }


def _year_on_year(dimensions: list[dict[str, Any]], previous: list[dict[str, Any]] | None) -> None:
    """Each dimension's and indicator's score a year earlier, and the change (None: nothing a year earlier)."""
    then = {d["code"]: d for d in previous or []}
    for d in dimensions:
        before = then.get(d["code"])
        d["previous_score"] = before["score"] if before else None
        d["change"] = d["score"] - before["score"] if before else None
        inds = {i["code"]: i for i in (before or {}).get("indicators", [])}
        for i in d["indicators"]:
            was = inds.get(i["code"])
            i["previous_value"] = was["value"] if was else None
            i["previous_score"] = was["score"] if was else None
            i["change"] = i["score"] - was["score"] if was else None


def flat_rows(result: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """The scores as one table (a row per region and indicator) for CSV / XLSX."""
    header = [
        "rank",
        "region_code",
        "region_name",
        "total",
        "dimension",
        "indicator",
        "value",
        "source",
        "score",
        "working",
    ]
    rows = []
    for r in result["regions"]:
        for d in r["dimensions"]:
            for i in d["indicators"]:
                value = (
                    i["value"]
                    if not isinstance(i["value"], dict)
                    else ", ".join(f"{k}={v}" for k, v in i["value"].items())
                )
                rows.append(
                    [
                        r["rank"],
                        r["region_code"],
                        r["region_name"],
                        r["total"],
                        d["name"],
                        i["name"],
                        value,
                        i.get("source") or "",
                        i["score"],
                        i["working"],
                    ]
                )
    return header, rows


IMPORT_COLUMNS = ("region_code", "period", "indicator_code", "value")
MAX_IMPORT_ROWS = 5000


def _sheet_rows(filename: str, content: bytes) -> list[list[Any]]:
    import csv
    import io

    if filename.lower().endswith(".xlsx"):
        from openpyxl import load_workbook

        try:
            sheet = load_workbook(io.BytesIO(content), read_only=True, data_only=True).worksheets[0]
            return [list(r) for r in sheet.iter_rows(values_only=True, max_row=MAX_IMPORT_ROWS + 2)]
        except Exception:  # openpyxl raises many kinds on a file that is not a workbook
            raise ValidationFailed.field("content", "unreadable_spreadsheet", "not a readable .xlsx workbook") from None
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationFailed.field("content", "unreadable_spreadsheet", "a CSV must be UTF-8") from None
    return [row for row in csv.reader(io.StringIO(text))][: MAX_IMPORT_ROWS + 2]


def _cell_value(raw: Any, indicator: Mapping[str, Any]) -> Any:
    """A cell as a value: a number, or "item=count; item=count" for per-item indicators."""
    if raw is None or str(raw).strip() == "":
        return None
    if indicator["rule"]["kind"] == "per_item":
        counts = {}
        for part in str(raw).replace("；", ";").split(";"):
            if part.strip():
                item, _, n = part.partition("=")
                counts[item.strip()] = n.strip()
        return counts
    return str(raw).strip()


def import_values(session: Session, actor: Actor, code: str, filename: str, content: bytes) -> dict[str, Any]:
    """Import values from a CSV / XLSX sheet (columns region_code, period, indicator_code, value). All rows or
    none: any bad row makes a 422 listing every bad row (row number, column, code, message)."""
    known = rules.indicators(get_set(session, code).definition)
    rows = _sheet_rows(filename, content)
    if not rows or [str(c or "").strip() for c in rows[0][:4]] != list(IMPORT_COLUMNS):
        raise ValidationFailed.field("content", "bad_header", f"the first row must be: {', '.join(IMPORT_COLUMNS)}")
    if len(rows) > MAX_IMPORT_ROWS + 1:
        raise ValidationFailed.field("content", "too_many_rows", f"at most {MAX_IMPORT_ROWS} rows per import")
    errors: list[dict[str, Any]] = []
    groups: dict[tuple[str, str], dict[str, Any]] = {}

    def bad(n: int, column: str, err_code: str, message: str) -> None:
        errors.append({"row": n, "field": column, "code": err_code, "message": message})

    for n, row in enumerate(rows[1:], start=2):
        cells = [str(c).strip() if c is not None else "" for c in (list(row) + [None] * 4)[:4]]
        if not any(cells):
            continue
        region, period, ind_code, raw = cells[0], cells[1], cells[2], (list(row) + [None] * 4)[3]
        if isinstance(row[1] if len(row) > 1 else None, int | float):  # a spreadsheet stores 2025 as a number
            period = str(int(row[1]))
        try:
            check_region_code(region)
        except IdentifierError as e:
            bad(n, "region_code", e.code, e.message)
            continue
        if not PERIOD.fullmatch(period):
            bad(n, "period", "invalid_period", "a year (2025) or a month (2025-06)")
            continue
        if ind_code not in known:
            bad(n, "indicator_code", "unknown_indicator", f"{ind_code} is not in {code}")
            continue
        value = _cell_value(raw, known[ind_code])
        if value is None:
            bad(n, "value", "value_required", "a value is required")
            continue
        try:
            rules.score_indicator(known[ind_code], value, "value")
        except rules.DefinitionError as e:
            bad(n, "value", e.code, e.message)
            continue
        if ind_code in groups.setdefault((region, period), {}):
            bad(n, "indicator_code", "duplicate_row", f"{region} {period} {ind_code} appears twice")
            continue
        groups[(region, period)][ind_code] = value
    if errors:
        raise ValidationFailed(
            f"{len(errors)} rows are invalid; nothing was imported", code="import_rows_invalid", details=errors[:200]
        )
    if not groups:
        raise ValidationFailed.field("content", "no_rows", "the sheet has no value rows")
    for (region, period), values in groups.items():
        put_values(session, actor, code, region, period, values, source="imported")
    return {"imported": sum(len(v) for v in groups.values()), "regions": len({r for r, _ in groups})}


# --- values the market computes ------------------------------------------------------------------

ENTERED_SOURCES = ("entered", "imported", "entered+market")


def _market_figure(session: Session, indicator: Mapping[str, Any], region_code: str, period: str) -> dict[str, Any]:
    """The market's value of a linked indicator: {"value", "working"}; value None when it cannot be computed."""
    link = indicator["market"]
    if isinstance(link, Mapping):  # per-item: the items the market counts
        counts, parts = {}, []
        for item, metric in link.items():
            f = figures.compute(session, metric, region_code, period)
            parts.append(f"{item}: {f.working}")
            if f.value is not None:
                counts[item] = str(int(f.value))
        return {"value": counts or None, "working": "; ".join(parts)}
    f = figures.compute(session, link, region_code, period)
    return {"value": None if f.value is None else rules.fmt(f.value), "working": f.working}


def compute_values(session: Session, actor: Actor, code: str, region_code: str, period: str) -> dict[str, Any]:
    """Fill a region's market-computed indicators for a period from the market's records (source "market").

    A value a department entered (or imported) is never overwritten: the market's figure is kept beside it
    as `market` until the bureau chooses (`choose`)."""
    region_code, period = check_region(region_code), check_period(period)
    indicator_set = get_set(session, code)
    linked = {c: i for c, i in rules.indicators(indicator_set.definition).items() if i.get("market")}
    if not linked:
        raise ValidationFailed.field(
            "code", "no_market_indicators", f"no indicator of {code} is computed by the market"
        )
    existing = rows_of(session, code, period, region_code).get(region_code, {})
    now = utcnow().isoformat()
    written: dict[str, Any] = {}
    held: dict[str, Any] = {}
    not_computed: dict[str, str] = {}
    for ind_code, indicator in linked.items():
        fig = _market_figure(session, indicator, region_code, period)
        if fig["value"] is None:
            not_computed[ind_code] = fig["working"]
            continue
        row = existing.get(ind_code)
        if row is not None and row.source in ENTERED_SOURCES:
            row.value = {**row.value, "market": {**fig, "computed_at": now}}
            held[ind_code] = {"entered": row.value["value"], "source": row.source, "market": fig["value"]}
            continue
        if row is None:
            row = IndicatorValue(set_code=code, indicator_code=ind_code, region_code=region_code, period=period)
            session.add(row)
        row.value, row.source, row.entered_by = {**fig, "computed_at": now}, "market", None
        written[ind_code] = fig
    session.flush()
    result = {
        "set": code,
        "region_code": region_code,
        "region_name": regions.region_name(region_code),
        "period": period,
        "computed": written,
        "kept_entered": held,
        "not_computed": not_computed,
    }
    audit.record(
        session,
        entity_type="monitoring_values",
        entity_id=indicator_set.id,
        action="compute",
        actor=actor,
        detail={k: v for k, v in result.items() if k != "region_name"},
    )
    return result


def _value_row(session: Session, code: str, region_code: str, period: str, ind_code: str) -> IndicatorValue:
    row = session.scalar(
        sa.select(IndicatorValue).where(
            IndicatorValue.set_code == code,
            IndicatorValue.region_code == region_code,
            IndicatorValue.period == period,
            IndicatorValue.indicator_code == ind_code,
        )
    )
    if row is None:
        raise NotFound("no value for that indicator, region and period", code="indicator_value_not_found")
    return row


def choose(
    session: Session, actor: Actor, code: str, region_code: str, period: str, ind_code: str, use: str
) -> IndicatorValue:
    """The bureau decides between an entered value and the market's figure held beside it.

    "market": the market's figure becomes the value (for per-item counts, the market's items replace those
    entered, the other items stay); the replaced value is kept in the row. "entered": the entered value stays
    and the market's figure is set aside (a later `compute` holds it again)."""
    region_code, period = check_region(region_code), check_period(period)
    indicator_set = get_set(session, code)
    row = _value_row(session, code, region_code, period, ind_code)
    pending = row.value.get("market")
    if not pending:
        raise InvalidState("no market figure is waiting beside this value", code="no_market_figure")
    before = {"value": row.value["value"], "source": row.source}
    if use == "market":
        entered = row.value["value"]
        if isinstance(pending["value"], dict) and isinstance(entered, dict):
            merged = {**entered, **pending["value"]}
            source = "market" if set(merged) == set(pending["value"]) else "entered+market"
        else:
            merged, source = pending["value"], "market"
        row.value = {
            "value": merged,
            "working": pending["working"],
            "computed_at": pending["computed_at"],
            "replaced": before,
        }
        row.source, row.entered_by = source, actor.user_id
    else:
        rest = {k: v for k, v in row.value.items() if k != "market"}
        row.value = {**rest, "market_declined": pending}
    session.flush()
    audit.record(
        session,
        entity_type="monitoring_values",
        entity_id=indicator_set.id,
        action=f"choose_{use}",
        actor=actor,
        detail={
            "set": code,
            "region_code": region_code,
            "period": period,
            "indicator": ind_code,
            "before": before,
            "market": pending["value"],
            "now": {"value": row.value["value"], "source": row.source},
        },
    )
    return row


def value_out(row: IndicatorValue, indicator: Mapping[str, Any] | None = None) -> dict[str, Any]:
    out = {
        "indicator_code": row.indicator_code,
        "name": (indicator or {}).get("name", row.indicator_code),
        "value": row.value["value"],
        "source": row.source,
        "working": row.value.get("working"),
        "market": row.value.get("market"),
        "replaced": row.value.get("replaced"),
        "updated_at": row.updated_at,
    }
    return out


def region_values(session: Session, code: str, region_code: str, period: str) -> dict[str, Any]:
    """A region's stored values for a period with their source (entered / imported / market), the market's
    working, and any market figure waiting for the bureau's choice."""
    region_code, period = check_region(region_code), check_period(period)
    known = rules.indicators(get_set(session, code).definition)
    rows = rows_of(session, code, period, region_code).get(region_code, {})
    return {
        "set": code,
        "region_code": region_code,
        "region_name": regions.region_name(region_code),
        "period": period,
        "values": [value_out(r, known.get(c)) for c, r in sorted(rows.items())],
        "market_indicators": sorted(c for c, i in known.items() if i.get("market")),
    }
