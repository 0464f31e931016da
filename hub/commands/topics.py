"""``hub topics list|apply``: the declared topic layout."""

from __future__ import annotations

import typer
from rich.table import Table

from hub import topology
from hub.commandline import make_console, settings_of
from hub.jurisdictions import scope_of
from hub.kafka_admin import apply_topics
from hub.orgunits import org_units
from hub.principals import ADMIN

app = typer.Typer(help="Declare and apply the topic layout.", no_args_is_help=True)
console = make_console()


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """Show the topic families the hub declares."""
    settings = settings_of(ctx)
    scope = scope_of(settings)
    table = Table("pattern", "partitions", "config", "content")
    for fam in topology.families(settings, scope):
        table.add_row(
            fam.pattern, str(fam.partitions), ", ".join(f"{k}={v}" for k, v in fam.config.items()), fam.description
        )
    console.print(table)
    where = f" on cluster {settings.cluster}" if settings.cluster else ""
    console.print(f"{len(topology.expand(settings, org_units(), scope))} concrete topics{where}")


@app.command()
def apply(
    ctx: typer.Context,
    fail_on_drift: bool = typer.Option(False, "--fail-on-drift", help="Exit 2 if an existing topic differs."),
) -> None:
    """Create missing topics and report drifted ones. Safe to run any number of times."""
    settings = settings_of(ctx, login=ADMIN)
    specs = topology.expand(settings, org_units(), scope_of(settings))
    with console.status(f"applying {len(specs)} topics to {settings.bootstrap_servers}…"):
        report = apply_topics(settings, specs, timeout_s=max(30.0, settings.request_timeout_s))
    console.print(
        f"topics: {len(report.created)} created, {len(report.unchanged)} unchanged, "
        f"{len({d.topic for d in report.drifted})} drifted"
    )
    for d in report.drifted:
        console.print(f"  [yellow]drift[/] {d}")
    if report.drifted and fail_on_drift:
        raise typer.Exit(2)
