"""``hub report``: a zone's report for a period, refreshing the indicators first if they are behind.

The command reads the read models (a database at the newest revision, see
:func:`projections.commands.db.read_model_engine`) and prints the report of
:mod:`projections.report` as :mod:`projections.report_render` writes it.
"""

from __future__ import annotations

import typer

from hub.commandline import make_console, settings_of
from hub.jurisdictions import held_zones
from hub.zones import ZONES
from projections.commands.db import read_model_engine

console = make_console()
err_console = make_console(stderr=True)


def report(
    ctx: typer.Context,
    zone: str = typer.Option(..., "--zone", help="gba or mainland."),
    period: str = typer.Option(..., "--period", help="2026, 2026-Q1 or 2026-03 (Asia/Shanghai)."),
    fmt: str = typer.Option("table", "--format", help="table, csv or json."),
    region: str | None = typer.Option(None, "--region", help="Only this region (e.g. GD)."),
    district: str | None = typer.Option(None, "--district", help="Only this district (e.g. shenzhen-nanshan)."),
    threshold: int = typer.Option(5, "--threshold", min=1, help="Counts below it are suppressed (<5)."),
    unsuppressed: bool = typer.Option(
        False, "--unsuppressed", help="Operator view: no suppression. Never publish it across regions."
    ),
    width: int = typer.Option(160, "--width", min=60, help="Width of the table format."),
) -> None:
    """Print the report of a zone for a period, refreshing the indicators first if they are behind."""
    from projections.report_queries import ReportService
    from projections.report_render import FORMATS, render
    from projections.suppression import Policy

    if fmt not in FORMATS:
        raise typer.BadParameter(f"expected one of {', '.join(FORMATS)}, got {fmt!r}", param_hint="--format")
    settings = settings_of(ctx)
    engine = read_model_engine(settings)
    try:
        service = ReportService(
            engine,
            reporting_currency=settings.reporting_currency,
            policy=Policy(threshold=threshold),
            held_zones=held_zones(settings) or ZONES,
            cluster=settings.cluster,
        )
        built = service.report(zone, period, region=region, district=district, suppressed=not unsuppressed)
    finally:
        engine.dispose()
    text = render(built, fmt, width)  # type: ignore[arg-type]  # checked against FORMATS above
    if unsuppressed:
        err_console.print("[yellow]warning:[/] unsuppressed report: small counts are shown", highlight=False)
    if fmt == "table":
        console.print(text, end="", highlight=False, markup=False, soft_wrap=True)
    else:
        typer.echo(text, nl=False)


__all__ = ["report"]
