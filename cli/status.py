"""``hub status``: is the broker up, does the registry answer, how far behind are the projections."""

from __future__ import annotations

import typer
from rich.table import Table

from hub.commandline import make_console, settings_of
from hub.errors import BrokerError, HubError, KafkaAuthError
from hub.kafka_admin import cluster_info
from hub.principals import ADMIN
from hub.settings import HubSettings

console = make_console()


def status(
    ctx: typer.Context,
    partitions: bool = typer.Option(False, "--partitions", help="Show the lag of every partition, not only totals."),
) -> None:
    """Broker, schema registry, projection worker and projection lag; exit 1 if the broker or registry is down."""
    from hub.registry.launcher import answers
    from hub.sql import make_engine
    from projections import lag, launcher
    from projections.store import offset_rows
    from projections.tables import PROJECTION_TABLES, SHADOW_SUFFIX

    settings = settings_of(ctx, login=ADMIN)
    healthy = True
    try:
        info = cluster_info(settings, timeout_s=3.0)
        console.print(f"[green]✓[/] Kafka at {settings.bootstrap_servers} (cluster {info.get('cluster_id')})")
    except (BrokerError, KafkaAuthError) as exc:
        healthy = False
        console.print(f"[red]✗[/] Kafka at {settings.bootstrap_servers}: {exc}", highlight=False, soft_wrap=True)
    if answers(settings.schema_registry_url):
        console.print(f"[green]✓[/] schema registry at {settings.schema_registry_url}")
    else:
        healthy = False
        console.print(f"[red]✗[/] schema registry at {settings.schema_registry_url} does not answer")

    engine = make_engine(settings.database_url)
    try:
        projected = sorted({r.projection for r in offset_rows(engine)} - {p + SHADOW_SUFFIX for p in PROJECTION_TABLES})
        for projection in projected or sorted(PROJECTION_TABLES):
            zones = lag.covered_zones(engine, projection)
            worker = launcher.status(settings, zones, projection=projection)
            state = f"running (pid {worker.pid})" if worker.pid else "not running from this data dir"
            console.print(
                f"projection {projection} ({', '.join(zones)}): worker {worker.group_id} {state}",
                highlight=False,
                soft_wrap=True,
            )
            if not healthy:
                continue
            try:
                found = lag.measure(settings, engine, projection, zones=zones)
            except HubError as exc:
                console.print(f"[red]✗[/] lag of {projection}: {exc}", highlight=False, soft_wrap=True)
                continue
            mark = "[green]✓[/]" if found.caught_up else "[yellow]…[/]"
            console.print(
                f"{mark} {projection}: {found.offsets_behind} records behind, "
                f"{found.seconds_behind:.1f}s behind, over {len(found.partitions)} partitions",
                highlight=False,
                soft_wrap=True,
            )
            if partitions:
                table = Table("topic", "partition", "end", "next", "behind", "seconds")
                for p in found.partitions:
                    seconds = f"{p.seconds_behind:.1f}" + ("" if p.exact else " (bound)")
                    table.add_row(
                        p.topic, str(p.partition), str(p.end_offset), str(p.next_offset), str(p.offsets_behind), seconds
                    )
                console.print(table)
    except HubError as exc:
        console.print(f"[red]✗[/] read models at {settings.database_url}: {exc}", highlight=False, soft_wrap=True)
    finally:
        engine.dispose()
    if settings.cluster:
        _replication(settings_of(ctx))  # not logged in: each flow logs in to its own two clusters
    if not healthy:
        raise typer.Exit(1)


def _replication(settings: HubSettings) -> None:
    """The flows that copy into and out of this cluster: running or not, records, throughput and lag."""
    from hub.jurisdictions import load_topology
    from hub.replication import launcher as replicator
    from hub.replication.wiring import setup

    topology = load_topology(settings)
    flows = [*topology.flows_into(settings.cluster), *topology.flows_from(settings.cluster)]
    table = Table(
        "flow", "replicator", "state", "records", "records/s", "lag", title=f"replication of {settings.cluster}"
    )
    for flow in flows:
        found = replicator.status(setup(settings, flow.source, flow.target))
        doc = found.status or {}
        table.add_row(
            f"{flow.source} → {flow.target}",
            f"pid {found.pid}" if found.pid else "not running",
            str(doc.get("state", "-")),
            f"{doc.get('records', 0):,}" if doc else "-",
            str(doc.get("records_per_s", "-")),
            f"{doc.get('lag', 0):,}" if doc else "-",
        )
    console.print(table)
