"""``hub projections rebuild|wait``: rebuild a projection without downtime; wait until it has caught up."""

from __future__ import annotations

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from hub.commandline import make_console, settings_of
from hub.principals import projection_principal
from hub.zones import ZONES

app = typer.Typer(help="Maintain the read-model projections.", no_args_is_help=True)
console = make_console()

_ZONE_HELP = f"Zone to replay (repeatable): {', '.join(ZONES)}. Default: the zones the projection already covers."


@app.command()
def rebuild(
    ctx: typer.Context,
    name: str = typer.Argument("read_models", help="Projection to rebuild."),
    zone: list[str] = typer.Option([], "--zone", "-z", help=_ZONE_HELP),
    batch_size: int = typer.Option(500, "--batch-size", min=1, help="Records per transaction."),
) -> None:
    """Replay the shared topics from offset 0 into shadow tables, then swap them in atomically.

    The live tables keep answering queries meanwhile, and a running worker may keep writing them.
    """
    from hub.jurisdictions import held_zones
    from hub.sql import make_engine
    from projections.rebuild import Progress as RebuildProgress
    from projections.rebuild import rebuild as run_rebuild
    from projections.status import served_zones

    held = held_zones(settings_of(ctx))
    settings = settings_of(ctx, login=projection_principal(served_zones(zone or None, held)))
    zones = served_zones(zone, held) if zone else None
    engine = make_engine(settings.database_url)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:>8.0f} events/s"),
        TimeElapsedColumn(),
    )
    try:
        with Progress(*columns, console=console, transient=False) as bar:
            task = bar.add_task(f"rebuilding {name}", total=None, rate=0.0)

            def show(p: RebuildProgress) -> None:
                bar.update(
                    task,
                    description=f"{name}: {p.phase}",
                    completed=p.done,
                    total=max(p.total, 1),
                    rate=p.events_per_s,
                )

            result = run_rebuild(settings, engine, name, zones=zones, batch_size=batch_size, on_progress=show)
    finally:
        engine.dispose()
    dead = dict(sorted(result.dead.items())) or 0
    console.print(
        f"rebuilt {result.projection} ({', '.join(result.zones)}) from {result.records} records of "
        f"{len(result.topics)} topics in {result.seconds:.1f}s: {result.events_per_s:.0f} events/s; "
        f"swapped in after {result.swap_attempts} attempt(s); dead letters: {dead}",
        highlight=False,
        soft_wrap=True,
    )


@app.command()
def wait(
    ctx: typer.Context,
    name: str = typer.Argument("read_models", help="Projection to wait for."),
    zone: list[str] = typer.Option([], "--zone", "-z", help="Zone whose topics to wait for. Default: every zone."),
    timeout: float = typer.Option(60.0, "--timeout", help="Seconds to wait before failing."),
) -> None:
    """Wait until the projection has applied everything its shared topics hold now (exit 1 on timeout)."""
    from hub.jurisdictions import held_zones
    from hub.sql import make_engine
    from projections.lag import wait_caught_up
    from projections.status import served_zones

    settings = settings_of(ctx, login=projection_principal(served_zones(zone or None, held_zones(settings_of(ctx)))))
    engine = make_engine(settings.database_url)
    try:
        with console.status(f"waiting for {name} to catch up…"):
            reached = wait_caught_up(settings, engine, name, zones=zone or None, timeout_s=timeout)
    finally:
        engine.dispose()
    console.print(
        f"{name} has caught up ({sum(reached.values())} records over {len(reached)} partitions)", soft_wrap=True
    )
