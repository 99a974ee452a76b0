"""Render any statistic (a service.Table) as CSV or XLSX, through the project's one exporter."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from market.core import export as core_export
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


def _xlsx_cell(column: str, value: Any) -> Any:
    # Tables read back from a stored report carry amounts as strings; cells should be numbers.
    if isinstance(value, str) and column in ("total_amount", "technical_transaction_amount", "achieved", "target"):
        try:
            return Decimal(value)
        except ArithmeticError:
            return value
    return value


def to_csv(table: Table) -> bytes:
    """UTF-8 with BOM, so Excel opens the Chinese headers correctly; amounts keep 2 decimals."""
    return core_export.to_csv(_header(table), ([row.get(c) for c in table.columns] for row in table.rows))


def to_xlsx(table: Table) -> bytes:
    return to_xlsx_many([table])


def to_xlsx_many(tables: list[Table]) -> bytes:
    """One sheet per table (the monthly report)."""
    return core_export.to_xlsx(
        core_export.Sheet(t.title, _header(t), ([_xlsx_cell(c, row.get(c)) for c in t.columns] for row in t.rows))
        for t in tables
    )
