"""API keys: scopes and expiry; a key does no more than its scopes and its user's role."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from market.accounts.models import Credential
from market.accounts.roles import Role
from market.accounts.scopes import SESSION_ONLY_SCOPE, Scope, required_scope
from market.core.db import session_scope, utcnow
from market.core.vocab import OrgKind
from tests.listings.payloads import demand_body


@pytest.mark.parametrize(
    ("method", "path", "needed"),
    [
        ("GET", "/api/v1/contracts/5", None),
        ("HEAD", "/api/v1/demands", None),
        ("POST", "/api/v1/demands", Scope.listings),
        ("PATCH", "/api/v1/achievements/3", Scope.listings),
        ("POST", "/api/v1/contracts/3/submit", Scope.contracts),
        ("POST", "/api/v1/calls/4/bids", Scope.bids),
        ("PATCH", "/api/v1/calls/4/bids/9", Scope.bids),
        ("POST", "/api/v1/calls/4/publish", Scope.calls),
        ("POST", "/api/v1/saved-searches", Scope.matching),
        ("DELETE", "/api/v1/webhooks/2", Scope.matching),
        ("POST", "/api/v1/subsidies/runs", Scope.subsidies),
        ("PUT", "/api/v1/stats/targets/2026", Scope.stats),
        ("POST", "/api/v1/organisations/2/users", Scope.accounts),
        ("POST", "/api/v1/users/2/disable", Scope.accounts),
        ("POST", "/api/v1/auth/api-keys", SESSION_ONLY_SCOPE),
        ("POST", "/api/v1/auth/password", SESSION_ONLY_SCOPE),
        ("POST", "/api/v1/something-new", SESSION_ONLY_SCOPE),  # unmapped areas are closed to keys
    ],
)
def test_required_scope(method, path, needed):
    assert required_scope(method, path) == needed


def _key(client, member, scopes, **extra) -> dict[str, str]:
    r = client.post(
        "/api/v1/auth/api-keys", json={"name": "machine", "scopes": scopes, **extra}, headers=member.headers
    )
    assert r.status_code == 201, r.text
    assert r.json()["scopes"] == sorted(set(scopes) | {"read"})
    return {"X-API-Key": r.json()["key"]}


def _refused_for_scope(r) -> bool:
    return r.status_code == 403 and r.json()["error"]["code"] == "scope_required"


# One write per scope; each is tried with a key holding only that scope (passes the gate) and with a
# read-only key (refused). Ids that do not exist are enough: the gate answers before the route runs.
WRITES = {
    Scope.listings: ("POST", "/api/v1/demands"),
    Scope.contracts: ("POST", "/api/v1/contracts/999999/submit"),
    Scope.bids: ("POST", "/api/v1/calls/999999/bids"),
    Scope.calls: ("POST", "/api/v1/calls/999999/cancel"),
    Scope.matching: ("POST", "/api/v1/saved-searches"),
    Scope.subsidies: ("POST", "/api/v1/subsidies/runs/999999/compute"),
    Scope.stats: ("PUT", "/api/v1/stats/targets/2026"),
    Scope.accounts: ("POST", "/api/v1/users/999999/disable"),
}


@pytest.mark.parametrize("scope", list(WRITES))
def test_each_scope_opens_its_writes_and_no_others(client, world, scope):
    firm = world.member(OrgKind.enterprise)
    key = _key(client, firm, [scope.value])
    for other, (method, path) in WRITES.items():
        r = client.request(method, path, json={}, headers=key)
        assert _refused_for_scope(r) is (other != scope), (scope, other, r.status_code, r.text)


def test_read_only_key_reads_but_changes_nothing(client, world):
    firm = world.member(OrgKind.enterprise)
    key = _key(client, firm, ["read"])
    assert client.get("/api/v1/demands", headers=key).status_code == 200
    assert client.get("/api/v1/auth/me", headers=key).json()["user"]["id"] == firm.user_id
    assert _refused_for_scope(client.post("/api/v1/demands", json=demand_body(), headers=key))
    assert (
        client.post("/api/v1/auth/api-keys", json={"name": "more"}, headers=key).json()["error"]["code"]
        == "session_required"
    )
    # default scopes are read only
    r = client.post("/api/v1/auth/api-keys", json={"name": "default"}, headers=firm.headers)
    assert r.json()["scopes"] == ["read"]


def test_listings_key_writes_listings_as_its_user(client, world):
    firm = world.member(OrgKind.enterprise)
    key = _key(client, firm, ["listings"])
    r = client.post("/api/v1/demands", json=demand_body(), headers=key)
    assert r.status_code == 201 and r.json()["org_id"] == firm.org_id


def test_a_key_never_exceeds_its_users_role(client, world):
    # an enterprise admin's key with every scope still cannot do the bureau's work
    firm = world.member(OrgKind.enterprise)
    key = _key(client, firm, [s.value for s in Scope])
    pending = world.org(OrgKind.university, verified=False)
    r = client.post(f"/api/v1/organisations/{pending}/verification", json={"verified": True}, headers=key)
    assert r.status_code == 403 and r.json()["error"]["code"] == "role_required"
    member = world.user(firm.org_id, Role.member)
    member_key = _key(client, member, ["accounts"])
    r = client.post(f"/api/v1/users/{firm.user_id}/disable", headers=member_key)
    assert r.status_code == 403 and r.json()["error"]["code"] == "role_required"
    # the bureau admin's accounts key does verify
    bureau = world.bureau(Role.bureau_admin)
    r = client.post(
        f"/api/v1/organisations/{pending}/verification",
        json={"verified": True},
        headers=_key(client, bureau, ["accounts"]),
    )
    assert r.status_code == 200


def test_key_expiry(client, world):
    firm = world.member(OrgKind.enterprise)
    past = (utcnow() - dt.timedelta(minutes=1)).isoformat()
    r = client.post("/api/v1/auth/api-keys", json={"name": "x", "expires_at": past}, headers=firm.headers)
    assert r.status_code == 422 and r.json()["error"]["code"] == "expiry_in_past"
    naive = (utcnow() + dt.timedelta(days=1)).replace(tzinfo=None).isoformat()  # no offset: read as UTC
    assert (
        client.post("/api/v1/auth/api-keys", json={"name": "n", "expires_at": naive}, headers=firm.headers).status_code
        == 201
    )
    soon = (utcnow() + dt.timedelta(days=1)).isoformat()
    key = _key(client, firm, ["read"], expires_at=soon)
    assert client.get("/api/v1/auth/me", headers=key).status_code == 200
    listed = client.get("/api/v1/auth/api-keys", headers=firm.headers).json()
    assert all(k["expires_at"] is not None for k in listed)
    with session_scope() as s:
        s.execute(
            sa.update(Credential)
            .where(Credential.kind == "api_key")
            .values(expires_at=utcnow() - dt.timedelta(seconds=1))
        )
    r = client.get("/api/v1/auth/me", headers=key)
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_token"
