"""Password policy: zxcvbn strength (not length only), absurd lengths refused with their own code."""

from __future__ import annotations

import random
import string

import pytest

from market.accounts import security
from market.core.vocab import OrgKind
from tests.accounts.helpers import PASSWORD, set_password
from tests.accounts.test_accounts import registration
from tests.factories import valid_credit_code

LONG_AND_STRONG = "".join(random.Random(7).choices(string.ascii_letters + string.digits + "!#%&", k=1024))


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("short", "weak_password"),
        ("password123456", "weak_password"),  # long enough, but among the most common
        ("qwertyuiopasdf", "weak_password"),  # a keyboard walk
        ("aaaaaaaaaaaaaaaaaaaa", "weak_password"),
        ("yongxin2024", "weak_password"),  # the username and a year (fine for a stranger: see below)
        ("x" * 1025, "password_too_long"),
        ("quiet-harbour-lantern-42", None),
        ("宁波港-夜雨-灯塔-1987", None),
        (LONG_AND_STRONG, None),  # exactly the limit: allowed
    ],
)
def test_password_policy_rules(password, code):
    problem = security.password_problem(password, ["yongxin", "宁波甬新智能装备有限公司"])
    assert (problem[0] if problem else None) == code


def test_the_users_own_names_count_against_a_password():
    assert security.password_problem("yongxin2024", []) is None
    assert security.password_problem("yongxin2024", ["yongxin"])[0] == "weak_password"


def test_registration_refuses_weak_and_absurd_passwords(client):
    for password, code in (("password123456", "weak_password"), ("Aa1!" * 300, "password_too_long")):
        body = registration(
            credit_code=valid_credit_code(), admin={"username": "yongxin", "password": password, "display_name": "王"}
        )
        r = client.post("/api/v1/organisations", json=body)
        assert r.status_code == 422 and r.json()["error"]["code"] == code, r.text
        assert r.json()["error"]["details"][0]["field"] == "password"


def test_password_change_applies_the_same_policy(client, world):
    user = world.member(OrgKind.enterprise)
    set_password(user.user_id)
    for new, code in (("password123456", "weak_password"), ("z" * 5000, "password_too_long")):
        r = client.post(
            "/api/v1/auth/password", json={"old_password": PASSWORD, "new_password": new}, headers=user.headers
        )
        assert r.status_code == 422 and r.json()["error"]["code"] == code
        assert r.json()["error"]["details"][0]["field"] == "new_password"
