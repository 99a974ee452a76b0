"""Award amounts of seed 004 §3(3), table-driven, with their working."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from market.commissioners import rules
from market.commissioners.rules import RuleViolation


@pytest.mark.parametrize(
    "kind,amount",
    [
        ("demonstration_base", "100000.00"),
        ("outstanding_commissioner", "20000.00"),
        ("advanced_individual", "10000.00"),
        ("star_maker_space", "200000.00"),
        ("agri_station", "100000.00"),
    ],
)
def test_fixed_awards(kind, amount):
    got, working = rules.award_amount(kind)
    assert got == D(amount) and working["amount"] == amount and working["source"] == "seed 004 三(三)"


def test_one_to_one_match_of_the_provincial_amount():
    got, working = rules.award_amount("provincial_match", provincial_amount=D("85000.50"))
    assert got == D("85000.50")
    assert working["ratio"] == "1:1" and working["provincial_amount"] == "85000.50"


@pytest.mark.parametrize(
    "kind,kw,code",
    [
        ("star_maker_space", {"one_off_already_paid": True}, "one_off_already_awarded"),
        ("agri_station", {"one_off_already_paid": True}, "one_off_already_awarded"),
        ("advanced_individual", {"commissioner_kind": "team"}, "individuals_only"),
        ("provincial_match", {}, "provincial_amount_required"),
        ("provincial_match", {"provincial_amount": D("0")}, "provincial_amount_required"),
        ("best_in_show", {}, "invalid_award_kind"),
    ],
)
def test_refusals(kind, kw, code):
    with pytest.raises(RuleViolation) as exc:
        rules.award_amount(kind, **kw)
    assert exc.value.code == code
