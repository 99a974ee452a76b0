"""Subsidy commands, through the same audited services as the API, acting `--as USERNAME`:

- `market subsidies run --start 2024-01-01 --end 2024-12-31 [--policy CODE]…` — create a run and compute it here with a
  progress bar (or `--queue` it for the worker, as the API does);
- `market subsidies review RUN` / `approve RUN` — the two decisions (four eyes: the reviewer does not approve);
- `market subsidies export RUN --format csv|xlsx -o FILE` — the results as the API exports them.
"""

from __future__ import annotations

import datetime as dt
import sys
import threading
import time
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from market.auth.cli import actor_named, as_user


@click.group("subsidies")
def subsidies() -> None:
    """Subsidy runs (补助核算)."""


def _refused(exc: Exception) -> None:
    from market.core.errors import MarketError

    if not isinstance(exc, MarketError):
        raise exc
    click.echo(f"{exc.code}: {exc.message}", err=True)
    for d in exc.details or []:
        click.echo(f"  {d.get('field')}: {d.get('code')} — {d.get('message')}", err=True)
    sys.exit(1)


@subsidies.command("run")
@click.option("--start", "period_start", required=True, type=click.DateTime(["%Y-%m-%d"]), help="first day, 2024-01-01")
@click.option("--end", "period_end", required=True, type=click.DateTime(["%Y-%m-%d"]), help="last day (same year)")
@click.option("--policy", "policies", multiple=True, help="a policy code (repeat); default every enabled policy")
@click.option("--name", default=None, help="the run's name; default its period")
@click.option("--corrects", "corrects_run_id", type=int, default=None, help="the frozen run this run corrects")
@click.option("--queue", is_flag=True, help="only queue the computation for the worker (as the API does)")
@as_user
def run_command(
    period_start: dt.datetime,
    period_end: dt.datetime,
    policies: tuple[str, ...],
    name: str | None,
    corrects_run_id: int | None,
    queue: bool,
    username: str,
) -> None:
    """Create a draft run over the period and compute it, showing its progress policy by policy."""
    from market.core.db import session_scope
    from market.core.errors import MarketError
    from market.subsidies import service

    try:
        with session_scope() as s:
            run = service.create_run(
                s,
                actor_named(s, username),
                period_start=period_start.date(),
                period_end=period_end.date(),
                policy_codes=list(policies) or None,
                name=name,
                corrects_run_id=corrects_run_id,
            )
            service.enqueue_compute(s, run.id)  # durable, as from the API: a worker computes it if this one stops
            run_id, total = run.id, run.progress_total
    except MarketError as exc:
        _refused(exc)
        return
    click.echo(f"run {run_id} created ({total - 1} policies)")
    if queue:
        click.echo(f"run {run_id} queued for the worker")
        return
    state, error = _compute_with_progress(run_id, total)
    with session_scope(write=False) as s:
        run = service.get_run(s, run_id)
        summary = (
            f"run {run_id} {state}: total {run.total}, to recover {run.to_recover}, {run.contract_count} contracts"
        )
    if state != "computed":
        raise click.ClickException(f"run {run_id} {state}: {error or 'see the worker log'}")
    click.echo(summary)


def _compute_with_progress(run_id: int, total: int) -> tuple[str, str | None]:
    """Compute the queued run in a thread (unless a worker already took it) and follow its stored progress."""
    from market.core.db import session_scope
    from market.subsidies import flows
    from market.subsidies.models import ComputeState, SubsidyRun

    worker = threading.Thread(target=flows.compute_queued, args=("subsidy_run", run_id), daemon=True)
    worker.start()
    columns = (TextColumn("computing run {task.fields[run]}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("compute", total=total, run=run_id)
        while True:
            with session_scope(write=False) as s:
                run = s.get(SubsidyRun, run_id)
                assert run is not None
                state, done, error = run.compute_state, run.progress_done, run.error
            progress.update(task, completed=done)
            if state in (ComputeState.computed, ComputeState.failed):
                progress.update(task, completed=total if state == ComputeState.computed else done)
                return str(state), error
            if not worker.is_alive() and state == ComputeState.queued:
                return str(state), "the run was not computed (no longer a draft waiting for computation)"
            time.sleep(0.2)


def _decide(action: str, run_id: int, username: str) -> None:
    from market.core.db import session_scope
    from market.core.errors import MarketError
    from market.subsidies import service

    try:
        with session_scope() as s:
            run = service.transition(s, actor_named(s, username), run_id, action)
            click.echo(f"run {run.id} {run.status}")
    except MarketError as exc:
        _refused(exc)


@subsidies.command("review")
@click.argument("run_id", type=int)
@as_user
def review_command(run_id: int, username: str) -> None:
    """Mark a computed draft run reviewed (a programme officer or the bureau admin)."""
    _decide("review", run_id, username)


@subsidies.command("approve")
@click.argument("run_id", type=int)
@as_user
def approve_command(run_id: int, username: str) -> None:
    """Approve a reviewed run (the bureau admin; not the one who reviewed it)."""
    _decide("approve", run_id, username)


@subsidies.command("export")
@click.argument("run_id", type=int)
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx"]), default="xlsx", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="default subsidy-run-RUN.FORMAT")
@as_user
def export_command(run_id: int, fmt: str, output: Path | None, username: str) -> None:
    """Write a run's results as the API exports them (汇总 + 明细 in XLSX)."""
    from market.core.db import session_scope
    from market.core.errors import MarketError
    from market.subsidies import service

    target = output or Path(f"subsidy-run-{run_id}.{fmt}")
    try:
        with session_scope(write=False) as s:
            actor = actor_named(s, username)
            body = service.export_csv(s, actor, run_id) if fmt == "csv" else service.export_xlsx(s, actor, run_id)
    except MarketError as exc:
        _refused(exc)
        return
    target.write_bytes(body)
    click.echo(f"run {run_id} exported to {target}")


commands = [subsidies]
