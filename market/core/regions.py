"""GB/T 2260 region codes (行政区划代码): the one code table (data/gbt2260.csv) and the one prefix helper.

A six-digit code names a province (33 0000), a city (3302 00) or a district / county (330212). Its
*prefix* is the part that matters for "within this region" queries: 330000 → 33, 330200 → 3302,
330212 → 330212 and 330110 → 330110 (never "33011", which would also take in 330111). Add codes to
the CSV; nothing else needs to change.
"""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

DATA = Path(__file__).parent / "data" / "gbt2260.csv"
ABROAD = "境外"


@cache
def names() -> dict[str, str]:
    """Code → name of every code in the shipped table."""
    with DATA.open(encoding="utf-8") as f:
        return {row["code"]: row["name"] for row in csv.DictReader(f)}


def region_prefix(code: str) -> str:
    """The meaningful prefix of a region code: 330000 → 33, 330200 → 3302, 330212 → 330212.

    Anything that is not a six-digit code (a prefix already, e.g. "3302") is returned stripped.
    """
    code = (code or "").strip()
    if len(code) == 6 and code.isdigit():
        if code.endswith("0000"):
            return code[:2]
        if code.endswith("00"):
            return code[:4]
    return code


def full_code(prefix: str) -> str:
    """A prefix padded back to six digits: 33 → 330000, 3302 → 330200."""
    prefix = (prefix or "").strip()
    return prefix + "0" * (6 - len(prefix)) if prefix.isdigit() and len(prefix) in (2, 4) else prefix


def city_code(code: str) -> str:
    """The city a code lies in, as six digits (330212 → 330200); a shorter code is returned as given."""
    return code[:4] + "00" if len(code) == 6 else code


def province_code(code: str) -> str:
    """The province a code lies in, as six digits (330212 → 330000)."""
    return code[:2] + "0000" if len(code) >= 2 else code


def same_city(a: str, b: str) -> bool:
    return len(a) >= 4 and len(b) >= 4 and a[:4] == b[:4]


def same_province(a: str, b: str) -> bool:
    return len(a) >= 2 and len(b) >= 2 and a[:2] == b[:2]


def region_name(code: str | None) -> str:
    """The name of a code or prefix ("" = abroad), with its city / province when the code itself is not listed:
    "330212" → 鄞州区, "3302" → 宁波市, an unlisted 330299 → "宁波市 330299"."""
    if not code:
        return ABROAD
    table = names()
    six = full_code(code)
    if six in table:
        return table[six]
    for parent in (city_code(six), province_code(six)):
        if parent != six and parent in table:
            return f"{table[parent]} {code}"
    return code
