"""``hub stack up|down|status``: every jurisdiction's cluster of the topology on this machine.

Each cluster (``cn``, ``hk``, ``mo``) is its own secured KRaft broker with its
own data folder (``$HUB_DATA_DIR/clusters/<name>``), ports, logins, ACLs and
schema registry; ``up`` starts them in parallel and applies each one's topic
layout. What runs is left running: ``down`` stops it.
"""

from __future__ import annotations

import typer
from rich.table import Table

from hub import local_kafka
from hub.commandline import make_console, settings_of, stopped_line
from hub.jurisdictions import all_cluster_settings, load_topology
from hub.registry import launcher
from hub.settings import HubSettings
from hub.stack import start_clusters, stop_clusters

app = typer.Typer(help="Run every jurisdiction's cluster of the topology locally.", no_args_is_help=True)
console = make_console()


def _clusters(ctx: typer.Context, only: list[str] | None) -> dict[str, HubSettings]:
    base = settings_of(ctx)
    topo = load_topology(base)
    clusters = all_cluster_settings(base, topo)
    for name in only or []:
        topo.get(name)  # an unknown name is a one-line error naming the known ones
    return {n: s for n, s in clusters.items() if not only or n in only}


ONLY = typer.Option(None, "--cluster", help="Only this cluster (repeatable); default: every cluster.")


@app.command()
def up(ctx: typer.Context, only: list[str] | None = ONLY) -> None:
    """Start the clusters (formatting each on first run), their topics and registries."""
    clusters = _clusters(ctx, only)
    start_clusters(clusters, console)
    console.print("replication: `hub replicate start --from SOURCE --to TARGET` per flow (`hub replicate status`)")


@app.command()
def down(ctx: typer.Context, only: list[str] | None = ONLY) -> None:
    """Stop each cluster's registry and broker."""
    for name, (registry, kafka) in stop_clusters(_clusters(ctx, only)).items():
        console.print(f"{name}: {stopped_line('registry', registry)}; {stopped_line('Kafka', kafka)}")


@app.command()
def status(ctx: typer.Context, only: list[str] | None = ONLY) -> None:
    """One line per cluster: its broker and registry; exit 1 if any does not answer."""
    table = Table("cluster", "Kafka", "registry", "data")
    healthy = True
    for name, settings in _clusters(ctx, only).items():
        kafka = local_kafka.status(settings)
        registry = launcher.status(settings)
        healthy &= kafka.answering and registry.answering
        table.add_row(
            name,
            f"{'[green]up[/]' if kafka.answering else '[red]down[/]'} {kafka.bootstrap}",
            f"{'[green]up[/]' if registry.answering else '[red]down[/]'} {registry.url}",
            str(settings.data_dir),
        )
    console.print(table)
    if not healthy:
        raise typer.Exit(1)
