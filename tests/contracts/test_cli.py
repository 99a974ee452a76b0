"""`market contracts file --from FILE` and `register`: the API's services, acting --as a user, audited as theirs."""

from __future__ import annotations

import json

import sqlalchemy as sa
from click.testing import CliRunner

from market.accounts.roles import Role
from market.cli import main as cli
from market.contracts.models import Contract
from market.core.audit import AuditEntry
from market.core.db import session_scope
from market.core.vocab import OrgKind
from tests.contracts.payloads import contract_body


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


def audited(contract_ids: list[int]) -> list[tuple[int, str, int | None]]:
    with session_scope() as s:
        rows = s.execute(
            sa.select(AuditEntry.entity_id, AuditEntry.action, AuditEntry.actor_user_id)
            .where(AuditEntry.entity_type == "contract", AuditEntry.entity_id.in_(contract_ids))
            .order_by(AuditEntry.id)
        ).all()
    return [tuple(r) for r in rows]


def statuses() -> dict[int, str]:
    with session_scope() as s:
        return dict(s.execute(sa.select(Contract.id, Contract.status)).all())


def test_a_seller_files_a_file_of_contracts_and_a_registrar_registers_them(client, world, tmp_path):
    seller = world.member(OrgKind.university, region_code="330205")
    buyer = world.member(OrgKind.enterprise, region_code="330212")
    registrar = world.bureau(Role.registrar)
    bodies = [
        contract_body(seller.org_id, buyer.org_id),
        contract_body(
            seller.org_id,
            buyer.org_id,
            project_name="第二份合同",
            total_amount="1200000.50",
            technical_transaction_amount="1000000.50",
        ),
    ]
    source = tmp_path / "contracts.json"
    source.write_text(json.dumps(bodies, ensure_ascii=False), encoding="utf-8")

    result = invoke("contracts", "file", "--from", str(source), "--as", seller.username)
    assert result.exit_code == 0, result.output
    ids = sorted(statuses())
    assert len(ids) == 2 and set(statuses().values()) == {"submitted"}
    # the same contracts the API shows the seller, money exact, and the filing audited as the seller's
    second = client.get(f"/api/v1/contracts/{ids[1]}", headers=seller.headers).json()
    assert (second["project_name"], second["total_amount"]) == ("第二份合同", "1200000.50")
    assert {(cid, a, u) for cid, a, u in audited(ids)} == {
        (cid, action, seller.user_id) for cid in ids for action in ("create", "submit")
    }

    again = invoke("contracts", "file", "--from", str(source), "--as", seller.username)
    assert again.exit_code == 0 and again.output.count("(filed before)") == 2
    assert sorted(statuses()) == ids  # filing the file again files nothing twice

    id_file = tmp_path / "ids.txt"
    id_file.write_text(f"# today's decisions\n{ids[0]}\n\n{ids[1]}  # the second\n", encoding="utf-8")
    result = invoke("contracts", "register", "--from", str(id_file), "--as", registrar.username)
    assert result.exit_code == 0, result.output
    assert set(statuses().values()) == {"registered"}
    registered = [entry for entry in audited(ids) if entry[1] == "register"]
    assert sorted((cid, user) for cid, _, user in registered) == [
        (ids[0], registrar.user_id),
        (ids[1], registrar.user_id),
    ]
    assert client.get(f"/api/v1/contracts/{ids[0]}", headers=seller.headers).json()["registration_number"] in (
        result.output
    )


def test_refusals_are_the_apis_codes_and_change_nothing(world, tmp_path):
    seller = world.member(OrgKind.university, region_code="330205")
    buyer = world.member(OrgKind.enterprise, region_code="330212")
    officer = world.bureau(Role.programme_officer)
    source = tmp_path / "one.json"
    source.write_text(json.dumps(contract_body(seller.org_id, buyer.org_id)), encoding="utf-8")

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([contract_body(seller.org_id, buyer.org_id, contract_type="sale")]), encoding="utf-8")
    result = invoke("contracts", "file", "--from", str(bad), "--as", seller.username)
    assert result.exit_code == 1 and "unknown_contract_type" in result.output
    assert statuses() == {}

    result = invoke("contracts", "file", "--from", str(source), "--as", "nobody")
    assert result.exit_code != 0 and "no user 'nobody'" in result.output
    assert statuses() == {}

    assert invoke("contracts", "file", "--from", str(source), "--as", seller.username).exit_code == 0
    (cid,) = statuses()
    # registering is for registrars: the seller and a programme officer are refused, as through the API
    for who in (seller, officer):
        result = invoke("contracts", "register", str(cid), "--as", who.username)
        assert result.exit_code == 1 and "role_required" in result.output, result.output
    assert statuses() == {cid: "submitted"}
    assert invoke("contracts", "register", "--as", seller.username).exit_code == 2  # no ids: a usage error
