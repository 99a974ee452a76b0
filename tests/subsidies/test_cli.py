"""`market subsidies run | review | approve | export`: the API's services, acting --as a user, audited as theirs."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from click.testing import CliRunner

from market.accounts.roles import Role
from market.cli import main as cli
from market.core.audit import AuditEntry
from market.core.db import session_scope
from market.core.vocab import OrgKind
from market.subsidies.models import SubsidyRun
from tests.subsidies.ledger import add_contract

NB = ("nb2014-seller", "nb2014-buyer")


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


def runs() -> list[SubsidyRun]:
    with session_scope() as s:
        return list(s.scalars(sa.select(SubsidyRun).order_by(SubsidyRun.id)))


def test_a_run_is_computed_reviewed_approved_and_exported_from_the_command_line(client, world, tmp_path):
    uni = world.org(OrgKind.university, region_code="330203")
    firm = world.org(OrgKind.enterprise, region_code="330206")
    add_contract(uni, firm, 10_000_000, on=dt.date(2024, 3, 1))
    officer, admin = world.bureau(Role.programme_officer), world.bureau(Role.bureau_admin)
    policies = [arg for code in NB for arg in ("--policy", code)]

    result = invoke(
        "subsidies", "run", "--start", "2024-01-01", "--end", "2024-12-31", *policies, "--as", officer.username
    )
    assert result.exit_code == 0, result.output
    (run,) = runs()
    assert (run.compute_state, run.progress_done, run.progress_total) == ("computed", 3, 3)
    # the same figures the API shows
    api = client.get(f"/api/v1/subsidies/runs/{run.id}", headers=officer.headers).json()
    assert api["compute_state"] == "computed" and api["total"] == str(run.total) and run.total > 0
    assert f"total {run.total}" in result.output

    # four eyes, as through the API: the reviewer may not approve
    assert invoke("subsidies", "review", str(run.id), "--as", officer.username).exit_code == 0
    refused = invoke("subsidies", "approve", str(run.id), "--as", officer.username)
    assert refused.exit_code == 1 and "subsidy_role_required" in refused.output
    approved = invoke("subsidies", "approve", str(run.id), "--as", admin.username)
    assert approved.exit_code == 0 and f"run {run.id} approved" in approved.output
    with session_scope() as s:
        trail = s.execute(
            sa.select(AuditEntry.action, AuditEntry.actor_user_id)
            .where(AuditEntry.entity_type == "subsidy_run", AuditEntry.entity_id == run.id)
            .order_by(AuditEntry.id)
        ).all()
    assert [tuple(t) for t in trail] == [
        ("created", officer.user_id),
        ("computed", None),
        ("review", officer.user_id),
        ("approve", admin.user_id),
    ]

    target = tmp_path / "run.csv"
    exported = invoke("subsidies", "export", str(run.id), "--format", "csv", "-o", str(target), "--as", admin.username)
    assert exported.exit_code == 0, exported.output
    api_csv = client.get(f"/api/v1/subsidies/runs/{run.id}/export.csv", headers=admin.headers)
    assert target.read_bytes() == api_csv.content


def test_who_may_not_is_refused_with_the_apis_code(world, tmp_path):
    member = world.member(OrgKind.enterprise)
    result = invoke("subsidies", "run", "--start", "2024-01-01", "--end", "2024-12-31", "--as", member.username)
    assert result.exit_code == 1 and "subsidy_role_required" in result.output
    officer = world.bureau(Role.programme_officer)
    result = invoke("subsidies", "run", "--start", "2024-01-01", "--end", "2025-03-31", "--as", officer.username)
    assert result.exit_code == 1 and "period_spans_years" in result.output
    assert runs() == []
    queued = invoke(
        "subsidies", "run", "--start", "2024-01-01", "--end", "2024-12-31", "--queue", "--as", officer.username
    )
    assert queued.exit_code == 0 and "queued for the worker" in queued.output
    (run,) = runs()
    assert run.compute_state == "queued"  # left to the worker, as the API leaves it
    export = invoke("subsidies", "export", str(run.id), "-o", str(tmp_path / "x.xlsx"), "--as", member.username)
    assert export.exit_code == 1
