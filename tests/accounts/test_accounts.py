"""Organisation registration and verification, users, login and API keys, through the API."""

from market.accounts.roles import Role
from market.core.vocab import OrgKind
from tests.factories import valid_credit_code
from tests.listings.payloads import demand_body


def registration(**overrides):
    body = {
        "name": "宁波甬新智能装备有限公司",
        "kind": "enterprise",
        "credit_code": valid_credit_code(region="330206"),
        "entity_type_code": "150",
        "region_code": "330206",
        "admin": {"username": "yongxin", "password": "a-long-password", "display_name": "王经理"},
    }
    body.update(overrides)
    return body


def login(client, username, password):
    return client.post("/api/v1/auth/token", data={"username": username, "password": password})


def test_register_verify_then_publish(client, world):
    r = client.post("/api/v1/organisations", json=registration())
    assert r.status_code == 201, r.text
    org = r.json()["organisation"]
    assert org["verification_status"] == "pending" and r.json()["warnings"] == []

    token = login(client, "yongxin", "a-long-password").json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    d = client.post("/api/v1/demands", json=demand_body(), headers=headers).json()
    publish = lambda: client.post(f"/api/v1/demands/{d['id']}/transitions", json={"action": "publish"}, headers=headers)  # noqa: E731
    assert publish().status_code == 403

    bureau = world.bureau()
    r = client.post(f"/api/v1/organisations/{org['id']}/verification", json={"verified": True}, headers=bureau.headers)
    assert r.status_code == 200 and r.json()["verification_status"] == "verified"
    assert publish().status_code == 200


def test_only_bureau_verifies(client, world):
    org = client.post("/api/v1/organisations", json=registration()).json()["organisation"]
    firm = world.member(OrgKind.enterprise)
    r = client.post(f"/api/v1/organisations/{org['id']}/verification", json={"verified": True}, headers=firm.headers)
    assert r.status_code == 403 and r.json()["error"]["code"] == "role_required"
    bureau = world.bureau()
    r = client.post(f"/api/v1/organisations/{org['id']}/verification", json={"verified": False}, headers=bureau.headers)
    assert r.status_code == 422 and r.json()["error"]["code"] == "reason_required"
    r = client.post(
        f"/api/v1/organisations/{org['id']}/verification",
        json={"verified": False, "reason": "营业执照不清晰"},
        headers=bureau.headers,
    )
    assert r.json()["verification_status"] == "rejected" and r.json()["rejection_reason"] == "营业执照不清晰"


def test_invalid_identifiers_get_422_with_field(client):
    r = client.post("/api/v1/organisations", json=registration(credit_code="91330206ABC"))
    body = r.json()["error"]
    assert r.status_code == 422 and body["code"] == "invalid_credit_code"
    assert body["details"][0]["field"] == "credit_code"
    r = client.post("/api/v1/organisations", json=registration(region_code="990000"))
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_region_code"
    r = client.post("/api/v1/organisations", json=registration(entity_type_code="999"))
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_entity_type"


def test_pilot_credit_code_with_bad_check_digit_is_accepted_with_warning(client):
    good = valid_credit_code(region="330206")
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    r = client.post("/api/v1/organisations", json=registration(credit_code=bad))
    assert r.status_code == 201
    assert r.json()["organisation"]["credit_code_check_ok"] is False
    assert r.json()["warnings"][0].startswith("credit_code_check_digit_mismatch")


def test_duplicate_username(client):
    body = registration()
    assert client.post("/api/v1/organisations", json=body).status_code == 201
    r = client.post("/api/v1/organisations", json=registration(credit_code=valid_credit_code()))
    assert r.status_code == 409 and r.json()["error"]["code"] == "username_taken"
    # nothing half-written: the second organisation was not created either
    assert client.get("/api/v1/organisations").json()["total"] == 1


def test_weak_password_and_bad_login(client):
    r = client.post(
        "/api/v1/organisations", json=registration(admin={"username": "abc", "password": "short", "display_name": "x"})
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "weak_password"
    client.post("/api/v1/organisations", json=registration())
    r = login(client, "yongxin", "wrong-password!")
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_credentials"


def test_passwords_are_argon2_hashed(client, world):
    client.post("/api/v1/organisations", json=registration())
    import sqlalchemy as sa

    from market.accounts.models import User
    from market.core.db import session_scope

    with session_scope() as s:
        h = s.scalar(sa.select(User.password_hash).where(User.username == "yongxin"))
    assert h.startswith("$argon2") and "a-long-password" not in h


def test_api_key_for_machine_client(client, world):
    firm = world.member(OrgKind.enterprise)
    r = client.post("/api/v1/auth/api-keys", json={"name": "ERP 对接", "scopes": ["listings"]}, headers=firm.headers)
    assert r.status_code == 201
    key = r.json()["key"]
    r = client.post("/api/v1/demands", json=demand_body(), headers={"X-API-Key": key})
    assert r.status_code == 201 and r.json()["org_id"] == firm.org_id
    key_id = client.get("/api/v1/auth/api-keys", headers=firm.headers).json()[0]["id"]
    assert client.delete(f"/api/v1/auth/api-keys/{key_id}", headers=firm.headers).status_code == 204
    r = client.post("/api/v1/demands", json=demand_body(), headers={"X-API-Key": key})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_token"


def test_org_admin_adds_members_but_not_bureau_roles(client, world):
    admin = world.member(OrgKind.university)
    url = f"/api/v1/organisations/{admin.org_id}/users"
    r = client.post(
        url, json={"username": "li.si", "password": "another-long-pw", "display_name": "李四"}, headers=admin.headers
    )
    assert r.status_code == 201 and r.json()["role"] == "member"
    r = client.post(
        url,
        json={"username": "x.reg", "password": "another-long-pw", "display_name": "x", "role": "registrar"},
        headers=admin.headers,
    )
    assert r.status_code == 403
    other = world.member(OrgKind.enterprise)
    r = client.post(
        url, json={"username": "intruder", "password": "another-long-pw", "display_name": "x"}, headers=other.headers
    )
    assert r.status_code == 403
    bureau = world.bureau()
    r = client.post(
        url,
        json={
            "username": "expert.w",
            "password": "another-long-pw",
            "display_name": "王教授",
            "role": "expert",
            "expert_fields": ["new_energy"],
        },
        headers=bureau.headers,
    )
    assert r.status_code == 201 and r.json()["role"] == Role.expert


def test_create_admin_cli_asks_for_password(engine):
    from click.testing import CliRunner

    from market.cli import main

    result = CliRunner().invoke(
        main, ["create-admin", "--username", "kjj-admin"], input="a-very-long-secret\na-very-long-secret\n"
    )
    assert result.exit_code == 0, result.output
    assert "created" in result.output
    from fastapi.testclient import TestClient

    from market.app import create_app

    with TestClient(create_app()) as c:
        r = login(c, "kjj-admin", "a-very-long-secret")
        assert r.status_code == 200
        me = c.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {r.json()['access_token']}"}).json()
        assert me["user"]["role"] == "bureau_admin" and me["organisation"]["kind"] == "bureau"
