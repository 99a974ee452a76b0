"""Render any statistic (a service.Table) as CSV or XLSX."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from typing import Any

from openpyxl import Workbook

from market.stats.service import Table

COLUMN_LABELS = {
    "count": "合同数 (项)",
    "total_amount": "合同成交额 (元)",
    "technical_transaction_amount": "技术交易额 (元)",
    "key": "代码",
    "label": "名称",
    "period": "期间",
}


def _header(table: Table) -> list[str]:
    return [f"{COLUMN_LABELS[c]} {c}" if c in COLUMN_LABELS else c for c in table.columns]


def _cell(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _xlsx_cell(column: str, value: Any) -> Any:
    # Tables read back from a stored report carry amounts as strings; cells should be numbers.
    if isinstance(value, str) and column in ("total_amount", "technical_transaction_amount", "achieved", "target"):
        try:
            return Decimal(value)
        except ArithmeticError:
            return value
    return _cell(value)


def to_csv(table: Table) -> bytes:
    """UTF-8 with BOM, so Excel opens the Chinese headers correctly; amounts keep 2 decimals."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(_header(table))
    for row in table.rows:
        writer.writerow([_cell(row.get(c)) for c in table.columns])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def to_xlsx(table: Table) -> bytes:
    return to_xlsx_many([table])


def to_xlsx_many(tables: list[Table]) -> bytes:
    """One sheet per table (the monthly report)."""
    wb = Workbook(write_only=True)
    for table in tables:
        ws = wb.create_sheet(title=table.title[:31])
        ws.append(_header(table))
        for row in table.rows:
            ws.append([_xlsx_cell(c, row.get(c)) for c in table.columns])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()

