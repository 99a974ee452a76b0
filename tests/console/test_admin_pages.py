"""The bureau admin's console pages: who may open them, CSRF, and each action as the API's audited service call."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from market.accounts.models import Organisation, User
from market.accounts.roles import Role
from market.core.audit import AuditEntry
from market.core.db import session_scope
from market.core.vocab import OrgKind
from market.filings.models import IntermediaryFiling
from market.subsidies.flows import compute_run
from market.subsidies.models import SubsidyRun
from tests.console.conftest import csrf_in, csrf_tokens, sign_in
from tests.factories import Member, World
from tests.subsidies.ledger import add_contract

PAGES = ["/console/admin/organisations", "/console/admin/filings", "/console/admin/subsidies"]
NB = ["nb2014-seller", "nb2014-buyer"]


def _audit(entity_type: str, entity_id: int, action: str) -> AuditEntry | None:
    with session_scope() as s:
        return s.scalar(
            sa.select(AuditEntry).where(
                AuditEntry.entity_type == entity_type, AuditEntry.entity_id == entity_id, AuditEntry.action == action
            )
        )


@pytest.mark.parametrize("path", [*PAGES, "/console/admin/users"])
def test_anonymous_and_firm_users_get_nothing(client: TestClient, world: World, path: str) -> None:
    client.cookies.clear()
    r = client.get(path, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/console/login?next=")
    sign_in(client, world.member(OrgKind.intermediary))
    r = client.get(path)
    assert r.status_code == 403 and "菜单" not in r.text


@pytest.mark.parametrize("role", [Role.bureau_admin, Role.registrar, Role.programme_officer])
def test_bureau_staff_open_the_admin_pages_experts_do_not(client: TestClient, world: World, role: Role) -> None:
    csrf = sign_in(client, world.bureau(role))
    for path in PAGES:
        r = client.get(path)
        assert r.status_code == 200, (path, r.text)
        assert f'href="{path}"' in r.text  # reachable from the menu
        assert csrf_tokens(r.text) == {csrf}  # every form on the page carries this session's token
    users = client.get("/console/admin/users")
    assert users.status_code == (200 if role == Role.bureau_admin else 403)
    sign_in(client, world.expert())
    assert all(client.get(p).status_code == 403 for p in PAGES)


def test_verify_and_reject_organisations_with_the_api_error_next_to_the_field(client: TestClient, world: World) -> None:
    pending = world.org(OrgKind.enterprise, verified=False, name="待核验科技有限公司")
    other = world.org(OrgKind.enterprise, verified=False, name="另一家待核验公司")
    registrar = world.bureau(Role.registrar)
    csrf = sign_in(client, registrar)
    page = client.get("/console/admin/organisations")
    assert "待核验科技有限公司" in page.text and csrf_in(page.text) == csrf
    url = f"/console/admin/organisations/{pending}/verification"
    # no CSRF token: refused before anything happens
    assert client.post(url, data={"decision": "verify"}).status_code == 403
    # rejecting without a reason: the service's 422, its code and message next to the reason field
    r = client.post(url, data={"decision": "reject", "reason": "", "csrf_token": csrf})
    assert r.status_code == 422
    assert 'id="reason-error"' in r.text and "reason_required" in r.text and "a rejection needs a reason" in r.text
    r = client.post(url, data={"decision": "verify", "csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303
    r = client.post(
        f"/console/admin/organisations/{other}/verification",
        data={"decision": "reject", "reason": "营业执照与信用代码不符", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert r.status_code == 303
    with session_scope() as s:
        first, second = s.get(Organisation, pending), s.get(Organisation, other)
        assert first is not None and first.verification_status == "verified"
        assert second is not None and second.verification_status == "rejected"
        assert second.rejection_reason == "营业执照与信用代码不符"
    entry = _audit("organisation", pending, "verify")
    assert entry is not None and entry.actor_user_id == registrar.user_id


def test_intermediary_filings_recorded_or_refused(client: TestClient, world: World) -> None:
    broker = world.member(OrgKind.intermediary)
    filing = client.post("/api/v1/filings", json={"level": "city"}, headers=broker.headers).json()
    url = f"/console/admin/filings/{filing['id']}/record"
    # a programme officer reads the filings; deciding them is the registrar's or the admin's (filings.rules)
    csrf = sign_in(client, world.bureau(Role.programme_officer))
    page = client.get("/console/admin/filings")
    assert page.status_code == 200 and "待审核" in page.text and url not in page.text
    r = client.post(url, data={"filing_number": "N-1", "level": "city", "filed_on": "2025-01-06", "csrf_token": csrf})
    assert r.status_code == 403 and "role_required" in r.text
    csrf = sign_in(client, world.bureau(Role.registrar))
    assert url in client.get("/console/admin/filings").text
    r = client.post(url, data={"filing_number": "", "level": "city", "filed_on": "2025-01-06", "csrf_token": csrf})
    assert r.status_code == 422 and 'id="filing_number-error"' in r.text
    r = client.post(
        url,
        data={"filing_number": "NB-2025-007", "level": "city", "filed_on": "2025-01-06", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert r.status_code == 303
    with session_scope() as s:
        row = s.get(IntermediaryFiling, filing["id"])
        assert row is not None and row.status == "recorded" and row.filing_number == "NB-2025-007"
    assert _audit("intermediary_filing", filing["id"], "recorded") is not None
    # the same refusal as the API for a filing already decided
    again = client.post(f"/console/admin/filings/{filing['id']}/reject", data={"note": "重复", "csrf_token": csrf})
    api = client.post(f"/api/v1/filings/{filing['id']}/reject", json={"note": "重复"}, headers=world.bureau().headers)
    assert again.status_code == api.status_code and api.json()["error"]["code"] in again.text


def test_users_and_roles_only_the_bureau_admin_manages(client: TestClient, world: World) -> None:
    admin = world.bureau(Role.bureau_admin)
    csrf = sign_in(client, admin)
    r = client.post(
        "/console/admin/users",
        data={"username": "x", "display_name": "", "role": "registrar", "csrf_token": csrf},
    )
    assert r.status_code == 422 and 'id="username-error"' in r.text and 'id="display_name-error"' in r.text
    uni = world.org(OrgKind.university)
    r = client.post(
        "/console/admin/users",
        data={
            "username": "expert.wang",
            "display_name": "王专家",
            "role": "expert",
            "org_id": str(uni),
            "expert_fields": ["new_energy", "new_materials"],
            "csrf_token": csrf,
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    with session_scope() as s:
        expert = s.scalar(sa.select(User).where(User.username == "expert.wang"))
        assert expert is not None and expert.role == "expert" and expert.org_id == uni
        assert expert.expert_fields == "new_energy,new_materials"
        expert_id = expert.id
    assert _audit("user", expert_id, "create") is not None
    # a bureau role outside the bureau: the service's rule, shown at the role field
    r = client.post(
        "/console/admin/users",
        data={
            "username": "reg.out",
            "display_name": "外部登记员",
            "role": "registrar",
            "org_id": str(uni),
            "csrf_token": csrf,
        },
    )
    assert r.status_code == 422 and "invalid_role" in r.text and 'id="role-error"' in r.text
    r = client.post(f"/console/admin/users/{expert_id}/disable", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303
    with session_scope() as s:
        disabled = s.get(User, expert_id)
        assert disabled is not None and disabled.is_active is False
    # a programme officer may not manage users: the page and its forms are closed to them
    officer_csrf = sign_in(client, world.bureau(Role.programme_officer))
    r = client.post(f"/console/admin/users/{expert_id}/enable", data={"csrf_token": officer_csrf})
    assert r.status_code == 403


@pytest.fixture
def ledger(world: World) -> dict[str, int]:
    uni = world.org(OrgKind.university, region_code="330203", name="宁波某大学")
    firm = world.org(OrgKind.enterprise, region_code="330206", name="北仑某制造公司")
    return {
        "uni": uni,
        "firm": firm,
        "big": add_contract(uni, firm, 10_000_000, on=dt.date(2024, 3, 1)),
        "small": add_contract(uni, firm, 2_000_000, on=dt.date(2024, 4, 1)),
    }


def _create_run(client: TestClient, csrf: str, **extra: str) -> int:
    data = {"period_start": "2024-01-01", "period_end": "2024-12-31", "policy_codes": NB, "csrf_token": csrf, **extra}
    r = client.post("/console/admin/subsidies/runs", data=data, follow_redirects=False)
    assert r.status_code == 303, r.text
    run_id = int(r.headers["location"].split("/runs/")[1].split("?")[0])
    queued = client.get(f"/console/admin/subsidies/runs/{run_id}")
    assert 'hx-trigger="every 3s"' in queued.text  # the page follows the computation in place
    compute_run(run_id)  # what the worker does with the queued computation
    return run_id


def _status(run_id: int) -> str:
    with session_scope() as s:
        run = s.get(SubsidyRun, run_id)
        assert run is not None
        return run.status


def test_subsidy_run_four_eyes_through_the_console(client: TestClient, world: World, ledger: dict[str, int]) -> None:
    officer, admin, second = world.bureau(Role.programme_officer), world.bureau(), world.bureau()
    csrf = sign_in(client, officer)
    bad = client.post(
        "/console/admin/subsidies/runs",
        data={"period_start": "2024-01-01", "period_end": "2025-03-31", "csrf_token": csrf},
    )
    assert bad.status_code == 422 and "period_spans_years" in bad.text and 'id="period_end-error"' in bad.text
    run_id = _create_run(client, csrf)
    page = client.get(f"/console/admin/subsidies/runs/{run_id}")
    assert page.status_code == 200 and "北仑某制造公司" in page.text and "hx-trigger" not in page.text
    assert 'id="run-review"' in page.text and 'id="run-approve"' not in page.text
    assert client.post(f"/console/admin/subsidies/runs/{run_id}/review", data={"csrf_token": csrf}).status_code == 200
    assert _status(run_id) == "reviewed"
    # the officer may not approve: no button, and the service refuses the form
    page = client.get(f"/console/admin/subsidies/runs/{run_id}")
    assert 'id="run-approve"' not in page.text
    r = client.post(f"/console/admin/subsidies/runs/{run_id}/approve", data={"csrf_token": csrf})
    assert r.status_code == 403 and "subsidy_role_required" in r.text
    # an admin reopens and reviews it: then that admin may not also approve it (four eyes)
    csrf = sign_in(client, admin)
    for action in ("reopen", "review"):
        r = client.post(f"/console/admin/subsidies/runs/{run_id}/{action}", data={"csrf_token": csrf})
        assert r.status_code == 200, r.text
    page = client.get(f"/console/admin/subsidies/runs/{run_id}")
    assert 'id="four-eyes"' in page.text and 'id="run-approve"' not in page.text
    r = client.post(f"/console/admin/subsidies/runs/{run_id}/approve", data={"csrf_token": csrf})
    assert r.status_code == 403 and "four_eyes" in r.text and _status(run_id) == "reviewed"
    # a second admin approves and freezes
    csrf = sign_in(client, second)
    page = client.get(f"/console/admin/subsidies/runs/{run_id}")
    assert 'id="run-approve"' in page.text
    for action, status in (("approve", "approved"), ("freeze", "frozen")):
        r = client.post(f"/console/admin/subsidies/runs/{run_id}/{action}", data={"csrf_token": csrf})
        assert r.status_code == 200 and _status(run_id) == status
    entry = _audit("subsidy_run", run_id, "approve")
    assert entry is not None and entry.actor_user_id == second.user_id
    # export, as the API's
    csv = client.get(f"/console/admin/subsidies/runs/{run_id}/export.csv")
    api = client.get(f"/api/v1/subsidies/runs/{run_id}/export.csv", headers=second.headers)
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv") and csv.content == api.content
    xlsx = client.get(f"/console/admin/subsidies/runs/{run_id}/export.xlsx")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"


def test_results_with_their_working_and_the_diff_of_a_correction(
    client: TestClient, world: World, ledger: dict[str, int]
) -> None:
    officer, admin, second = world.bureau(Role.programme_officer), world.bureau(), world.bureau()
    run_id = _frozen_run(client, officer, admin, second)
    csrf = sign_in(client, officer)
    page = client.get(f"/console/admin/subsidies/runs/{run_id}")
    result_path = page.text.split('href="/console/admin/subsidies/results/')[1].split('"')[0]
    result = client.get(f"/console/admin/subsidies/results/{result_path}")
    assert result.status_code == 200 and 'id="contributions"' in result.text and 'id="settlement"' in result.text
    # a later-registered contract in the same year: a correction run shows what changes against the frozen run
    add_contract(ledger["uni"], ledger["firm"], 3_000_000, on=dt.date(2024, 9, 1))
    correction = _create_run(client, csrf, corrects_run_id=str(run_id))
    page = client.get(f"/console/admin/subsidies/runs/{correction}")
    assert page.status_code == 200 and 'id="diff"' in page.text
    api = client.get(f"/api/v1/subsidies/runs/{correction}/diff", headers=officer.headers).json()
    assert api["changes"] and all(c["beneficiary_name"] in page.text for c in api["changes"])


def _frozen_run(client: TestClient, officer: Member, admin: Member, second: Member) -> int:
    run_id = _create_run(client, sign_in(client, officer))
    for who, action in ((officer, "review"), (admin, "approve"), (second, "freeze")):
        r = client.post(f"/console/admin/subsidies/runs/{run_id}/{action}", data={"csrf_token": sign_in(client, who)})
        assert r.status_code == 200, r.text
    return run_id
