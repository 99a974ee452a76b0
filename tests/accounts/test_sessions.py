"""Sessions: logout, list and revoke, revoke all; passwords changed and reset; users disabled — per role, audited."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from market.accounts.models import Credential
from market.accounts.roles import Role
from market.core.db import session_scope, utcnow
from market.core.vocab import OrgKind
from tests.accounts.helpers import PASSWORD, audit_actions, bearer, login, set_password
from tests.listings.payloads import demand_body

NEW_PASSWORD = "copper-meadow-violin-77"


def _me(client, headers) -> int:
    return client.get("/api/v1/auth/me", headers=headers).status_code


def _login_token(client, username, password=PASSWORD) -> str:
    r = login(client, username, password)
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def test_logout_revokes_only_this_token(client, world):
    user = world.member(OrgKind.enterprise)
    set_password(user.user_id)
    laptop, phone = _login_token(client, user.username), _login_token(client, user.username)
    assert client.post("/api/v1/auth/logout", headers=bearer(laptop)).status_code == 204
    assert _me(client, bearer(laptop)) == 401
    assert _me(client, bearer(phone)) == 200
    assert "session_revoke" in audit_actions("user", user.user_id)


def test_list_my_sessions_and_revoke_one_or_all(client, world):
    user = world.member(OrgKind.enterprise)
    set_password(user.user_id)
    phone = _login_token(client, user.username)
    sessions = client.get("/api/v1/auth/sessions", headers=user.headers).json()
    assert len(sessions) == 2  # the factory's token and the phone's
    current = [s for s in sessions if s["current"]]
    assert len(current) == 1 and user.token.startswith(current[0]["prefix"])
    phone_id = next(s["id"] for s in sessions if not s["current"])
    # someone else cannot see or revoke my sessions
    other = world.member(OrgKind.enterprise)
    assert client.delete(f"/api/v1/auth/sessions/{phone_id}", headers=other.headers).status_code == 404
    assert all(s["id"] != phone_id for s in client.get("/api/v1/auth/sessions", headers=other.headers).json())
    assert client.delete(f"/api/v1/auth/sessions/{phone_id}", headers=user.headers).status_code == 204
    assert _me(client, bearer(phone)) == 401
    assert [s["id"] for s in client.get("/api/v1/auth/sessions", headers=user.headers).json()] == [current[0]["id"]]

    tablet = _login_token(client, user.username)
    r = client.post("/api/v1/auth/sessions/revoke-all", headers=bearer(tablet))
    assert r.status_code == 200 and r.json()["revoked"] == 2
    assert _me(client, user.headers) == 401 and _me(client, bearer(tablet)) == 401
    assert "sessions_revoke_all" in audit_actions("user", user.user_id)


def test_password_change_needs_the_old_password_and_ends_every_session(client, world):
    user = world.member(OrgKind.enterprise)
    set_password(user.user_id)
    other_device = _login_token(client, user.username)
    r = client.post(
        "/api/v1/auth/password", json={"old_password": "not-it", "new_password": NEW_PASSWORD}, headers=user.headers
    )
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_credentials"
    r = client.post(
        "/api/v1/auth/password", json={"old_password": PASSWORD, "new_password": NEW_PASSWORD}, headers=user.headers
    )
    assert r.status_code == 200, r.text
    fresh = r.json()["access_token"]
    assert _me(client, user.headers) == 401 and _me(client, bearer(other_device)) == 401
    assert _me(client, bearer(fresh)) == 200
    assert login(client, user.username, PASSWORD).status_code == 401
    assert login(client, user.username, NEW_PASSWORD).status_code == 200
    assert "password_change" in audit_actions("user", user.user_id)


def test_password_change_is_refused_to_an_api_key(client, world):
    user = world.member(OrgKind.enterprise)
    set_password(user.user_id)
    key = client.post(
        "/api/v1/auth/api-keys", json={"name": "erp", "scopes": ["accounts"]}, headers=user.headers
    ).json()["key"]
    r = client.post(
        "/api/v1/auth/password",
        json={"old_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers={"X-API-Key": key},
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "session_required"


def test_reset_token_is_single_use_and_issued_by_org_admin_or_bureau_only(client, world):
    admin = world.member(OrgKind.university)
    member = world.user(admin.org_id, Role.member)
    colleague = world.user(admin.org_id, Role.member)
    outsider = world.member(OrgKind.enterprise)
    registrar = world.bureau(Role.registrar)
    url = f"/api/v1/users/{member.user_id}/password-reset"
    assert client.post(url, headers=colleague.headers).status_code == 403  # a member is no admin
    assert client.post(url, headers=outsider.headers).status_code == 404  # another org's admin does not see it
    assert client.post(url, headers=registrar.headers).status_code == 403  # bureau staff, not a bureau admin
    r = client.post(url, headers=admin.headers)
    assert r.status_code == 201, r.text
    token = r.json()["reset_token"]
    assert _me(client, bearer(token)) == 401  # a reset token is no way in
    r = client.post("/api/v1/auth/password-reset", json={"token": token, "new_password": "password123456"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "weak_password"
    assert (
        client.post("/api/v1/auth/password-reset", json={"token": token, "new_password": NEW_PASSWORD}).status_code
        == 204
    )
    assert _me(client, member.headers) == 401  # the member's old sessions ended
    assert login(client, member.username, NEW_PASSWORD).status_code == 200
    r = client.post("/api/v1/auth/password-reset", json={"token": token, "new_password": "another-" + NEW_PASSWORD})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_reset_token"
    assert audit_actions("user", member.user_id)[-3:-1] == ["password_reset_issue", "password_reset"]

    bureau = world.bureau(Role.bureau_admin)
    assert client.post(f"/api/v1/users/{admin.user_id}/password-reset", headers=bureau.headers).status_code == 201


def test_reset_token_expires(client, world):
    admin = world.member(OrgKind.enterprise)
    member = world.user(admin.org_id, Role.member)
    token = client.post(f"/api/v1/users/{member.user_id}/password-reset", headers=admin.headers).json()["reset_token"]
    with session_scope() as s:
        s.execute(
            sa.update(Credential)
            .where(Credential.kind == "reset")
            .values(expires_at=utcnow() - dt.timedelta(seconds=1))
        )
    r = client.post("/api/v1/auth/password-reset", json={"token": token, "new_password": NEW_PASSWORD})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_reset_token"


def test_disable_and_enable_per_role(client, world):
    admin = world.member(OrgKind.enterprise)
    member = world.user(admin.org_id, Role.member)
    set_password(member.user_id)
    key = client.post(
        "/api/v1/auth/api-keys", json={"name": "erp", "scopes": ["listings"]}, headers=member.headers
    ).json()["key"]
    colleague = world.user(admin.org_id, Role.member)
    outsider = world.member(OrgKind.university)
    bureau, registrar = world.bureau(Role.bureau_admin), world.bureau(Role.registrar)
    url = f"/api/v1/users/{member.user_id}"

    assert client.post(f"{url}/disable", headers=colleague.headers).status_code == 403
    assert client.post(f"{url}/disable", headers=outsider.headers).status_code == 404
    assert client.post(f"{url}/disable", headers=registrar.headers).status_code == 403
    assert client.post(f"/api/v1/users/{bureau.user_id}/disable", headers=admin.headers).status_code == 404
    r = client.post(f"/api/v1/users/{admin.user_id}/disable", headers=admin.headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "cannot_change_self"

    r = client.post(f"{url}/disable", headers=admin.headers)
    assert r.status_code == 200 and r.json()["is_active"] is False
    # every credential died: the session, the API key, and logging in again
    assert _me(client, member.headers) == 401
    assert client.post("/api/v1/demands", json=demand_body(), headers={"X-API-Key": key}).status_code == 401
    assert login(client, member.username).status_code == 401

    r = client.post(f"{url}/enable", headers=bureau.headers)  # the bureau re-enables anyone
    assert r.status_code == 200 and r.json()["is_active"] is True
    assert _me(client, member.headers) == 401  # old credentials stay revoked
    assert login(client, member.username).status_code == 200
    assert audit_actions("user", member.user_id)[-3:] == ["disable", "enable", "login"]
