"""One error shape everywhere, and no stack trace leaks from a 500."""

from fastapi.testclient import TestClient

from market.app import create_app


def test_500_has_error_shape_and_no_trace(engine):
    app = create_app()

    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internal detail /etc/passwd")

    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/boom")
    assert r.status_code == 500
    assert r.json() == {"error": {"code": "internal_error", "message": "An internal error occurred; it has been logged."}}
    assert "secret" not in r.text and "Traceback" not in r.text


def test_validation_error_shape(client):
    r = client.post("/api/v1/organisations", json={"name": "x"})
    err = r.json()["error"]
    assert r.status_code == 422 and err["code"] == "validation_failed"
    assert {d["field"] for d in err["details"]} >= {"kind", "credit_code", "region_code", "admin"}


def test_auth_error_shape(client):
    r = client.post("/api/v1/demands", json={})
    assert r.status_code == 401 and r.json()["error"]["code"] == "not_authenticated"
    r = client.get("/api/v1/auth/me", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_token"
