"""Historical registrations: the audited import (API and CLI), row-level errors, original numbers and dates."""

from __future__ import annotations

import csv
import datetime as dt

import sqlalchemy as sa
from click.testing import CliRunner

from market.accounts.roles import Role
from market.cli import main as cli
from market.contracts.models import Contract
from market.core.audit import AuditEntry
from market.core.db import session_scope
from market.core.vocab import OrgKind
from tests.contracts.history import import_row
from tests.contracts.payloads import contract_body

API = "/api/v1/contracts"


def rows(world, n=2):
    seller = world.member(OrgKind.university, region_code="330205")
    buyer = world.member(OrgKind.enterprise, region_code="330212")
    day = dt.date(2021, 5, 10)
    body = contract_body(
        seller.org_id, buyer.org_id, signing_date="2021-05-01", valid_from="2021-05-01", valid_until="2023-05-01"
    )
    return seller, [import_row(body, day, number=f"20213302000{i:03d}") for i in range(1, n + 1)]


def test_the_bureau_admin_imports_rows_with_their_original_numbers_and_dates(client, world):
    seller, good = rows(world)
    admin = world.bureau(Role.bureau_admin)
    bad = dict(good[0], registration_number="X-1", total_amount="-5", registration_date="2999-01-01")
    r = client.post(
        f"{API}/import",
        json={"rows": [good[0], bad, good[1] | {"registration_number": good[0]["registration_number"]}]},
        headers=admin.headers,
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "import_rows_invalid"
    by_row = {(d["row"], d["code"]) for d in r.json()["error"]["details"]}
    assert {(2, "date_in_future"), (2, "amount_not_positive"), (3, "duplicate_registration_number")} <= by_row
    assert 1 not in {row for row, _ in by_row}
    with session_scope() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Contract)) == 0  # one bad row imports nothing

    r = client.post(f"{API}/import", json={"rows": good}, headers=admin.headers)
    assert r.status_code == 201, r.text
    ids = r.json()["contract_ids"]
    c = client.get(f"{API}/{ids[0]}", headers=seller.headers).json()
    assert (c["status"], c["imported"], c["registration_number"], c["registration_date"]) == (
        "registered",
        True,
        "20213302000001",
        "2021-05-10",
    )
    assert c["filer_org_id"] == seller.org_id  # the seller's own registration, found by its credit code
    with session_scope() as s:
        audited = s.scalars(
            sa.select(AuditEntry.action).where(AuditEntry.entity_type == "contract", AuditEntry.entity_id.in_(ids))
        ).all()
    assert audited == ["import", "import"]
    again = client.post(f"{API}/import", json={"rows": good[:1]}, headers=admin.headers)
    assert again.status_code == 422 and again.json()["error"]["details"][0]["code"] == "duplicate_registration_number"


def test_only_a_bureau_admin_imports(client, world):
    seller, good = rows(world, 1)
    for who in (world.bureau(Role.registrar), world.bureau(Role.programme_officer), seller):
        r = client.post(f"{API}/import", json={"rows": good}, headers=who.headers)
        assert r.status_code == 403, r.text


def test_the_cli_reads_a_spreadsheet_and_reports_bad_rows(world, tmp_path):
    from openpyxl import Workbook

    admin = world.bureau(Role.bureau_admin)
    _, good = rows(world, 2)
    header = sorted({k for r in good for k in r})
    path = tmp_path / "history.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        w = csv.DictWriter(f, header)
        w.writeheader()
        w.writerows([good[0], dict(good[1], contract_type="sale")])
    runner = CliRunner()
    result = runner.invoke(cli, ["contracts", "import", str(path), "--username", admin.username])
    assert result.exit_code == 1 and "row 2" in result.output and "unknown_contract_type" in result.output
    xlsx = tmp_path / "history.xlsx"
    wb = Workbook()
    wb.active.append(header)
    for r in good:
        wb.active.append([r.get(k) for k in header])
    wb.save(xlsx)
    result = runner.invoke(cli, ["contracts", "import", str(xlsx), "--username", admin.username])
    assert result.exit_code == 0, result.output
    assert "imported 2" in result.output
