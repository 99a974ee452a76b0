"""The console's demo data: a registrar queue, a year and a half of registrations, users who can log in (--demo)."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from market.accounts.models import User
from market.contracts.models import Contract
from market.core.db import session_scope
from market.demo import load_demo
from market.demo.console_logins import DEMO_PASSWORD, banner, enable_console_logins
from tests.console.conftest import csrf_in
from tests.console.test_director import chart_options


def _log_in(client: TestClient, username: str) -> None:
    client.cookies.clear()
    token = csrf_in(client.get("/console/login").text)
    r = client.post(
        "/console/login",
        data={"username": username, "password": DEMO_PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text


@pytest.mark.sqlite
def test_demo_gives_every_console_page_something_real(client: TestClient) -> None:
    with session_scope() as s:
        counts = load_demo(s, listings=20)
    assert counts["contracts_imported"] >= 40 and counts["contracts_filed"] == 8
    with session_scope() as s:
        # `market demo-data` (load_demo alone) leaves every account without a password
        assert s.scalar(sa.select(sa.func.count()).where(User.password_hash.is_not(None))) == 0
        logins = enable_console_logins(s)
    names = {u for u, _, _ in logins}
    assert {"demo-registrar", "demo-registrar-2", "demo-director"} <= names
    assert all(not u.startswith("demo-") or u in names for u, _, r in logins if r)  # only console roles
    text = banner(logins)
    assert DEMO_PASSWORD in text and "demo-registrar" in text
    with session_scope() as s:
        firm_admins = s.scalars(sa.select(User).where(User.role == "org_admin")).all()
        assert all(u.password_hash is None for u in firm_admins)  # nobody logs in as a firm
        statuses = dict(s.execute(sa.select(Contract.status, sa.func.count()).group_by(Contract.status)).all())
    assert statuses["submitted"] == 7 and statuses["returned"] == 1

    _log_in(client, "demo-registrar")
    queue = client.get("/console/registrar")
    assert queue.status_code == 200 and queue.text.count("data-contract=") == 7
    registered = client.get("/console/registrar/registered")
    assert registered.text.count("DEMO") >= 40

    _log_in(client, "demo-director")
    page = client.get("/console/dashboard")
    options = chart_options(page.text)
    monthly = options["chart-monthly"]["series"]
    today = dt.date.today()
    assert sum(float(v) for v in monthly[1]["data"]) > 0  # last year, month by month
    if today.month > 1:
        assert sum(float(v) for v in monthly[0]["data"]) > 0
    for cid in ("chart-type", "chart-field", "chart-seller-entity", "chart-buyer-entity"):
        assert options[cid]["series"][0]["data"], cid
    assert options["chart-top-sellers"]["yAxis"]["data"] and options["chart-flows"]["series"][0]["data"]
    assert any(v != "0" for v in options["chart-progress"]["series"][0]["data"])  # this year's target is set


def test_serve_demo_prints_the_console_users(sqlite_engine: sa.Engine, capsys: pytest.CaptureFixture[str]) -> None:
    from market.stack import EmbeddedStack

    class NoServices(EmbeddedStack):
        def __init__(self) -> None:  # only load_demo is used: no Meilisearch, Redis or worker
            pass

    NoServices().load_demo()
    printed = capsys.readouterr().out
    assert "demo-registrar" in printed and DEMO_PASSWORD in printed and "/console/" in printed
