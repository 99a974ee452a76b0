"""Login and registration throttling: per username, per client address, with Retry-After; Redis-backed."""

from __future__ import annotations

import secrets

import pytest
from fastapi.testclient import TestClient

from market.accounts import security
from market.accounts.roles import Role
from market.core.vocab import OrgKind
from tests.accounts.helpers import PASSWORD, login, set_password
from tests.accounts.test_accounts import registration
from tests.factories import valid_credit_code


def _assert_throttled(r) -> None:
    assert r.status_code == 429, r.text
    assert r.json()["error"]["code"] == "rate_limited"
    assert int(r.headers["Retry-After"]) >= 1


def test_failed_logins_are_throttled_per_username(client, world, settings_env):
    settings_env(login_failures_per_username="3/15 minutes")
    victim = world.member(OrgKind.enterprise)
    set_password(victim.user_id)
    for _ in range(3):
        assert login(client, victim.username, "not-the-password").status_code == 401
    # the fourth try is refused before the password is even checked: the right one too
    _assert_throttled(login(client, victim.username, PASSWORD))
    # from another address as well: the username is what is being guessed
    with TestClient(client.app, client=("203.0.113.9", 5000)) as other:
        _assert_throttled(login(other, victim.username, PASSWORD))
    # other users are not locked out
    bystander = world.member(OrgKind.university)
    set_password(bystander.user_id)
    assert login(client, bystander.username).status_code == 200


def test_failed_logins_are_throttled_per_client_address(client, world, settings_env):
    settings_env(login_failures_per_address="4/15 minutes")
    for i in range(4):  # four different (unknown) usernames from one address
        assert login(client, f"nobody{i}", "guess-guess-guess").status_code == 401
    user = world.member(OrgKind.enterprise)
    set_password(user.user_id)
    _assert_throttled(login(client, user.username))
    # the same user from another address still gets in
    with TestClient(client.app, client=("198.51.100.7", 5000)) as elsewhere:
        assert login(elsewhere, user.username).status_code == 200


def test_a_wrong_old_password_counts_as_a_failed_login(client, world, settings_env):
    settings_env(login_failures_per_username="2/15 minutes")
    user = world.member(OrgKind.enterprise)
    set_password(user.user_id)
    for _ in range(2):
        r = client.post(
            "/api/v1/auth/password", json={"old_password": "wrong", "new_password": "x"}, headers=user.headers
        )
        assert r.status_code == 401
    _assert_throttled(login(client, user.username))


def test_registration_is_throttled_per_client_address(client, settings_env):
    settings_env(registrations_per_address="2/hour")
    for i in range(2):
        body = registration(
            credit_code=valid_credit_code(), admin={"username": f"reg{i}", "password": PASSWORD, "display_name": "x"}
        )
        assert client.post("/api/v1/organisations", json=body).status_code == 201
    body = registration(
        credit_code=valid_credit_code(), admin={"username": "reg9", "password": PASSWORD, "display_name": "x"}
    )
    _assert_throttled(client.post("/api/v1/organisations", json=body))


def test_without_redis_the_counts_live_in_memory(client, settings_env):
    settings_env(redis_url="")
    login(client, "someone", "whatever-whatever")
    assert client.app.state.throttle.backend == "MemoryStorage"


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_with_redis_the_counts_are_shared_by_every_api_process(client, world, settings_env, redis_server):
    # Two applications stand for two API worker processes: a failure counted by one is seen by the other.
    settings_env(
        redis_url=redis_server.url,
        rate_limit_prefix=f"t{secrets.token_hex(4)}",
        login_failures_per_username="2/15 minutes",
    )
    user = world.member(OrgKind.enterprise)
    set_password(user.user_id)
    assert login(client, user.username, "wrong-wrong-wrong").status_code == 401
    assert client.app.state.throttle.backend == "RedisStorage"
    from market.app import create_app

    with TestClient(create_app(), raise_server_exceptions=False) as second:
        assert login(second, user.username, "wrong-wrong-wrong").status_code == 401
        _assert_throttled(login(second, user.username))
    _assert_throttled(login(client, user.username))


def test_redis_failing_mid_run_falls_back_to_memory_not_to_500(client, world, settings_env):
    settings_env(redis_url="redis://127.0.0.1:1/0", login_failures_per_username="2/15 minutes")  # nothing listens
    user = world.member(OrgKind.enterprise)
    set_password(user.user_id)
    assert login(client, user.username).status_code == 200
    assert client.app.state.throttle.backend == "MemoryStorage"
    for _ in range(2):
        assert login(client, user.username, "wrong-wrong-wrong").status_code == 401
    _assert_throttled(login(client, user.username))  # still throttled, in memory


class CountingHasher:
    """Wraps the argon2 hasher to count verifications (argon2 itself still runs)."""

    def __init__(self, inner) -> None:
        self.inner, self.calls = inner, 0

    def verify(self, hash_: str, password: str) -> bool:
        self.calls += 1
        return self.inner.verify(hash_, password)

    def __getattr__(self, name: str):
        return getattr(self.inner, name)


def test_login_costs_one_argon2_verification_whether_or_not_the_user_exists(client, world, monkeypatch):
    hasher = CountingHasher(security._hasher)
    monkeypatch.setattr(security, "_hasher", hasher)
    with_password = world.member(OrgKind.enterprise)
    set_password(with_password.user_id)
    without_password = world.member(OrgKind.enterprise)  # a demo-style user nobody can log in as
    disabled = world.user(with_password.org_id, Role.member)
    set_password(disabled.user_id)
    admin = with_password
    assert client.post(f"/api/v1/users/{disabled.user_id}/disable", headers=admin.headers).status_code == 200

    answers = []
    for username in ("no-such-user", with_password.username, without_password.username, disabled.username):
        before = hasher.calls
        r = login(client, username, PASSWORD if username == disabled.username else "wrong-password-here")
        assert hasher.calls - before == 1, f"{username}: {hasher.calls - before} verifications"
        answers.append((r.status_code, r.json()))
    assert len(set(map(repr, answers))) == 1, answers  # the same status and message every time
    assert answers[0][0] == 401
