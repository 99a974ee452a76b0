"""Contract commands, through the same audited services as the API, acting `--as USERNAME`:

- `market contracts file --from FILE.json` — file contracts (a ContractIn body, or a list of them);
- `market contracts register ID… [--from FILE]` — 认定登记 by a registrar;
- `market contracts import FILE.xlsx|csv` — historical registrations through the audited import.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import click
from rich.progress import track

from market.auth.cli import actor_named, as_user


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
@click.option("--username", "--as", "username", required=True, help="the bureau admin the import is recorded under")
def import_file(file: Path, username: str) -> None:
    """Import historical registrations (original numbers and dates); nothing is imported if any row is bad."""
    from market.contracts import service
    from market.core.db import session_scope
    from market.core.errors import MarketError

    rows = read_rows(file)
    try:
        with session_scope() as s:
            imported = service.import_rows(s, actor_named(s, username), rows)
            click.echo(f"imported {len(imported)} historical registrations from {file.name}")
    except MarketError as exc:
        click.echo(f"{exc.code}: {exc.message}", err=True)
        for d in exc.details or []:
            click.echo(f"  row {d.get('row', '?')}: {d.get('field')}: {d.get('code')} — {d.get('message')}", err=True)
        sys.exit(1)


def _each(items: list[Any], label: str, act: Callable[[Any], str]) -> int:
    """Run `act` on every item in its own unit of work (as one API request each), with a progress bar.

    Prints one line per item: what was done, or the refusal's code and message. Returns how many were refused.
    """
    from pydantic import ValidationError

    from market.core.errors import MarketError

    refused = 0
    for n, item in enumerate(track(items, description=label, console=_console(), transient=True), start=1):
        try:
            click.echo(f"{n}: {act(item)}")
        except MarketError as exc:
            refused += 1
            click.echo(f"{n}: {exc.code}: {exc.message}", err=True)
            for d in exc.details or []:
                click.echo(f"  {d.get('field')}: {d.get('code')} — {d.get('message')}", err=True)
        except ValidationError as exc:
            refused += 1
            for e in exc.errors():
                where = ".".join(str(x) for x in e["loc"])
                click.echo(f"{n}: validation_failed: {where}: {e['msg']}", err=True)
    return refused


def _console() -> Any:
    from rich.console import Console

    return Console(stderr=True)  # the bar on stderr: stdout keeps one line per item, for scripts


@contracts.command("file")
@click.option(
    "--from",
    "source",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="a JSON file: one contract as POST /api/v1/contracts takes it, or a list of them",
)
@click.option("--draft", is_flag=True, help="keep them as drafts instead of filing them")
@as_user
def file_command(source: Path, draft: bool, username: str) -> None:
    """File contracts for registration (the seller, or for a technology import the domestic buyer).

    Each contract is filed in its own unit of work, as one API request. Filing the same file again files nothing
    twice: each contract carries an idempotency key made from its content.
    """
    from market.contracts import service
    from market.contracts.schemas import ContractIn
    from market.core.db import session_scope

    loaded = json.loads(source.read_text(encoding="utf-8-sig"), parse_float=Decimal)  # no float touches money
    bodies = loaded if isinstance(loaded, list) else [loaded]

    def file_one(body: Any) -> str:
        data = ContractIn.model_validate({**body, "submit": not draft} if isinstance(body, dict) else body)
        with session_scope() as s:
            contract, created = service.file_contract(
                s, actor_named(s, username), data, idempotency_key=f"cli-{service.request_hash(data)[:40]}"
            )
            return f"contract {contract.id} {contract.status}" + ("" if created else " (filed before)")

    if _each(bodies, "filing", file_one):
        sys.exit(1)


def _ids(values: tuple[int, ...], source: Path | None) -> list[int]:
    ids = list(values)
    if source is not None:
        for line in source.read_text(encoding="utf-8").splitlines():
            text = line.split("#", 1)[0].strip()
            if text:
                if not text.isdigit():
                    raise click.BadParameter(f"not a contract id: {text!r}", param_hint="--from")
                ids.append(int(text))
    if not ids:
        raise click.UsageError("name the contracts: IDS or --from FILE")
    return ids


@contracts.command("register")
@click.argument("ids", nargs=-1, type=int)
@click.option(
    "--from",
    "source",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="a file of contract ids, one a line (# starts a comment)",
)
@as_user
def register_command(ids: tuple[int, ...], source: Path | None, username: str) -> None:
    """认定登记: register filed contracts (a registrar; four eyes: not one the registrar filed or edited)."""
    from market.contracts import service
    from market.core.db import session_scope

    def register_one(contract_id: int) -> str:
        with session_scope() as s:
            contract = service.register(s, actor_named(s, username), contract_id)
            return f"contract {contract.id} registered as {contract.registration_number}"

    if _each(_ids(ids, source), "registering", register_one):
        sys.exit(1)


commands = [contracts]
