"""``hub demo``: the main job, end to end, stopping whatever it started."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from hub import naming, topology
from hub.cli.main import settings_of
from hub.kafka_admin import apply_topics
from hub.orgunits import org_units
from hub.settings import HubSettings
from hub.stack import LocalStack

console = Console()

DEFAULT_SEED = 2026


def demo(
    ctx: typer.Context,
    seed: int = typer.Option(DEFAULT_SEED, "--seed", help="Seed of the demo data (same seed, same events)."),
) -> None:
    """Run the main job: Kafka, registry, demo data published by districts, and what landed where."""
    settings = settings_of(ctx)
    t0 = time.monotonic()
    with LocalStack(settings, console) as stack:
        stack.ensure_kafka()
        _apply_topics(settings)
        stack.ensure_registry()
        data = _demo_data(settings, seed)
        _publish(settings, data)
    console.print(f"demo finished in {time.monotonic() - t0:.1f}s")


def _apply_topics(settings: HubSettings) -> None:
    specs = topology.expand(settings, org_units())
    with console.status(f"applying {len(specs)} topics…"):
        report = apply_topics(settings.bootstrap_list, specs)
    console.print(
        f"[green]✓[/] topics: {len(report.created)} created, {len(report.unchanged)} unchanged, "
        f"{len({d.topic for d in report.drifted})} drifted"
    )


def _demo_data(settings: HubSettings, seed: int) -> Path:
    """Generate the demo stream once per seed; later runs reuse the file."""
    from hub import demo_data as dd
    from hub.cli.demo_data import demo_data

    path = settings.data_dir / "demo" / f"events-seed{seed}.jsonl"
    if path.is_file() and Path(dd.sidecar_name(str(path))).is_file():
        console.print(f"[green]✓[/] demo data: reusing {path}")
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    demo_data(out=str(path), seed=seed, year=2026, limit=None, meta=None)
    return path


def _publish(settings: HubSettings, path: Path) -> None:
    from hub.cli.publish import run_publish

    summary = run_publish(settings, str(path), console=console, show_topics=False)
    if summary.aborted:
        raise typer.Exit(1)
    by_district: dict[str, Counter[str]] = {}
    for topic, n in summary.per_topic.items():
        coords = naming.parse_raw_topic(topic)
        by_district.setdefault(coords.district, Counter())[coords.event_type] += n
    table = Table("district", "region", "raw topics", "events", title="published to raw.<region>.<district>.<event>")
    units = org_units()
    for district in sorted(by_district, key=lambda d: (units.districts[d].region, d)):
        counts = by_district[district]
        table.add_row(district, units.districts[district].region, str(len(counts)), f"{sum(counts.values()):,}")
    table.add_row("all", "", str(len(summary.per_topic)), f"{summary.published:,}", style="bold")
    console.print(table)
