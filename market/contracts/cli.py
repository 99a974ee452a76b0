"""Contract commands: `market contracts import FILE.xlsx|csv` — historical registrations through the audited import."""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Any

import click


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a CSV (UTF-8, BOM allowed) or the first sheet of an XLSX; the header row names ImportRow's fields."""
    if path.suffix.lower() == ".xlsx":
        from openpyxl import load_workbook

        book = load_workbook(path, read_only=True, data_only=True)
        try:
            values = list(book.worksheets[0].iter_rows(values_only=True))
        finally:
            book.close()  # read-only workbooks keep the file open until closed
        header = [str(h).strip() if h is not None else "" for h in values[0]] if values else []
        rows = [dict(zip(header, r, strict=False)) for r in values[1:] if any(v not in (None, "") for v in r)]
    else:
        with path.open(encoding="utf-8-sig", newline="") as f:
            rows = [r for r in csv.DictReader(f) if any((v or "").strip() for v in r.values())]
    # Empty cells mean "not given"; numbers from a spreadsheet arrive as text so no float touches money.
    return [
        {
            k: (str(v) if not isinstance(v, str) and v is not None and not hasattr(v, "isoformat") else v)
            for k, v in r.items()
            if k and v not in (None, "")
        }
        for r in rows
    ]


@click.group("contracts")
def contracts() -> None:
    """Technology contracts (技术合同)."""


@contracts.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--username", required=True, help="the bureau admin the import is recorded under")
def import_file(file: Path, username: str) -> None:
    """Import historical registrations (original numbers and dates); nothing is imported if any row is bad."""
    import sqlalchemy as sa

    from market.accounts.models import User
    from market.accounts.service import actor_for_user
    from market.contracts import service
    from market.core.db import session_scope
    from market.core.errors import MarketError

    rows = read_rows(file)
    try:
        with session_scope() as s:
            user = s.scalar(sa.select(User).where(User.username == username))
            if user is None:
                raise click.ClickException(f"no user {username!r}")
            imported = service.import_rows(s, actor_for_user(s, user), rows)
            click.echo(f"imported {len(imported)} historical registrations from {file.name}")
    except MarketError as exc:
        click.echo(f"{exc.code}: {exc.message}", err=True)
        for d in exc.details or []:
            click.echo(f"  row {d.get('row', '?')}: {d.get('field')}: {d.get('code')} — {d.get('message')}", err=True)
        sys.exit(1)


commands = [contracts]
