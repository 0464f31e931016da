"""``hub demo``: the main job, end to end, stopping whatever it started."""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import typer
from rich.table import Table

from demo.dashboard import DEFAULT_PORT
from hub import naming, topology
from hub.commandline import make_console, settings_of
from hub.credentials import as_principal, district_logins
from hub.jurisdictions import homed_regions, scope_of
from hub.kafka_admin import apply_topics, cluster_info
from hub.orgunits import org_units
from hub.principals import ADMIN
from hub.settings import HubSettings
from hub.stack import LocalStack
from projections.report import Report

console = make_console()

DEFAULT_SEED = 2026


def demo(
    ctx: typer.Context,
    seed: int = typer.Option(DEFAULT_SEED, "--seed", help="Seed of the demo data (same seed, same events)."),
    republish: bool = typer.Option(
        False, "--republish", help="Publish the demo data again even if an earlier run published it."
    ),
    single_cluster: bool = typer.Option(
        False, "--single-cluster", help="The quick path: one cluster for every jurisdiction, no replication."
    ),
    serve: bool = typer.Option(
        False, "--serve", help="Then serve every jurisdiction's query API and dashboard until Ctrl-C."
    ),
    port: int = typer.Option(
        DEFAULT_PORT, "--port", min=1, max=65535, help="Port of the first dashboard; the others take the next ones."
    ),
) -> None:
    """Run the main job: three jurisdictions' clusters, districts publishing at home, local crossings,
    replication of shared.gba, and the reports of every jurisdiction (``--single-cluster``: one cluster).
    Ends by saying where each jurisdiction's dashboard is; ``--serve`` serves them until Ctrl-C."""
    settings = settings_of(ctx)
    t0 = time.monotonic()
    site = Dashboards(serve=serve, port=port)
    if single_cluster or settings.cluster:
        _single(settings, seed, republish, site)
    else:
        from demo.regions import run_regions

        run_regions(settings, seed, republish, site)
    console.print(f"demo finished in {time.monotonic() - t0:.1f}s")


@dataclass(frozen=True)
class Dashboards:
    """What the demo does with its dashboards at the end: say where they are, or serve them."""

    serve: bool = False
    port: int = DEFAULT_PORT
    host: str = "127.0.0.1"

    def finish(self, base: HubSettings, sites: Mapping[str, HubSettings]) -> None:
        """Issue the analyst token, then serve until Ctrl-C (``--serve``) or print the URLs."""
        from demo import dashboard

        token = dashboard.analyst_token(base, sites)
        console.rule("dashboards")
        if self.serve:
            dashboard.serve(console, sites, token, host=self.host, port=self.port)
        else:
            dashboard.announce(console, sites, token, host=self.host, port=self.port)


def _single(settings: HubSettings, seed: int, republish: bool, site: Dashboards) -> None:
    with LocalStack(settings, console) as stack:
        stack.ensure_kafka()
        admin = as_principal(settings, ADMIN)  # the local logins exist once the broker has started
        _apply_topics(admin)
        stack.ensure_registry()
        data = demo_data_file(settings, seed)
        settings = with_demo_keys(settings)
        # the workers run before the events arrive, as they do in a deployment: the stages overlap
        start_gateway(settings, stack)
        start_projection(settings, stack)
        started = time.monotonic()
        publish_once(settings, data, republish)
        wait_crossed(settings)
        wait_projected(settings)
        console.print(f"[green]✓[/] pipeline: published, crossed and projected in {time.monotonic() - started:.1f}s")
        print_reports(settings, ("gba", "mainland"))
        site.finish(settings, {settings.cluster: settings})


def publish_once(settings: HubSettings, data: Path, republish: bool, *, label: str = "") -> None:
    """Publish ``data`` unless an earlier run published it to this very cluster (its id in a marker file)."""
    admin = as_principal(settings, ADMIN)
    marker = data.with_suffix(".published")  # holds the cluster id it was published to
    cluster = str(cluster_info(admin).get("cluster_id"))
    if marker.is_file() and marker.read_text().strip() == cluster and not republish:
        console.print(
            f"[green]✓[/] {label}demo data already published by an earlier run ({marker.name}); "
            "--republish sends it again (same event_ids: no new facts downstream)"
        )
        return
    _publish(settings, data)
    marker.write_text(cluster + "\n")


def with_demo_keys(settings: HubSettings) -> HubSettings:
    """Agreement keys for the demo: the user's if set, else generated once into <data_dir>/secrets.env."""
    from hub.agreements.keys import demo_secrets_path, write_demo_secrets
    from hub.agreements.loading import agreements_dir, load_agreements

    agreements = load_agreements(agreements_dir(settings.agreements_dir)).values()
    if settings.secrets_file is not None or all(a.key_variable in os.environ for a in agreements):
        return settings
    path = demo_secrets_path(settings.data_dir).resolve()
    written = write_demo_secrets(path, agreements)
    if written:
        console.print(f"[green]✓[/] generated demo agreement keys in {path} (mode 600, git-ignored)")
    return settings.model_copy(update={"secrets_file": path})


def start_gateway(settings: HubSettings, stack: LocalStack) -> None:
    """Start the gateway of the settings' cluster (every region it homes) unless one runs."""
    from hub.gateway import launcher

    where = f" of {settings.cluster}" if settings.cluster else ""
    with console.status(f"starting the gateway{where}…"):
        started = launcher.start(settings, environ=os.environ)
    if started.started:
        console.print(f"[green]✓[/] gateway{where} started (pid {started.pid}, group {started.group_id})")
        stack.add_cleanup(f"gateway{where}", lambda: launcher.stop(settings))
    else:
        console.print(f"[green]✓[/] gateway{where} already running (pid {started.pid}); it will be left running")


def wait_crossed(settings: HubSettings) -> None:
    """Wait until the cluster's gateway has crossed every raw event; print the crossings per zone."""
    from hub.gateway.audit_counts import audit_counts, dead_letter_counts
    from hub.gateway.status import group_id, served_regions

    scope = scope_of(settings)
    raw = [s.name for s in topology.expand(settings, org_units(), scope) if s.kind == "raw"]
    admin = as_principal(settings, ADMIN)
    where = f" in {settings.cluster}" if settings.cluster else ""
    _wait_for_group(admin, group_id(served_regions(None, homed_regions(settings))), raw, f"crossing{where}")
    counts = audit_counts(admin)
    table = Table("zone", "events crossed", title=f"crossings recorded in hub.audit{where} (copies counted once)")
    for zone, n in sorted(counts.per_zone.items()):
        table.add_row(f"shared.{zone}.*", f"{n:,}")
    console.print(table)
    regions = ", ".join(f"{r} {n:,}" for r, n in sorted(counts.per_region.items()))
    console.print(f"distinct crossings {counts.crossings:,} ({regions}); at-least-once copies {counts.copies:,}")
    dead = dead_letter_counts(admin)
    if dead:
        console.print(f"[yellow]dead letters from the gateway{where}:[/] {dict(dead)}")


def start_projection(settings: HubSettings, stack: LocalStack) -> None:
    """Start the projection worker of the settings' cluster (the zones it holds, with their copies)."""
    from projections import launcher as worker

    where = f" of {settings.cluster}" if settings.cluster else ""
    with console.status(f"starting the projection worker{where}…"):
        started = worker.start(settings)
    if started.started:
        console.print(f"[green]✓[/] projection worker{where} started (pid {started.pid}, group {started.group_id})")
        stack.add_cleanup(f"projection worker{where}", lambda: worker.stop(settings))
    else:
        console.print(f"[green]✓[/] projection worker{where} already running (pid {started.pid}); left running")


def wait_projected(settings: HubSettings) -> None:
    """Show progress until the read models hold every shared record the cluster holds now."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from hub.sql import make_engine
    from projections import lag

    where = f" in {settings.cluster}" if settings.cluster else ""
    engine = make_engine(settings.database_url)
    try:
        admin = as_principal(settings, ADMIN)
        first = lag.measure(admin, engine)
        total = max(first.offsets_behind, 1)
        progress = Progress(
            TextColumn(f"[bold]projecting{where}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        )
        t0 = time.monotonic()
        with progress:
            task = progress.add_task("projecting", total=first.offsets_behind)
            current = first
            while not current.caught_up:
                if time.monotonic() - t0 > 1800:
                    raise lag.LagTimeout(f"read models still {current.offsets_behind:,} records behind after 30 min")
                time.sleep(1.0)
                current = lag.measure(admin, engine)
                progress.update(task, completed=first.offsets_behind - current.offsets_behind)
        if first.offsets_behind == 0:
            console.print(f"[green]✓[/] read models{where} caught up (nothing was behind)")
        else:
            rate = total / max(time.monotonic() - t0, 1e-6)
            console.print(
                f"[green]✓[/] read models{where} caught up: {first.offsets_behind:,} shared records applied "
                f"while waiting ({rate:,.0f}/s)"
            )
    finally:
        engine.dispose()


def build_report(settings: HubSettings, zone: str) -> Report:
    """The zone's 2026 report from the settings' read models (suppressed, as published)."""
    from hub.sql import make_engine
    from projections.report_queries import ReportService

    engine = make_engine(settings.database_url)
    try:
        return ReportService(engine, reporting_currency=settings.reporting_currency).report(zone, "2026")
    finally:
        engine.dispose()


def print_reports(settings: HubSettings, zones: tuple[str, ...], *, label: str = "") -> None:
    """Print the year reports of ``zones`` and check them against the source reports' figures."""
    from demo.seed_check import check_report
    from projections.report_render import render

    checks = []
    for zone in zones:
        report = build_report(settings, zone)
        console.rule(f"{zone} report{label}, 2026 (suppressed: counts of people below 5 show as <5)")
        console.print(render(report, "table", 160), end="", highlight=False, markup=False, soft_wrap=True)
        checks += [(zone, c) for c in check_report(report, zone)]
    table = Table("zone", "district", "source figure", "value", "indicator", "projection", "report shows", "")
    for zone, c in checks:
        table.add_row(
            zone,
            c.fact.district,
            c.fact.metric,
            f"{c.fact.value:,}",
            c.indicator,
            "-" if c.value is None else f"{c.value:,}",
            c.shown,
            "[green]✓[/]" if c.ok else "[red]✗[/]",
        )
    console.rule("the source reports' figures, reproduced from the events")
    console.print(table)
    bad = [c for _, c in checks if not c.ok]
    if bad:
        console.print(f"[red]✗ {len(bad)} figure(s) differ from the source reports[/]")
        raise typer.Exit(1)
    console.print(
        f"[green]✓[/] all {len(checks)} checks match the source reports "
        "(a figure shown as <5 or x is withheld from cross-region output; the projection holds it exactly)"
    )


def _wait_for_group(settings: HubSettings, group: str, topics: list[str], what: str, timeout_s: float = 1800) -> None:
    """Show progress until ``group`` has committed the end of ``topics``."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from hub.errors import BrokerError
    from hub.kafka_admin import group_lag

    deadline = time.monotonic() + timeout_s
    progress = Progress(
        TextColumn(f"[bold]{what}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    )
    with progress:
        task = progress.add_task(what, total=None)
        while True:
            lag = group_lag(settings, group, topics)
            progress.update(task, total=lag.total, completed=lag.done)
            if lag.behind == 0:
                return
            if time.monotonic() > deadline:
                raise BrokerError(f"{what}: {lag.behind:,} records still behind after {timeout_s:.0f}s")
            time.sleep(1.0)


def _apply_topics(settings: HubSettings) -> None:
    specs = topology.expand(settings, org_units(), scope_of(settings))
    with console.status(f"applying {len(specs)} topics…"):
        report = apply_topics(settings, specs)
    console.print(
        f"[green]✓[/] topics: {len(report.created)} created, {len(report.unchanged)} unchanged, "
        f"{len({d.topic for d in report.drifted})} drifted"
    )


def demo_data_file(settings: HubSettings, seed: int) -> Path:
    """Generate the demo stream once per seed; later runs reuse the file."""
    from demo.commands import demo_data
    from demo.writers import sidecar_name

    path = settings.data_dir / "demo" / f"events-seed{seed}.jsonl"
    if path.is_file() and Path(sidecar_name(str(path))).is_file():
        console.print(f"[green]✓[/] demo data: reusing {path}")
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    demo_data(out=str(path), seed=seed, year=2026, limit=None, meta=None)
    return path


def _publish(settings: HubSettings, path: Path) -> None:
    from hub.publishing.commands import run_publish

    logins = district_logins(settings)  # each district publishes as itself: the broker keeps it to its own topics
    summary = run_publish(settings, str(path), console=console, show_topics=False, logins=logins)
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
