"""The demo (`./dev serve --demo`) gives the officer's and the bureau admin's pages something real: calls to vet,
under review and ready to award, and a frozen subsidy run with results — each demo user signing in as such."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from market.calls.models import Call
from market.core.db import session_scope
from market.demo import load_demo
from market.demo.console_logins import enable_console_logins
from market.subsidies.models import SubsidyResult, SubsidyRun
from tests.console.test_demo import _log_in


@pytest.mark.sqlite
def test_demo_officer_and_admin_pages_show_real_work(client: TestClient) -> None:
    with session_scope() as s:
        load_demo(s, listings=20)
    with session_scope() as s:
        logins = {u for u, _, _ in enable_console_logins(s)}
        ready = s.scalar(sa.select(Call.id).where(Call.state == "notice_ended"))
        run = s.scalar(sa.select(SubsidyRun).where(SubsidyRun.status == "frozen"))
        assert run is not None
        results = s.scalar(sa.select(sa.func.count()).where(SubsidyResult.run_id == run.id))
    assert {"demo-officer", "demo-expert-1", "demo-subsidy-reviewer", "demo-subsidy-approver"} <= logins
    assert results and results > 0  # the run covers the year of the demo's registered contracts

    _log_in(client, "demo-officer")
    calls = client.get("/console/officer/calls")
    assert calls.status_code == 200
    for queue in ("待审核的出题（1）", "揭榜与评审（1）", "公示（1）"):
        assert queue in calls.text
    page = client.get(f"/console/officer/calls/{ready}")
    assert page.status_code == 200 and 'id="board"' in page.text and "分歧较大" in page.text
    assert 'id="award"' in page.text
    runs = client.get("/console/admin/subsidies")
    assert runs.status_code == 200
    run_page = client.get(f"/console/admin/subsidies/runs/{run.id}")
    assert run_page.status_code == 200 and "已冻结" in run_page.text
    assert len(re.findall(r'href="/console/admin/subsidies/results/\d+"', run_page.text)) == min(results, 50)
