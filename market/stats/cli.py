"""`market stats-rollup`: rebuild the statistics rollup from the contract ledger, or check it against the ledger."""

from __future__ import annotations

import click


@click.command("stats-rollup")
@click.option("--check", is_flag=True, help="only compare the rollup with the ledger; exit 1 if they differ")
def stats_rollup(check: bool) -> None:
    """Recompute stats_rollup from contract_ledger (ledger writes wait until it is done)."""
    from market.core.db import session_scope
    from market.stats import rollup

    with session_scope() as session:
        if check:
            diffs = rollup.differences(session)
            for d in diffs[:20]:
                click.echo(f"{d.row}: ledger {d.expected} rollup {d.actual}")
            if diffs:
                raise click.ClickException(f"{len(diffs)} rollup rows differ from the ledger; run `market stats-rollup`")
            click.echo("rollup matches the ledger")
            return
        rows = rollup.rebuild(session)
    click.echo(f"stats rollup rebuilt: {rows} rows")


commands: list[click.Command] = [stats_rollup]
