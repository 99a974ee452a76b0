"""Access matrix: every listing endpoint × every role, for a draft and a published listing."""

import pytest

from market.accounts.roles import Role
from market.core.vocab import OrgKind
from tests.listings.payloads import achievement_body, demand_body

ROLES = ("anonymous", "same_org", "other_org", "bureau", "expert")
BODIES = {"achievements": achievement_body, "demands": demand_body}

# endpoint -> state -> expected status per role (in ROLES order)
MATRIX = {
    "get": {"draft": (404, 200, 404, 200, 404), "published": (200, 200, 200, 200, 200)},
    "patch": {"draft": (401, 200, 404, 200, 404), "published": (401, 200, 403, 200, 403)},
    "history": {"draft": (404, 200, 404, 200, 404), "published": (403, 200, 403, 200, 403)},
    "close": {"draft": (401, 409, 404, 409, 404), "published": (401, 200, 403, 200, 403)},
    "publish": {"draft": (401, 200, 404, 200, 404), "published": (401, 409, 403, 409, 403)},
}


def _cast(world):
    owner_org = world.org(OrgKind.university)
    return {
        "anonymous": {},
        "same_org": world.user(owner_org, Role.member).headers,
        "other_org": world.member(OrgKind.enterprise).headers,
        "bureau": world.bureau(Role.bureau_admin).headers,
        "expert": world.expert().headers,
        "_owner": world.user(owner_org, Role.org_admin).headers,
    }


@pytest.fixture
def cast(world):
    return _cast(world)


@pytest.fixture
def cast_pg(pg_world):
    return _cast(pg_world)


def _make(client, cast, path, state):
    r = client.post(f"/api/v1/{path}", json=BODIES[path](), headers=cast["_owner"])
    assert r.status_code == 201, r.text
    lid = r.json()["id"]
    if state == "published":
        assert (
            client.post(
                f"/api/v1/{path}/{lid}/transitions", json={"action": "publish"}, headers=cast["_owner"]
            ).status_code
            == 200
        )
    return lid


def _call(client, path, lid, endpoint, headers):
    url = f"/api/v1/{path}/{lid}"
    if endpoint == "get":
        return client.get(url, headers=headers)
    if endpoint == "patch":
        return client.patch(url, json={"keywords": ["改"]}, headers=headers)
    if endpoint == "history":
        return client.get(f"{url}/history", headers=headers)
    return client.post(f"{url}/transitions", json={"action": endpoint}, headers=headers)


@pytest.mark.parametrize("path", ["achievements", "demands"])
@pytest.mark.parametrize("endpoint", list(MATRIX))
@pytest.mark.parametrize("state", ["draft", "published"])
def test_listing_access_matrix(pg_client, cast_pg, path, endpoint, state):
    cast = cast_pg
    for role, expected in zip(ROLES, MATRIX[endpoint][state], strict=True):
        lid = _make(pg_client, cast, path, state)  # a fresh listing per role: actions change state
        r = _call(pg_client, path, lid, endpoint, cast[role])
        assert r.status_code == expected, f"{endpoint} {state} {path} as {role}: {r.status_code} {r.text}"
        assert r.status_code < 300 or "code" in r.json()["error"]


@pytest.mark.parametrize("path", ["achievements", "demands"])
def test_list_shows_drafts_only_to_owner_and_bureau(client, world, path, cast):
    draft = _make(client, cast, path, "draft")
    published = _make(client, cast, path, "published")
    expected = {
        "anonymous": {published},
        "same_org": {draft, published},
        "other_org": {published},
        "bureau": {draft, published},
        "expert": {published},
    }
    for role in ROLES:
        ids = {i["id"] for i in client.get(f"/api/v1/{path}", headers=cast[role]).json()["items"]}
        assert ids == expected[role], role


@pytest.mark.parametrize("role", ["anonymous", "expert", "bureau"])
def test_create_refused_for_non_members(client, cast, role):
    r = client.post("/api/v1/demands", json=demand_body(), headers=cast[role])
    assert r.status_code == (401 if role == "anonymous" else 403)
