"""``hub project run|start|stop|status``: the worker that projects shared events into the read models."""

from __future__ import annotations

import typer

from hub.commandline import instance_option, make_console, settings_of, stopped_line, with_instance
from hub.stream_runner.status import state_line
from hub.zones import ZONES

app = typer.Typer(help="Project the shared events into the read models (SQLite or PostgreSQL).", no_args_is_help=True)
console = make_console()

_ZONE_HELP = f"Zone to project (repeatable): {', '.join(ZONES)}. Default: every zone."
_PROJECTION = "read_models"


@app.command()
def run(
    ctx: typer.Context,
    instance: int | None = instance_option(),
    zone: list[str] = typer.Option([], "--zone", "-z", help=_ZONE_HELP),
    projection: str = typer.Option(_PROJECTION, "--projection", help="Projection to maintain."),
    metrics_port: int | None = typer.Option(
        None, "--metrics-port", help="Serve Prometheus /metrics on this port (0: any free port). Default: off."
    ),
    metrics_host: str = typer.Option("127.0.0.1", "--metrics-host", help="Address the /metrics endpoint binds."),
    batch_size: int = typer.Option(500, "--batch-size", min=1, help="Records per batch (one transaction)."),
    session_timeout: float = typer.Option(10.0, "--session-timeout", min=6.0, help="Consumer group session (s)."),
    log_level: str = typer.Option("info", "--log-level", help="crit, error, warn, info or debug."),
) -> None:
    """Run the projection worker in the foreground until interrupted."""
    # faust and the projections are slow to import; only this command needs them
    from hub.stream_runner.tuning import Tuning
    from projections.worker import WorkerOptions
    from projections.worker import run as run_worker

    options = WorkerOptions(
        projection=projection,
        zones=tuple(zone) or None,
        metrics_port=metrics_port,
        metrics_host=metrics_host,
        tuning=Tuning(batch_size=batch_size, session_timeout_s=session_timeout),
    )
    run_worker(with_instance(settings_of(ctx), instance), options, loglevel=log_level)


@app.command()
def start(
    ctx: typer.Context,
    instance: int | None = instance_option(),
    zone: list[str] = typer.Option([], "--zone", "-z", help=_ZONE_HELP),
    projection: str = typer.Option(_PROJECTION, "--projection", help="Projection to maintain."),
    metrics_port: int | None = typer.Option(None, "--metrics-port", help="Serve /metrics on this port (0: any)."),
    timeout: float = typer.Option(90.0, "--timeout", help="Seconds to wait until it consumes."),
) -> None:
    """Start the worker in the background; return once it consumes. A running one is left as is."""
    from projections import launcher

    with console.status("starting the projection worker…"):
        result = launcher.start(
            with_instance(settings_of(ctx), instance),
            zone or None,
            projection=projection,
            metrics_port=metrics_port,
            timeout_s=timeout,
        )
    verb = "started" if result.started else "already running"
    metrics = f"; metrics at {result.metrics_url}" if result.metrics_url else ""
    console.print(f"projection worker {result.group_id} {verb} (pid {result.pid}){metrics}", highlight=False)


@app.command()
def stop(
    ctx: typer.Context,
    instance: int | None = instance_option(),
    zone: list[str] = typer.Option([], "--zone", "-z", help=_ZONE_HELP),
    projection: str = typer.Option(_PROJECTION, "--projection", help="Projection to maintain."),
) -> None:
    """Stop the worker started from this data directory (SIGTERM, then SIGKILL)."""
    from projections import launcher

    outcome = launcher.stop(with_instance(settings_of(ctx), instance), zone or None, projection=projection)
    console.print(stopped_line("projection worker", outcome))


@app.command()
def status(
    ctx: typer.Context,
    instance: int | None = instance_option(),
    zone: list[str] = typer.Option([], "--zone", "-z", help=_ZONE_HELP),
    projection: str = typer.Option(_PROJECTION, "--projection", help="Projection to maintain."),
) -> None:
    """Say whether the worker runs and what it has done since it started; exit 1 if it does not run."""
    from projections import launcher

    st = launcher.status(with_instance(settings_of(ctx), instance), zone or None, projection=projection)
    console.print(state_line("projection worker", st.group_id, st.pid, st.status), highlight=False)
    if st.pid is None:
        raise typer.Exit(1)
    doc = st.status
    if doc is None:
        return
    stats = doc.stats
    console.print(
        f"since start: {stats.get('records', 0)} records in {stats.get('batches', 0)} batches; "
        f"applied {stats.get('applied', 0)}, skipped {stats.get('skipped', 0)}; "
        f"dead letters {stats.get('dead_letters', {})}; outages waited out {stats.get('retries', 0)}; "
        f"{stats.get('busy_s', 0)}s spent applying",
        highlight=False,
        soft_wrap=True,
    )
    if doc.metrics_url:
        console.print(f"metrics at {doc.metrics_url}", highlight=False)
    if doc.unserved_topics:
        console.print(f"[yellow]shared topics created after start, served after a restart:[/] {doc.unserved_topics}")
