"""The `demo-data` command: load the demo organisations and listings."""

from __future__ import annotations

import click


@click.command("demo-data")
@click.option("--listings", default=320, show_default=True, type=click.IntRange(1, 500), help="how many listings")
def demo_data(listings: int) -> None:
    """Load demo organisations (verified, admins without passwords) and listings; once.

    Demo accounts cannot log in. Create the first usable account with `market create-admin`.
    """
    from market.core.db import session_scope
    from market.demo import load_demo

    with session_scope() as session:
        counts = load_demo(session, listings=listings)
    if counts["skipped"]:
        click.echo(f"demo data not loaded: {counts['reason']}")
        return
    click.echo(", ".join(f"{k}: {v}" for k, v in counts.items() if k != "skipped"))


commands: list[click.Command] = [demo_data]
