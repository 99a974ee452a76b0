"""The `market` command: serve the embedded stack, migrate, create the first admin, load demo data."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from market.contracts import cli as contracts_cli
from market.core.config import get_settings
from market.demo import cli as demo_cli
from market.matching import cli as search_cli
from market.stats import cli as stats_cli
from market.subsidies import cli as subsidies_cli


@click.group()
def main() -> None:
    """market — 科技大市场 backend."""


@main.command()
def migrate() -> None:
    """Bring the database schema to the latest revision (alembic upgrade head)."""
    from market.core.migrations import upgrade

    upgrade()
    click.echo(f"database at head: {get_settings().sqlalchemy_url.split('@')[-1]}")


@main.command("create-admin")
@click.option("--username", prompt=True, help="login name of the first bureau administrator")
@click.option("--display-name", default="科技局管理员", show_default=True)
@click.password_option(help="asked for on the terminal; never a default")
def create_admin(username: str, display_name: str, password: str) -> None:
    """Create the bureau organisation (once) and a bureau administrator."""
    from market.accounts.service import create_bureau_admin
    from market.core.db import session_scope
    from market.core.errors import MarketError

    try:
        with session_scope() as session:
            user = create_bureau_admin(session, username=username, password=password, display_name=display_name)
            click.echo(f"bureau admin '{user.username}' created (id {user.id})")
    except MarketError as exc:
        raise click.ClickException(exc.message) from None


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--demo", is_flag=True, help="load the demo organisations and listings first")
@click.option("--no-worker", is_flag=True, help="do not start a Celery worker (outbox is drained later)")
@click.option(
    "--workers",
    default=lambda: os.cpu_count() or 1,
    show_default="the machine's cores",
    type=int,
    help="uvicorn worker processes for the API",
)
def serve(host: str, port: int, demo: bool, no_worker: bool, workers: int) -> None:
    """Run the API with everything it needs: SQLite (default), Meilisearch, Redis and a Celery worker."""
    from market.stack import EmbeddedStack, StackAlreadyRunning

    try:
        stack = EmbeddedStack(start_worker=not no_worker).__enter__()
    except StackAlreadyRunning as exc:
        raise click.ClickException(str(exc)) from None
    try:
        if demo:
            stack.load_demo()
        stack.serve(host, port, workers=workers)
    finally:
        stack.close()


# Domains contribute their own commands (search: reindex, settings; demo: demo-data; contracts; stats; subsidies).
for cmd in (
    *search_cli.commands,
    *demo_cli.commands,
    *contracts_cli.commands,
    *stats_cli.commands,
    *subsidies_cli.commands,
):
    main.add_command(cmd)


@main.command("api")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option(
    "--workers",
    default=lambda: os.cpu_count() or 1,
    show_default="the machine's cores",
    type=int,
    help="uvicorn worker processes",
)
def api_command(host: str, port: int, workers: int) -> None:
    """Run the API alone on the configured services (production: the container's command), JSON logs."""
    import uvicorn

    from market.core.logging import uvicorn_log_config

    uvicorn.run(
        "market.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=uvicorn_log_config(),
        access_log=False,
        # a worker importing the app on a busy machine may take longer than uvicorn's 5 s to answer its first
        # health ping; it would be killed and restarted for nothing
        timeout_worker_healthcheck=30,
    )


@main.command("ready")
@click.option("--only", default="", help="comma-separated components (database, meilisearch, redis, worker, index_lag)")
def ready_command(only: str) -> None:
    """Print the readiness checks (as /readyz); exit 1 unless all are ready (container healthchecks)."""
    import json

    from market import probes
    from market.core.health import check

    probes.install()
    result = check({c.strip() for c in only.split(",") if c.strip()} or None)
    click.echo(json.dumps(result, ensure_ascii=False))
    if result["status"] != "ok":
        sys.exit(1)


@main.command("backup")
@click.argument("path", type=click.Path(file_okay=False, path_type=Path))
def backup_command(path: Path) -> None:
    """Back up the database consistently into the new directory PATH (the search index is rebuilt on restore)."""
    from market.core.backup import BackupError, backup

    try:
        manifest = backup(path)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"backup of the {manifest['database']} database written to {path} (revision {manifest['alembic_revision']})"
    )


@main.command("restore")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
@click.option("--no-reindex", is_flag=True, help="restore the database only (run `market search reindex` later)")
@click.option(
    "--allow-id-reuse", is_flag=True, help="SQLite: restore even though ids issued since the backup come again"
)
def restore_command(path: Path, yes: bool, no_reindex: bool, allow_id_reuse: bool) -> None:
    """Replace the whole state with the backup at PATH: database, then a full search reindex. Stop the API first."""
    import json

    from market.core.backup import BackupError, read_manifest, restore
    from market.matching import indexing as search_service
    from market.stack import running_stack

    pid = running_stack(get_settings().data_dir)
    if pid:
        raise click.ClickException(f"`market serve` (pid {pid}) is running on this data directory; stop it first")
    try:
        manifest = read_manifest(path)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    if not yes:
        click.confirm(f"Replace the database with the backup of {manifest['created_at']}?", abort=True)
    try:
        result = restore(path, allow_id_reuse=allow_id_reuse)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(result, ensure_ascii=False))
    if no_reindex:
        click.echo("search index NOT rebuilt: run `market search reindex` before serving")
        return
    try:
        # Rebuild the search indexes from the restored database (documents it no longer has disappear).
        search_service.apply_index_settings()
        click.echo(json.dumps({"reindexed": search_service.reindex()}, ensure_ascii=False))
    except Exception as exc:  # noqa: BLE001 - the database is restored; say what is left to do
        raise click.ClickException(
            f"database restored, but the search reindex failed ({type(exc).__name__}: {exc}); "
            "run `market search reindex` once Meilisearch is reachable"
        ) from None


if __name__ == "__main__":
    sys.exit(main())
