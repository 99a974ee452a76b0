"""Identifier checks, table-driven, no database."""

import pytest

from market.core.identifiers import (
    IdentifierError,
    check_credit_code,
    check_patent_number,
    check_region_code,
    credit_code_check_char,
)


@pytest.mark.parametrize(
    ("raw", "number", "year", "kind"),
    [
        ("201710601862.3", "201710601862.3", 2017, "invention"),
        ("ZL201710601862.3", "201710601862.3", 2017, "invention"),
        ("zl 201710601862.3", "201710601862.3", 2017, "invention"),
        ("95115608.X", "95115608.X", 1995, "invention"),
        ("ZL95115608.X", "95115608.X", 1995, "invention"),
    ],
)
def test_valid_patent_numbers(raw, number, year, kind):
    p = check_patent_number(raw)
    assert (p.number, p.year, p.kind) == (number, year, kind)


@pytest.mark.parametrize(
    "raw",
    ["201710601862.4", "95115608.1", "20171060186.3", "201740601862.3", "ZLABC", "", "200210601862.3"],
)
def test_invalid_patent_numbers(raw):
    with pytest.raises(IdentifierError) as e:
        check_patent_number(raw)
    assert e.value.code == "invalid_patent_number"


def test_patent_check_char_covers_every_digit_and_x():
    # Each check value 0..10 appears for some serial: the mod-11 rule is applied, not a lookup.
    seen = set()
    for serial in range(200):
        digits = f"20171{serial:07d}"
        weights = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)
        rem = sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11
        check = "X" if rem == 10 else str(rem)
        assert check_patent_number(f"{digits}.{check}").number == f"{digits}.{check}"
        seen.add(check)
    assert seen == set("0123456789X")


def test_credit_code_check_digit():
    first17 = "91330200MA2AXXXXX".replace("X", "0")
    code = first17 + credit_code_check_char(first17)
    assert check_credit_code(code).check_digit_ok
    # A known-valid published example (GB 32100 worked example style).
    assert credit_code_check_char("91350100M000100Y4") == "3"


def test_credit_code_bad_check_digit_is_a_warning_not_an_error():
    first17 = "913302001440693930"[:17]
    good = credit_code_check_char(first17)
    bad = "0" if good != "0" else "1"
    result = check_credit_code(first17 + bad)
    assert not result.check_digit_ok and result.warnings


@pytest.mark.parametrize("raw", ["9133020014406939", "91330200I44069393X", "91ABCDEF144069393X", "Z13302001440693930"])
def test_credit_code_shape_errors(raw):
    with pytest.raises(IdentifierError) as e:
        check_credit_code(raw)
    assert e.value.code == "invalid_credit_code"


@pytest.mark.parametrize(
    ("raw", "ok"),
    [
        ("330200", True),
        ("330212", True),
        ("110000", True),
        ("990000", False),
        ("33020", False),
        ("3302001", False),
        ("abcdef", False),
    ],
)
def test_region_codes(raw, ok):
    if ok:
        assert check_region_code(raw) == raw
    else:
        with pytest.raises(IdentifierError):
            check_region_code(raw)
