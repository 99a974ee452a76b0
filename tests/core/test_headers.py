"""Security headers on every response, no-store where credentials are involved, and /docs off in production."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from market.app import create_app
from market.core.config import get_settings


def assert_security_headers(r) -> None:
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
    assert r.headers["Referrer-Policy"] == "no-referrer"


def test_every_kind_of_response_carries_the_headers(client, world):
    member = world.member()
    responses = [
        client.get("/healthz"),  # 200
        client.get("/api/v1/demands"),  # 200, anonymous
        client.get("/api/v1/nowhere"),  # 404 from the router
        client.post("/api/v1/demands", json={}),  # 401
        client.post("/api/v1/demands", json={}, headers=member.headers),  # 422
        client.get(f"/api/v1/demands/{2**63}", headers=member.headers),  # 422 from the id guard
        client.get("/docs"),
    ]
    for r in responses:
        assert_security_headers(r)


def test_unhandled_500_carries_the_headers(engine):
    app = create_app()

    @app.get("/boom")
    def boom():
        raise RuntimeError("x")

    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/boom")
    assert r.status_code == 500
    assert_security_headers(r)


def test_auth_and_credentialed_responses_are_not_stored(client, world):
    member = world.member()
    r = client.post("/api/v1/auth/token", data={"username": "nobody", "password": "wrong"})
    assert r.status_code in (400, 401) and r.headers["Cache-Control"] == "no-store"
    r = client.get("/api/v1/auth/me", headers=member.headers)
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    r = client.get("/api/v1/demands", headers=member.headers)
    assert r.headers["Cache-Control"] == "no-store"  # what a signed-in user sees may include their drafts
    r = client.get("/api/v1/demands")
    assert "no-store" not in r.headers.get("Cache-Control", "")  # the public catalogue may be cached


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, 200),
        ({"MARKET_ENVIRONMENT": "production", "MARKET_SECRET_KEY": "a-real-secret-0f3c"}, 404),
        (
            {"MARKET_ENVIRONMENT": "production", "MARKET_SECRET_KEY": "a-real-secret-0f3c", "MARKET_API_DOCS": "true"},
            200,
        ),
        ({"MARKET_API_DOCS": "false"}, 404),
    ],
)
def test_docs_can_be_turned_off(engine, monkeypatch, env, expected):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    try:
        with TestClient(create_app(), raise_server_exceptions=False) as c:
            for path in ("/docs", "/redoc", "/openapi.json"):
                r = c.get(path)
                assert r.status_code == expected, path
                assert_security_headers(r)
            assert c.get("/healthz").status_code == 200
    finally:
        get_settings.cache_clear()
