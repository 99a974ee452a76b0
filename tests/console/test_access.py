"""The console's foundation: who gets in, the session cookie, CSRF on every form, the vendored libraries."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from market.accounts.models import Credential, User
from market.accounts.roles import Role
from market.accounts.security import hash_password
from market.console import auth
from market.core.db import session_scope
from tests.console.conftest import csrf_in, sign_in
from tests.factories import World

PASSWORD = "Bureau-console-pass-2026"


def _with_password(member_user_id: int) -> None:
    with session_scope() as s:
        user = s.get(User, member_user_id)
        assert user is not None
        user.password_hash = hash_password(PASSWORD)


def test_anonymous_is_sent_to_login(client: TestClient) -> None:
    r = client.get("/console/", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/console/login?next=%2Fconsole%2F"
    page = client.get("/console/login")
    assert page.status_code == 200 and "登录控制台" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("role", [Role.org_admin, Role.member])
def test_firm_user_gets_nothing(client: TestClient, world: World, role: Role) -> None:
    firm = world.member(role=role)
    sign_in(client, firm)
    r = client.get("/console/")
    assert r.status_code == 403
    assert "控制台仅供" in r.text
    assert "菜单" not in r.text  # no menu, no names of pages


@pytest.mark.parametrize(
    ("role", "shown", "hidden"),
    [
        (Role.registrar, "/console/", "/console/expert"),
        (Role.expert, "/console/", "/console/registrar"),
    ],
)
def test_menu_shows_what_the_role_allows(client: TestClient, world: World, role: Role, shown: str, hidden: str) -> None:
    member = world.expert() if role == Role.expert else world.bureau(role)
    sign_in(client, member)
    r = client.get("/console/")
    assert r.status_code == 200, r.text
    assert f'href="{shown}"' in r.text
    assert f'href="{hidden}"' not in r.text


def test_login_form_sets_a_safe_cookie_and_logout_revokes_it(client: TestClient, world: World) -> None:
    registrar = world.bureau(Role.registrar)
    _with_password(registrar.user_id)
    client.cookies.clear()
    form = client.get("/console/login?next=/console/")
    token = csrf_in(form.text)
    # without the CSRF token the login is refused before any password check
    r = client.post(
        "/console/login", data={"username": registrar.username, "password": PASSWORD}, follow_redirects=False
    )
    assert r.status_code == 403 and "csrf_failed" in r.text
    bad = client.post(
        "/console/login", data={"username": registrar.username, "password": "wrong-password-1", "csrf_token": token}
    )
    assert bad.status_code == 401 and "用户名或密码错误" in bad.text
    r = client.post(
        "/console/login",
        data={"username": registrar.username, "password": PASSWORD, "csrf_token": token, "next": "//evil.example/"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/console/"
    cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith(auth.SESSION_COOKIE + "="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie  # plain http here; https sets it
    home = client.get("/console/")
    assert home.status_code == 200
    session_csrf = csrf_in(home.text)
    # logout is a form too: refused without the token, done with it
    assert client.post("/console/logout", follow_redirects=False).status_code == 403
    r = client.post("/console/logout", data={"csrf_token": session_csrf}, follow_redirects=False)
    assert r.status_code == 303
    with session_scope() as s:
        creds = s.query(Credential).filter_by(user_id=registrar.user_id, kind="token").order_by(Credential.id).all()
        assert len(creds) == 2  # the factory's token, and the console login's, now revoked
        assert creds[-1].revoked_at is not None
    assert client.get("/console/", follow_redirects=False).status_code == 303


def test_firm_user_cannot_log_in_to_the_console(client: TestClient, world: World) -> None:
    firm = world.member()
    _with_password(firm.user_id)
    client.cookies.clear()
    token = csrf_in(client.get("/console/login").text)
    r = client.post("/console/login", data={"username": firm.username, "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 403 and "控制台仅供" in r.text
    assert auth.SESSION_COOKIE not in r.cookies


def test_csrf_token_of_another_session_is_refused(client: TestClient, world: World) -> None:
    a, b = world.bureau(Role.registrar), world.bureau(Role.registrar)
    sign_in(client, a)
    r = client.post("/console/logout", data={"csrf_token": auth.csrf_token(b.token)}, follow_redirects=False)
    assert r.status_code == 403


def test_vendored_libraries_are_served_from_the_project(client: TestClient) -> None:
    for name in ("htmx.min.js", "echarts.min.js"):
        r = client.get(f"/console/vendor/{name}")
        assert r.status_code == 200 and len(r.content) > 10_000
        assert r.headers["content-type"].startswith("text/javascript")
    assert client.get("/console/vendor/..%2Fpackage.json").status_code == 404
    assert client.get("/console/static/console.js").status_code == 200


def test_cookie_is_secure_over_tls(engine: object, world: World) -> None:
    from market.app import create_app

    registrar = world.bureau(Role.registrar)
    _with_password(registrar.user_id)
    with TestClient(create_app(), base_url="https://console.example") as tls:
        token = csrf_in(tls.get("/console/login").text)
        r = tls.post(
            "/console/login",
            data={"username": registrar.username, "password": PASSWORD, "csrf_token": token},
            follow_redirects=False,
        )
    assert r.status_code == 303, r.text
    cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith(auth.SESSION_COOKIE + "="))
    assert "Secure" in cookie and "HttpOnly" in cookie


def test_every_menu_page_opens_for_its_roles_and_for_nobody_else(client: TestClient, world: World) -> None:
    members = {
        Role.bureau_admin: world.bureau(Role.bureau_admin),
        Role.registrar: world.bureau(Role.registrar),
        Role.programme_officer: world.bureau(Role.programme_officer),
        Role.expert: world.expert(),
    }
    menus: dict[Role, set[str]] = {}
    for role, member in members.items():
        sign_in(client, member)
        home = client.get("/console/")
        menus[role] = set(re.findall(r'<li><a href="(/console/[^"]*)"', home.text))
        assert "/console/" in menus[role]
        for path in menus[role]:
            assert client.get(path).status_code == 200, (role, path)
    every = set().union(*menus.values())
    for role, member in members.items():
        sign_in(client, member)
        for path in every - menus[role]:
            assert client.get(path).status_code == 403, (role, path)  # not in my menu: not mine to open
    sign_in(client, world.member())
    for path in every:
        assert client.get(path).status_code == 403, path
    client.cookies.clear()
    for path in every:
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/console/login"), path
