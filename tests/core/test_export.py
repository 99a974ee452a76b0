"""The one exporter: formula-like text is written as text (OWASP CSV injection), CSV has the BOM, numbers stay numbers."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from market.accounts.roles import Role
from market.core.export import Sheet, csv_cell, to_csv, to_xlsx
from market.core.vocab import OrgKind
from tests.contracts.payloads import contract_body

EVIL = ['=HYPERLINK("http://x","y")', "+1+1", "-2+3", "@SUM(A1:A2)", "\tTAB", "\rCR", "=cmd|' /C calc'!A0"]


@pytest.mark.parametrize("value", EVIL)
def test_formula_like_text_gets_a_quote_prefix(value):
    assert csv_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["宁波大学", "a=b", "1-2", Decimal("-5.00"), -3, None])
def test_other_cells_are_left_alone(value):
    assert csv_cell(value) == ("" if value is None else value)


def test_csv_has_bom_and_escapes():
    body = to_csv(["名称"], [[v] for v in EVIL] + [[Decimal("-1.50")]])
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))
    assert rows[0] == ["名称"]
    assert [r[0] for r in rows[1:-1]] == ["'" + v for v in EVIL]
    assert rows[-1] == ["-1.50"]


def test_xlsx_writes_formula_like_text_as_text_cells():
    body = to_xlsx([Sheet("表", ["名称", "金额"], [[v, Decimal("-1.50")] for v in EVIL])])
    ws = load_workbook(io.BytesIO(body))["表"]
    for row, value in zip(ws.iter_rows(min_row=2), EVIL, strict=True):
        name, amount = row
        # (XML reads a lone CR back as LF.)
        assert name.value == value.replace("\r", "\n") and name.data_type == "s" and name.quotePrefix  # text
        assert amount.data_type == "n" and amount.value == -1.5


def test_statistics_and_subsidy_exports_escape_user_names(client, world):
    seller = world.member(OrgKind.university, region_code="330205", name='=HYPERLINK("http://evil","点我")')
    buyer = world.member(OrgKind.enterprise, region_code="330212", name="@SUM(1+1)*cmd")
    registrar = world.bureau(Role.registrar)
    body = contract_body(seller.org_id, buyer.org_id, project_name="+cmd|' /C calc'!A0")
    cid = client.post("/api/v1/contracts", json=body, headers=seller.headers).json()["id"]
    assert client.post(f"/api/v1/contracts/{cid}/register", headers=registrar.headers).status_code == 200

    r = client.get("/api/v1/stats/top/seller", params={"format": "csv"}, headers=registrar.headers)
    assert r.status_code == 200 and r.content.startswith(b"\xef\xbb\xbf")
    text = r.content.decode("utf-8-sig")
    assert "'=HYPERLINK" in text and "\n=HYPERLINK" not in text and ",=HYPERLINK" not in text

    r = client.get("/api/v1/stats/top/buyer", params={"format": "xlsx"}, headers=registrar.headers)
    cells = [c for row in load_workbook(io.BytesIO(r.content)).active.iter_rows() for c in row]
    evil = [c for c in cells if isinstance(c.value, str) and c.value.startswith("@SUM")]
    assert evil and all(c.data_type == "s" and c.quotePrefix for c in evil)
    # The seller (not bureau staff) may not export statistics at all.
    assert client.get("/api/v1/stats/top/seller", params={"format": "csv"}, headers=seller.headers).status_code == 403
