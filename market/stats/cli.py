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
                raise click.ClickException(
                    f"{len(diffs)} rollup rows differ from the ledger; run `market stats-rollup`"
                )
            click.echo("rollup matches the ledger")
            return
        rows = rollup.rebuild(session)
    click.echo(f"stats rollup rebuilt: {rows} rows")


@click.command("stats-report")
@click.option("--year", type=click.IntRange(1990, 2100), required=True)
@click.option("--month", type=click.IntRange(1, 12), required=True)
@click.option("--region", default=None, help="region code or prefix; default the deployment's")
@click.option("--replace", is_flag=True, help="re-produce a report that already exists (late registrations)")
def stats_report(year: int, month: int, region: str | None, replace: bool) -> None:
    """Produce (or with --replace re-produce) the 月度监测 report of any month, e.g. to back-fill."""
    from market.core.db import session_scope
    from market.stats import service

    with session_scope() as session:
        report = service.produce_monthly_report(session, year, month, region, replace=replace)
        click.echo(
            f"report {report.year}-{report.month:02d} region {report.region_prefix}: id {report.id}, "
            f"generated {report.generated_at.isoformat()}"
        )


@click.command("calendar-check")
def calendar_check() -> None:
    """Exit 1 (with what to do) when the working-day calendar lacks a year deadlines may reach (next year from
    15 December); for a deployment's daily checks."""
    from market.contracts import rules
    from market.contracts.service import today
    from market.core import workdays
    from market.core.config import get_settings

    covered = workdays.covered_until(rules.parse_holidays(get_settings().contract_holidays))
    gap = workdays.coverage_gap(today(), covered)
    if gap:
        raise click.ClickException(gap)
    click.echo(f"the working-day calendar covers up to {covered}")


commands: list[click.Command] = [stats_rollup, stats_report, calendar_check]
