"""Pure broker rules, table-driven: ID numbers, employment on a day, moves, link checks, performance value."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from market.brokers import rules
from market.brokers.rules import RuleViolation, Stint
from market.core.transitions import TransitionError

D_ = dt.date


@pytest.mark.parametrize("raw", ["11010519491231002X", "11010519491231002x", " 11010519491231002X "])
def test_valid_id_numbers_normalise(raw):
    assert rules.normalise_id_number(raw) == "11010519491231002X"


@pytest.mark.parametrize(
    "raw", ["", "1101051949123100", "11010519491231002A", "A1010519491231002X", "110105194912310021"]
)
def test_bad_id_numbers_are_refused(raw):
    with pytest.raises(RuleViolation) as exc:
        rules.normalise_id_number(raw)
    assert exc.value.code == "invalid_id_number"


def test_mask_keeps_region_and_last_four_and_digest_is_keyed():
    assert rules.mask_id_number("11010519491231002X") == "110105********002X"
    a = rules.id_number_digest("11010519491231002X", "k1")
    assert a == rules.id_number_digest("11010519491231002X", "k1") != rules.id_number_digest("11010519491231002X", "k2")
    assert "11010519491231002X" not in a


STINTS = [Stint(1, D_(2026, 1, 1), D_(2026, 6, 30)), Stint(2, D_(2026, 7, 1))]


@pytest.mark.parametrize(
    "day,employer",
    [
        (D_(2025, 12, 31), None),
        (D_(2026, 1, 1), 1),
        (D_(2026, 6, 30), 1),
        (D_(2026, 7, 1), 2),
        (D_(2030, 1, 1), 2),
    ],
)
def test_employer_on_a_day(day, employer):
    assert rules.employer_on(STINTS, day) == employer


def test_move_ends_the_current_stint_the_day_before():
    assert rules.check_move(Stint(1, D_(2026, 1, 1)), 2, D_(2026, 7, 1)) == D_(2026, 6, 30)
    assert rules.check_move(None, 2, D_(2026, 7, 1)) is None
    for current, org, start, code in [
        (Stint(1, D_(2026, 1, 1)), 1, D_(2026, 7, 1), "already_employed"),
        (Stint(1, D_(2026, 1, 1)), 2, D_(2026, 1, 1), "move_before_current_start"),
    ]:
        with pytest.raises(RuleViolation) as exc:
            rules.check_move(current, org, start)
        assert exc.value.code == code


@pytest.mark.parametrize(
    "status,intermediary,signed,code",
    [
        ("active", 1, D_(2026, 3, 1), None),
        ("active", 2, D_(2026, 3, 1), "broker_not_employed_on_signing_date"),
        ("active", 1, D_(2026, 7, 1), "broker_not_employed_on_signing_date"),
        ("active", 2, D_(2026, 7, 1), None),
        ("suspended", 1, D_(2026, 3, 1), "broker_not_active"),
        ("active", None, D_(2026, 3, 1), "contract_has_no_intermediary"),
        ("active", 1, None, "contract_not_signed"),
    ],
)
def test_link_check(status, intermediary, signed, code):
    if code is None:
        rules.check_link(broker_status=status, intermediary_org_id=intermediary, signing_date=signed, stints=STINTS)
        return
    with pytest.raises(RuleViolation) as exc:
        rules.check_link(broker_status=status, intermediary_org_id=intermediary, signing_date=signed, stints=STINTS)
    assert exc.value.code == code


@pytest.mark.parametrize(
    "status,action,new",
    [
        ("active", "suspend", "suspended"),
        ("suspended", "reinstate", "active"),
        ("active", "remove", "removed"),
        ("suspended", "remove", "removed"),
        ("removed", "reinstate", None),
        ("active", "reinstate", None),
    ],
)
def test_status_transitions(status, action, new):
    if new is None:
        with pytest.raises(TransitionError) as exc:
            rules.next_status(status, action)
        assert exc.value.code == "invalid_state"
    else:
        assert rules.next_status(status, action) == new


def test_performance_value_is_weighted_items_in_wan():
    # 3 deals × 10 + 250万 × 1 + 160万 × 2 = 30 + 250 + 320 = 600
    value, parts = rules.performance_value(rules.Tally(3, D("2500000"), D("1600000")), rules.DEFAULT_WEIGHTS)
    assert value == D("600.00")
    assert parts == {
        "deals": "30.00",
        "total_amount_wan": "250.00",
        "technical_amount_wan": "320.00",
        "listings": "0.00",
        "matches": "0.00",
    }
    weights = {**rules.DEFAULT_WEIGHTS, "listings": D("3"), "matches": D("5")}
    value, _ = rules.performance_value(rules.Tally(3, D("2500000"), D("1600000"), listings=2, matches=1), weights)
    assert value == D("611.00")  # 600 + 2 × 3 + 1 × 5


def test_weights_are_checked_and_completed():
    assert rules.check_weights({"deals": D("20")})["total_amount_wan"] == D("1")
    for bad, code in [({"bonus": D("1")}, "unknown_weight"), ({"deals": D("-1")}, "negative_weight")]:
        with pytest.raises(RuleViolation) as exc:
            rules.check_weights(bad)
        assert exc.value.code == code


def test_competition_ranking():
    assert rules.rank([("a", D("5")), ("b", D("9")), ("c", D("5")), ("d", D("1"))]) == {"b": 1, "a": 2, "c": 2, "d": 4}
