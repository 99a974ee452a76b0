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
    assert r.json() == {
        "error": {"code": "internal_error", "message": "An internal error occurred; it has been logged."}
    }
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


def test_a_500_leaves_the_keep_alive_connection_usable(engine):
    """A real uvicorn and one keep-alive client: after a 500, the next request goes over the same connection.

    Starlette re-raises after an `Exception` handler has answered, and uvicorn then closes the connection,
    so the client's next request on it was reset.
    """
    import socket
    import threading
    import time

    import httpx
    import uvicorn

    app = create_app()

    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internal detail")

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="critical"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", limits=httpx.Limits(max_connections=1)) as c:
            ports = []
            for path, status in (("/boom", 500), ("/healthz", 200), ("/boom", 500), ("/api/v1/nowhere", 404)):
                r = c.get(path)
                assert r.status_code == status, r.text
                assert r.headers.get("connection", "").lower() != "close"
                ports.append(r.extensions["network_stream"].get_extra_info("socket").getsockname()[1])
            assert r.json()["error"]["code"] == "not_found"
            assert len(set(ports)) == 1, f"the connection was replaced: {ports}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
