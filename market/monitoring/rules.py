"""Indicator sets and their scoring as plain functions over plain data (no database).

An indicator set is a dict (stored as JSON, versioned): dimensions (一级指标) with weights, each with
indicators (二级指标) that carry a weight, a unit, the supplying department and one scoring rule:

- `bands`: value bands, ascending and contiguous from 0, each scoring linearly from `score_from` at its
  lower edge to `score_to` at its upper edge; the last band is open (`to` null) and scores flat. A value on
  an edge belongs to the band above it (≥ 10000 万元 → 5 points).
- `per_item`: points per item counted (国家级重点实验室 2 points each, …), capped at `max`.
- `assessed`: points awarded directly by the assessors, 0 … `max`.

An indicator the market can compute from its own records names the figure (`market.monitoring.figures`):
`"market": "contract_turnover"` on a `bands` / `assessed` indicator, or `"market": {item: figure}` on a
`per_item` one for the items the market counts (篇四's 省级以上技术转移机构 from the filing records).

Scores are rounded to 2 decimals per indicator; a dimension is the sum of its indicators, the total the sum
of the dimensions. Regions are ranked by total (equal totals share a rank: 1, 1, 3).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

CENT = Decimal("0.01")
ZERO = Decimal(0)
KINDS = ("bands", "per_item", "assessed")


class DefinitionError(ValueError):
    """An indicator set (or a value for it) that does not hold together; `path` says where."""

    def __init__(self, path: str, message: str, code: str = "invalid_indicator_set") -> None:
        super().__init__(f"{path}: {message}")
        self.path, self.message, self.code = path, message, code


def _dec(v: Any, path: str, code: str = "invalid_indicator_set") -> Decimal:
    if isinstance(v, bool) or v is None:
        raise DefinitionError(path, "a number is required", code)
    try:
        d = Decimal(str(v))
    except (InvalidOperation, ValueError):
        raise DefinitionError(path, "a number is required", code) from None
    if not d.is_finite() or abs(d) > Decimal("1e15"):
        raise DefinitionError(path, "a finite number is required", code)
    return d


def fmt(d: Decimal) -> str:
    """A number as written in the working: no exponent, no trailing zeros (5000, 0.5, 4.25)."""
    s = format(d.normalize(), "f")
    return s


def round2(d: Decimal) -> Decimal:
    return d.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Band:
    low: Decimal
    high: Decimal | None  # None: open upward
    score_low: Decimal
    score_high: Decimal


def bands_of(rule: Mapping[str, Any], path: str, weight: Decimal) -> list[Band]:
    raw = rule.get("bands")
    if not isinstance(raw, list) or not raw:
        raise DefinitionError(path, "bands: a non-empty list")
    bands = []
    for i, b in enumerate(raw):
        p = f"{path}.bands[{i}]"
        if not isinstance(b, Mapping):
            raise DefinitionError(p, "a band is an object")
        high = None if b.get("to") is None else _dec(b.get("to"), f"{p}.to")
        bands.append(
            Band(
                _dec(b.get("from"), f"{p}.from"),
                high,
                _dec(b.get("score_from"), f"{p}.score_from"),
                _dec(b.get("score_to"), f"{p}.score_to"),
            )
        )
    if bands[0].low != 0:
        raise DefinitionError(path, "the first band starts at 0")
    for i, (a, b) in enumerate(zip(bands, bands[1:], strict=False)):
        if a.high is None or a.high != b.low or a.high <= a.low:
            raise DefinitionError(f"{path}.bands[{i}]", "bands are ascending and contiguous (to = next from)")
        if a.score_high > b.score_low or a.score_low > a.score_high:
            raise DefinitionError(f"{path}.bands[{i}]", "scores rise with the value")
    last = bands[-1]
    if last.high is not None or last.score_low != last.score_high:
        raise DefinitionError(f"{path}.bands[{len(bands) - 1}]", "the last band is open (to null) and flat")
    if last.score_high != weight:
        raise DefinitionError(path, f"the top band scores the weight ({fmt(weight)})")
    return bands


def score_bands(bands: list[Band], value: Decimal) -> tuple[Decimal, str]:
    """The band the value falls in, and the score linearly interpolated inside it."""
    value = max(value, ZERO)
    for band in reversed(bands):
        if value >= band.low:
            break
    if band.high is None:
        return round2(band.score_high), f"{fmt(value)} ≥ {fmt(band.low)} → {fmt(band.score_high)}"
    raw = band.score_low + (value - band.low) / (band.high - band.low) * (band.score_high - band.score_low)
    score = round2(raw)
    return score, (
        f"{fmt(value)} in [{fmt(band.low)}, {fmt(band.high)}) → {fmt(band.score_low)} + "
        f"({fmt(value)} − {fmt(band.low)}) / ({fmt(band.high)} − {fmt(band.low)}) × "
        f"({fmt(band.score_high)} − {fmt(band.score_low)}) = {fmt(score)}"
    )


def score_items(rule: Mapping[str, Any], counts: Mapping[str, Any], path: str) -> tuple[Decimal, str]:
    items, cap = rule["items"], _dec(rule["max"], f"{path}.max")
    unknown = sorted(set(counts) - set(items))
    if unknown:
        raise DefinitionError(path, f"unknown items: {', '.join(unknown)}", "invalid_indicator_value")
    total, parts = ZERO, []
    for code, item in items.items():
        n = _dec(counts.get(code, 0), f"{path}.{code}", "invalid_indicator_value")
        if n < 0 or n != n.to_integral_value():
            raise DefinitionError(f"{path}.{code}", "a count is a whole number ≥ 0", "invalid_indicator_value")
        if n:
            points = _dec(item["points"], f"{path}.items.{code}.points")
            total += n * points
            parts.append(f"{item.get('label', code)} {fmt(n)} × {fmt(points)}")
    score = round2(min(total, cap))
    sums = " + ".join(parts) or "none"
    return score, f"{sums} = {fmt(total)}" + (f", capped at {fmt(cap)}" if total > cap else "")


def score_indicator(indicator: Mapping[str, Any], value: Any, path: str = "value") -> tuple[Decimal, str]:
    """(score, working) of one indicator for one value; None (not supplied) scores 0."""
    rule, weight = indicator["rule"], _dec(indicator["weight"], f"{path}.weight")
    if value is None:
        return ZERO, "no value entered → 0"
    kind = rule["kind"]
    if kind == "bands":
        return score_bands(bands_of(rule, path, weight), _dec(value, path, "invalid_indicator_value"))
    if kind == "per_item":
        if not isinstance(value, Mapping):
            raise DefinitionError(path, "per-item counts are an object {item: count}", "invalid_indicator_value")
        return score_items(rule, value, path)
    points = _dec(value, path, "invalid_indicator_value")
    cap = _dec(rule["max"], f"{path}.max")
    if not ZERO <= points <= cap:
        raise DefinitionError(path, f"assessed points are 0 … {fmt(cap)}", "invalid_indicator_value")
    return round2(points), f"assessed {fmt(points)} of {fmt(cap)}"


def indicators(definition: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {i["code"]: i for d in definition["dimensions"] for i in d["indicators"]}


def _check_market_link(ind: Mapping[str, Any], q: str, known_figures: Collection[str] | None) -> None:
    link = ind.get("market")
    if link is None:
        return
    figures_named: list[tuple[str, Any]]
    if ind["rule"]["kind"] == "per_item":
        if not isinstance(link, Mapping) or not link:
            raise DefinitionError(f"{q}.market", "a per-item indicator's market link is {item: figure}")
        unknown = sorted(set(link) - set(ind["rule"]["items"]))
        if unknown:
            raise DefinitionError(f"{q}.market", f"unknown items: {', '.join(unknown)}")
        figures_named = [(f"{q}.market.{k}", v) for k, v in link.items()]
    else:
        figures_named = [(f"{q}.market", link)]
    for path, figure in figures_named:
        if not isinstance(figure, str) or (known_figures is not None and figure not in known_figures):
            names = ", ".join(sorted(known_figures or ()))
            raise DefinitionError(path, f"a figure the market computes: {names}")


def validate(definition: Any, known_figures: Collection[str] | None = None) -> dict[str, Any]:
    """Check an indicator set hangs together; returns it. Raises DefinitionError (with a path) otherwise.
    `known_figures`: the market figures an indicator may name (unchecked when None)."""
    if not isinstance(definition, Mapping) or not isinstance(definition.get("dimensions"), list):
        raise DefinitionError("definition", "an object with a list of dimensions")
    seen: set[str] = set()
    total = ZERO
    for di, dim in enumerate(definition["dimensions"]):
        p = f"dimensions[{di}]"
        if not isinstance(dim, Mapping) or not dim.get("code") or not isinstance(dim.get("indicators"), list):
            raise DefinitionError(p, "a dimension has a code, a weight and indicators")
        weight = _dec(dim.get("weight"), f"{p}.weight")
        subtotal = ZERO
        for ii, ind in enumerate(dim["indicators"]):
            q = f"{p}.indicators[{ii}]"
            if not isinstance(ind, Mapping) or not isinstance(ind.get("code"), str) or not ind["code"]:
                raise DefinitionError(q, "an indicator has a code")
            if ind["code"] in seen:
                raise DefinitionError(q, f"indicator code {ind['code']} is used twice")
            seen.add(ind["code"])
            w = _dec(ind.get("weight"), f"{q}.weight")
            rule = ind.get("rule")
            if not isinstance(rule, Mapping) or rule.get("kind") not in KINDS:
                raise DefinitionError(f"{q}.rule", f"rule.kind: {', '.join(KINDS)}")
            if rule["kind"] == "bands":
                bands_of(rule, q, w)
            else:
                if _dec(rule.get("max"), f"{q}.rule.max") != w:
                    raise DefinitionError(f"{q}.rule.max", "the maximum is the indicator's weight")
                if rule["kind"] == "per_item":
                    items = rule.get("items")
                    if not isinstance(items, Mapping) or not items:
                        raise DefinitionError(f"{q}.rule.items", "items: {code: {label, points}}")
                    for code, item in items.items():
                        if not isinstance(item, Mapping) or _dec(item.get("points"), f"{q}.rule.items.{code}") <= 0:
                            raise DefinitionError(f"{q}.rule.items.{code}", "points > 0")
            _check_market_link(ind, q, known_figures)
            subtotal += w
        if subtotal != weight:
            raise DefinitionError(p, f"the indicators' weights add up to {fmt(subtotal)}, not {fmt(weight)}")
        total += weight
    return dict(definition)


@dataclass
class RegionScore:
    region_code: str
    total: Decimal
    dimensions: list[dict[str, Any]]
    rank: int = 0


def score_region(definition: Mapping[str, Any], region_code: str, values: Mapping[str, Any]) -> RegionScore:
    """Every indicator's score with its working, the dimension subtotals and the total of one region."""
    dims, total = [], ZERO
    for dim in definition["dimensions"]:
        rows, subtotal = [], ZERO
        for ind in dim["indicators"]:
            value = values.get(ind["code"])
            score, working = score_indicator(ind, value, ind["code"])
            subtotal += score
            rows.append(
                {
                    "code": ind["code"],
                    "name": ind.get("name", ind["code"]),
                    "unit": ind.get("unit"),
                    "department": ind.get("department"),
                    "weight": _dec(ind["weight"], "weight"),
                    "value": value,
                    "score": score,
                    "working": working,
                }
            )
        dims.append(
            {
                "code": dim["code"],
                "name": dim.get("name", dim["code"]),
                "weight": _dec(dim["weight"], "w"),
                "score": subtotal,
                "indicators": rows,
            }
        )
        total += subtotal
    return RegionScore(region_code, total, dims)


def rank(scores: list[RegionScore]) -> list[RegionScore]:
    """Highest total first; equal totals share a rank (1, 1, 3), then by region code."""
    ordered = sorted(scores, key=lambda s: (-s.total, s.region_code))
    for i, s in enumerate(ordered):
        s.rank = ordered[i - 1].rank if i and ordered[i - 1].total == s.total else i + 1
    return ordered
