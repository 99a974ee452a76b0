"""Checks for the identifiers the market records: credit codes, patent numbers, region codes.

Pure functions; each raises IdentifierError with a stable code, or returns a normalised value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

CREDIT_CODE_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # 0-9A-Z without I O Z S V
CREDIT_CODE_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
PATENT_WEIGHTS = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)
PATENT_TYPES = {"1": "invention", "2": "utility_model", "3": "design", "8": "pct_invention", "9": "pct_utility_model"}
PROVINCE_PREFIXES = {
    "11",
    "12",
    "13",
    "14",
    "15",
    "21",
    "22",
    "23",
    "31",
    "32",
    "33",
    "34",
    "35",
    "36",
    "37",
    "41",
    "42",
    "43",
    "44",
    "45",
    "46",
    "50",
    "51",
    "52",
    "53",
    "54",
    "61",
    "62",
    "63",
    "64",
    "65",
    "71",
    "81",
    "82",
}


class IdentifierError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(message)


@dataclass(frozen=True)
class CreditCodeCheck:
    value: str
    check_digit_ok: bool
    warnings: list[str] = field(default_factory=list)


def credit_code_check_char(first17: str) -> str:
    total = sum(CREDIT_CODE_ALPHABET.index(ch) * w for ch, w in zip(first17, CREDIT_CODE_WEIGHTS, strict=True))
    return CREDIT_CODE_ALPHABET[(31 - total % 31) % 31]


def make_credit_code(serial: int, region: str, prefix: str = "91") -> str:
    """A valid code for serial number `serial` (demo data, benchmarks, tests): prefix + region + serial + check."""
    body = ""
    for _ in range(9):
        body = CREDIT_CODE_ALPHABET[serial % 31] + body
        serial //= 31
    first17 = prefix + region + body
    return first17 + credit_code_check_char(first17)


def check_credit_code(raw: str) -> CreditCodeCheck:
    """统一社会信用代码 (GB 32100-2015). A bad check digit is a warning: early pilot codes fail it."""
    value = (raw or "").strip().upper()
    if len(value) != 18:
        raise IdentifierError("invalid_credit_code", "统一社会信用代码 must be 18 characters")
    bad = sorted({ch for ch in value if ch not in CREDIT_CODE_ALPHABET})
    if bad:
        raise IdentifierError(
            "invalid_credit_code", f"统一社会信用代码 contains characters not allowed by GB 32100: {''.join(bad)}"
        )
    if not value[2:8].isdigit():
        raise IdentifierError("invalid_credit_code", "统一社会信用代码 characters 3-8 must be the region code")
    ok = credit_code_check_char(value[:17]) == value[17]
    warnings = [] if ok else ["credit_code_check_digit_mismatch: the GB 32100 check digit does not match (pilot code?)"]
    return CreditCodeCheck(value=value, check_digit_ok=ok, warnings=warnings)


def check_region_code(raw: str) -> str:
    """行政区划代码 (GB/T 2260): six digits, a known province prefix."""
    value = (raw or "").strip()
    if not re.fullmatch(r"\d{6}", value) or value[:2] not in PROVINCE_PREFIXES:
        raise IdentifierError("invalid_region_code", "region code must be a 6-digit GB/T 2260 code, e.g. 330200")
    return value


@dataclass(frozen=True)
class PatentNumber:
    number: str  # normalised: ZL prefix dropped, e.g. "201710601862.3"
    year: int
    kind: str


def patent_check_char(digits: str) -> str:
    """The CNIPA check character for 12 (2003 on) or 8 (before) application-number digits."""
    weights = PATENT_WEIGHTS if len(digits) == 12 else tuple(range(2, 10))
    rem = sum(int(d) * w for d, w in zip(digits, weights, strict=False)) % 11
    return "X" if rem == 10 else str(rem)


def check_patent_number(raw: str) -> PatentNumber:
    """CNIPA application number: 12 digits (2003 on) or 8 (before), '.', check character; ZL optional."""
    value = (raw or "").strip().upper().replace(" ", "")
    if value.startswith("ZL"):
        value = value[2:]
    m = re.fullmatch(r"(\d{12}|\d{8})\.?([0-9X])", value)
    if not m:
        raise IdentifierError("invalid_patent_number", f"'{raw}' is not a CNIPA patent number like ZL201710601862.3")
    digits, check = m.groups()
    if len(digits) == 12:
        year, kind_digit = int(digits[:4]), digits[4]
        if year < 2003:
            raise IdentifierError("invalid_patent_number", "12-digit patent numbers start in 2003")
    else:
        yy = int(digits[:2])
        year, kind_digit = (1900 + yy if yy >= 85 else 2000 + yy), digits[2]
    if kind_digit not in PATENT_TYPES:
        raise IdentifierError("invalid_patent_number", f"patent type digit '{kind_digit}' is not 1, 2, 3, 8 or 9")
    expected = patent_check_char(digits)
    if expected != check:
        raise IdentifierError(
            "invalid_patent_number", f"patent number {raw}: check character should be {expected}, not {check}"
        )
    return PatentNumber(number=f"{digits}.{check}", year=year, kind=PATENT_TYPES[kind_digit])
