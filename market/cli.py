"""The `market` command: serve the embedded stack, migrate, create the first admin, load demo data."""

from __future__ import annotations

import importlib
import sys

import click

from market.core.config import get_settings


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
def serve(host: str, port: int, demo: bool, no_worker: bool) -> None:
    """Run the API with everything it needs: SQLite (default), Meilisearch, Redis and a Celery worker."""
    from market.stack import EmbeddedStack

    with EmbeddedStack(start_worker=not no_worker) as stack:
        if demo:
            stack.load_demo()
        stack.serve(host, port)


# Domains contribute their own commands (search: reindex, settings; demo: demo-data).
for module_name in ("search.cli", "market.demo.cli", "market.contracts.cli", "market.stats.cli", "market.subsidies.cli"):
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if not (exc.name and module_name.startswith(exc.name)):
            raise
        continue
    for cmd in getattr(module, "commands", []):
        main.add_command(cmd)


if __name__ == "__main__":
    sys.exit(main())
