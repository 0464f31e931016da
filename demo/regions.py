"""``hub demo`` on the three-jurisdiction topology: each cluster at home, only shared.gba crosses between them.

The job, in order, stopping at the end whatever it started:

1. ``cn``, ``hk`` and ``mo`` start side by side (``hub stack up``): secured brokers, topics, registries;
2. each district publishes its part of the demo data to its home cluster, as itself;
3. each jurisdiction's gateway crosses its own raw events locally;
4. the replicators copy ``shared.gba.*`` between the three, exactly once (six flows);
5. each jurisdiction's projection worker reads its local shared topics and the copies;
6. the gba report is printed from ``hk`` and from ``cn`` and shown equal (``mo``'s too), the mainland
   report from ``cn``, and the source reports' figures are checked; then the transfer records are
   verified on every cluster.

A part already published to a cluster (its cluster id in a marker file) is not published again.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from demo.job import (
    Dashboards,
    build_report,
    console,
    demo_data_file,
    print_reports,
    publish_once,
    start_gateway,
    start_projection,
    wait_crossed,
    wait_projected,
    with_demo_keys,
)
from hub import local_kafka
from hub.errors import ReplicationError
from hub.jurisdictions import Topology, all_cluster_settings, load_topology
from hub.kafka_reader import KafkaReader
from hub.registry import launcher as registry_launcher
from hub.replication import launcher as replicator
from hub.replication.wiring import FlowSetup, setup
from hub.settings import HubSettings
from hub.stack import LocalStack, start_clusters

REPLICATION_TIMEOUT_S = 1800.0


def split_by_home(data: Path, topology: Topology) -> dict[str, Path]:
    """The demo file split into one file per home cluster (``events-seedN.<cluster>.jsonl``), once."""
    parts = {name: data.with_name(f"{data.stem}.{name}.jsonl") for name in topology.names}
    if all(p.is_file() and p.stat().st_mtime >= data.stat().st_mtime for p in parts.values()):
        return parts
    homes = {region: topology.home_of(region) for j in topology.jurisdictions.values() for region in j.regions}
    handles = {name: path.open("w", encoding="utf-8") for name, path in parts.items()}
    try:
        with data.open(encoding="utf-8") as lines:
            for line in lines:
                if line.strip():
                    handles[homes[json.loads(line)["region"]]].write(line)
    finally:
        for handle in handles.values():
            handle.close()
    return parts


def run_regions(base: HubSettings, seed: int, republish: bool, site: Dashboards) -> None:
    topology = load_topology(base)
    clusters = all_cluster_settings(base, topology)
    with LocalStack(base, console) as stack:
        for name, up in start_clusters(clusters, console).items():
            _undo_start(stack, name, clusters[name], kafka=up.kafka.started, registry=up.registry_started)
        data = demo_data_file(base, seed)
        for name, part in split_by_home(data, topology).items():
            console.rule(f"{name}: {topology.get(name).title}")
            publish_once(clusters[name], part, republish, label=f"{name}: ")
        keyed = with_demo_keys(base)
        clusters = {n: s.model_copy(update={"secrets_file": keyed.secrets_file}) for n, s in clusters.items()}
        for settings in clusters.values():
            start_gateway(settings, stack)
        for settings in clusters.values():
            wait_crossed(settings)
        flows = [setup(base, f.source, f.target) for f in topology.flows]
        started = time.monotonic()
        for found in flows:
            _start_flow(base, found, stack)
        _wait_replicated(flows, started)
        for settings in clusters.values():
            start_projection(settings, stack)
        for settings in clusters.values():
            wait_projected(settings)
        _reports(clusters)
        _verify_transfers(base, topology)
        site.finish(base, clusters)


def _undo_start(stack: LocalStack, name: str, cluster: HubSettings, *, kafka: bool, registry: bool) -> None:
    if kafka:
        stack.add_cleanup(f"Kafka of {name}", lambda: local_kafka.stop(cluster))
    if registry:
        stack.add_cleanup(f"schema registry of {name}", lambda: registry_launcher.stop(cluster))


def _start_flow(base: HubSettings, found: FlowSetup, stack: LocalStack) -> None:
    name = found.flow.name
    with console.status(f"starting the replicator {name}…"):
        started = replicator.start(base, found, environ=os.environ)
    if started.started:
        console.print(f"[green]✓[/] replicator {found.flow.source} → {found.flow.target} started (pid {started.pid})")
        stack.add_cleanup(f"replicator {name}", lambda: replicator.stop(found))
    else:
        console.print(f"[green]✓[/] replicator {name} already running (pid {started.pid}); it will be left running")


def _source_ends(found: FlowSetup) -> dict[tuple[str, int], int]:
    """The committed end of every partition the flow copies, read now on its source (as the flow reads it)."""
    with KafkaReader(found.source, client_id="hub-demo", read_committed=True) as reader:
        topics = sorted(t for t in reader.topics() if found.flow.matches(t))
        return reader.end_offsets(reader.partitions(topics))


def _positions(found: FlowSetup) -> dict[tuple[str, int], int]:
    """Where the flow's replicator stands (its status file); a replicator that stopped is an error."""
    current = replicator.status(found)
    if current.pid is None:
        log = replicator.process(found).files.log
        raise ReplicationError(f"the replicator of flow {found.flow.name} is not running: see {log}")
    doc = current.status or {}
    return {(p["topic"], int(p["partition"])): int(p["position"]) for p in doc.get("partitions", [])}


def _wait_replicated(flows: list[FlowSetup], started: float) -> None:
    """Show progress until every flow has copied what its source holds now (``started``: when the first
    replicator was started, monotonic)."""
    ends = {f.flow.name: _source_ends(f) for f in flows}
    total = sum(n for e in ends.values() for n in e.values())
    progress = Progress(
        TextColumn("[bold]replicating"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    )
    t0 = time.monotonic()
    with progress:
        task = progress.add_task("replicating", total=total)
        while True:
            done = 0
            for found in flows:
                positions = _positions(found)
                done += sum(min(positions.get(tp, 0), end) for tp, end in ends[found.flow.name].items())
            progress.update(task, completed=done)
            if done >= total:
                break
            if time.monotonic() - t0 > REPLICATION_TIMEOUT_S:
                raise ReplicationError(f"replication still {total - done:,} records behind after 30 min")
            time.sleep(1.0)
    elapsed = time.monotonic() - started
    console.print(
        f"[green]✓[/] {len(flows)} flows replicated {total:,} shared.gba records in {elapsed:.1f}s "
        f"({total / max(elapsed, 1e-6):,.0f}/s, replicators' start-up included)"
    )


def _reports(clusters: dict[str, HubSettings]) -> None:
    gba = {name: build_report(settings, "gba") for name, settings in clusters.items()}
    print_reports(clusters["hk"], ("gba",), label=" computed in hk")
    print_reports(clusters["cn"], ("gba", "mainland"), label=" computed in cn")
    table = Table("cluster", "gba rows", "identical to hk's", title="the gba report of every jurisdiction")
    for name, report in gba.items():
        table.add_row(name, str(len(report.rows)), "[green]✓[/]" if report == gba["hk"] else "[red]✗[/]")
    console.print(table)
    if any(report != gba["hk"] for report in gba.values()):
        console.print("[red]✗ the gba reports of the jurisdictions differ[/]")
        raise typer.Exit(1)
    console.print(f"[green]✓[/] the gba report is identical, cell for cell, in {', '.join(gba)}")


def _verify_transfers(base: HubSettings, topology: Topology) -> None:
    from hub.transfers.log import verify_cluster

    table = Table("cluster", "flows", "records", "problems", title="hub.transfers: signed, hash-chained")
    failed = False
    for name in topology.names:
        report = verify_cluster(base, topology, name)
        table.add_row(name, str(len(report.flows)), str(report.records), str(len(report.problems)))
        for problem in report.problems:
            console.print(f"[red]✗[/] {name}: {problem}")
        failed |= bool(report.problems)
    console.print(table)
    if failed:
        raise typer.Exit(1)
    console.print("[green]✓[/] every transfer record verifies: chain, signatures and counts against what landed")
