"""One policy schema (market/subsidies/spec.py): the API body, stored versions and the calculator refuse alike."""

from __future__ import annotations

import pytest

from market.accounts.roles import Role
from market.subsidies import calculator as calc
from market.subsidies.schemas import PolicySpec
from market.subsidies.spec import PolicyModel

GOOD = {"code": "my-policy", "name": "试行政策", "beneficiary": "seller", "brackets": [{"rate": "0.01", "upto": None}]}
BAD = [
    ({"brackets": [{"rate": "1.5", "upto": None}]}, "policy_bad_rate"),
    (
        {"brackets": [{"rate": "0.1", "upto": "100"}, {"rate": "0.1", "upto": "50"}, {"rate": "0.1"}]},
        "policy_bad_brackets",
    ),
    ({"brackets": []}, "policy_no_rates"),
    ({"cap_per_year": "-1"}, "policy_negative_amount"),
    ({"valid_from": "2026-02-01", "valid_until": "2026-01-01"}, "policy_bad_validity"),
    ({"required_flags_any": ["famous"]}, "policy_unknown_flag"),
]


def test_the_api_body_is_the_policy_model():
    assert issubclass(PolicySpec, PolicyModel)


@pytest.mark.parametrize(("change", "code"), BAD)
def test_the_api_and_the_calculator_refuse_with_the_same_code(client, world, change, code):
    with pytest.raises(calc.PolicyError) as err:
        calc.policy_from_dict(GOOD | change)
    assert err.value.code == code
    officer = world.bureau(Role.programme_officer)
    r = client.post("/api/v1/subsidies/policies", json=GOOD | change, headers=officer.headers)
    assert r.status_code == 422 and r.json()["error"]["code"] == code, r.text
