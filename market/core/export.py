"""The one CSV/XLSX writer: UTF-8 with BOM for Excel, and user text that a spreadsheet never runs as a formula.

OWASP "CSV Injection": a cell that begins with = + - @, a tab or a carriage return can be read as a
formula by Excel, LibreOffice or Sheets. Organisation and project names are user input, so every text
cell beginning with one of those is written as text: in CSV behind a leading apostrophe (the quote
prefix spreadsheets show as nothing), in XLSX as a string cell with the quote-prefix style. Numbers
(Decimal, int) stay numbers: a negative amount is not text.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"


@dataclass
class Sheet:
    title: str
    header: Sequence[str]
    rows: Iterable[Sequence[Any]]


def is_formula_like(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(FORMULA_TRIGGERS)


def csv_cell(value: Any) -> Any:
    """A value as one CSV cell: dates in ISO form, None empty, formula-like text behind an apostrophe."""
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    if is_formula_like(value):
        return "'" + value
    return value


def to_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """UTF-8 with BOM, so Excel opens Chinese text correctly; amounts keep their 2 decimals."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([csv_cell(h) for h in header])
    for row in rows:
        writer.writerow([csv_cell(v) for v in row])
    return (BOM + buf.getvalue()).encode("utf-8")


def _xlsx_cell(ws: Any, value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        cell = WriteOnlyCell(ws, value=value)
        # openpyxl stores a string that starts with "=" as a formula; a string cell is never evaluated,
        # and the quote prefix keeps it text when someone edits the cell in Excel.
        cell.data_type = "s"
        if is_formula_like(value):
            cell.quotePrefix = True
        return cell
    return value


def to_xlsx(sheets: Iterable[Sheet]) -> bytes:
    """One worksheet per sheet; Decimal cells are written as exact numbers."""
    wb = Workbook(write_only=True)
    for sheet in sheets:
        ws = wb.create_sheet(title=sheet.title[:31])
        ws.append([_xlsx_cell(ws, h) for h in sheet.header])
        for row in sheet.rows:
            ws.append([_xlsx_cell(ws, v) for v in row])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
