"""``hub gateway run|start|stop|status|counts``: the gateway that carries raw events across the boundary."""

from __future__ import annotations

import os

import typer
from rich.table import Table

from hub.commandline import instance_option, make_console, settings_of, stopped_line, with_instance
from hub.gateway import launcher
from hub.orgunits import REGIONS
from hub.stream_runner.status import state_line

app = typer.Typer(help="Carry raw district events across the boundary into the shared zones.", no_args_is_help=True)
console = make_console()

_REGION_HELP = f"Region to serve (repeatable): {', '.join(REGIONS)}. Default: all five."


@app.command()
def run(
    ctx: typer.Context,
    instance: int | None = instance_option(),
    region: list[str] = typer.Option([], "--region", "-r", help=_REGION_HELP),
    log_level: str = typer.Option(
        "info", "--log-level", help="crit, error, warn, info or debug (debug: a line per batch)."
    ),
    library_log_level: str = typer.Option("warn", "--library-log-level", help="Level of faust and the Kafka clients."),
) -> None:
    """Run the gateway in the foreground until interrupted."""
    from hub.gateway.worker import run as run_gateway  # faust is slow to import; only this command needs it

    run_gateway(
        with_instance(settings_of(ctx), instance),
        region or None,
        os.environ,
        loglevel=log_level,
        library_loglevel=library_log_level,
    )


@app.command()
def start(
    ctx: typer.Context,
    instance: int | None = instance_option(),
    region: list[str] = typer.Option([], "--region", "-r", help=_REGION_HELP),
    timeout: float = typer.Option(launcher.START_TIMEOUT_S, "--timeout", help="Seconds to wait until it consumes."),
) -> None:
    """Start the gateway in the background; return once it consumes. A running one is left as is."""
    settings = with_instance(settings_of(ctx), instance)
    with console.status("starting the gateway…"):
        result = launcher.start(settings, region or None, environ=os.environ, timeout_s=timeout)
    verb = "started" if result.started else "already running"
    console.print(f"gateway {result.group_id} {verb} (pid {result.pid})")


@app.command()
def stop(
    ctx: typer.Context,
    region: list[str] = typer.Option([], "--region", "-r", help=_REGION_HELP),
    instance: int | None = instance_option(),
) -> None:
    """Stop the gateway started from this data directory (SIGTERM, then SIGKILL)."""
    outcome = launcher.stop(with_instance(settings_of(ctx), instance), region or None)
    console.print(stopped_line("gateway", outcome))


@app.command()
def status(
    ctx: typer.Context,
    region: list[str] = typer.Option([], "--region", "-r", help=_REGION_HELP),
    instance: int | None = instance_option(),
) -> None:
    """Say whether the gateway runs and what it has done since it started; exit 1 if it does not run."""
    st = launcher.status(with_instance(settings_of(ctx), instance), region or None)
    console.print(state_line("gateway", st.group_id, st.pid, st.status), highlight=False)
    if st.pid is None:
        raise typer.Exit(1)
    doc = st.status
    if doc is None:
        return
    stats = doc.stats
    console.print(
        f"since start: {stats.get('events', 0)} events; crossed {stats.get('crossed', {})}; "
        f"withheld {stats.get('withheld', 0)}; dead letters {stats.get('dead_letters', {})}",
        highlight=False,
    )
    if doc.unserved_topics:
        console.print(f"[yellow]raw topics created after start, served after a restart:[/] {doc.unserved_topics}")


@app.command()
def counts(ctx: typer.Context) -> None:
    """How many events crossed into each zone, from hub.audit (each crossing counted once)."""
    from hub.gateway.audit_counts import audit_counts, dead_letter_counts

    settings = settings_of(ctx)
    found = audit_counts(settings)
    table = Table("zone", "events crossed")
    for zone, n in sorted(found.per_zone.items()):
        table.add_row(zone, str(n))
    console.print(table)
    by_region = ", ".join(f"{r}={n}" for r, n in sorted(found.per_region.items())) or "none"
    console.print(f"{found.crossings} crossings ({by_region}); {found.withheld} withheld; {found.copies} re-deliveries")
    dead = dead_letter_counts(settings)
    console.print(f"dead letters: {dict(sorted(dead.items())) or 0}", highlight=False)
