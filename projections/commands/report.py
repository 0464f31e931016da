"""``hub report`` (a zone's report for a period) and ``hub api serve`` (the query API)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from hub.commandline import make_console, settings_of
from hub.errors import ConfigError
from hub.settings import HubSettings

if TYPE_CHECKING:
    from sqlalchemy import Engine

api_app = typer.Typer(help="The query API (reports, indicators, projection status).", no_args_is_help=True)
console = make_console()
err_console = make_console(stderr=True)

DEFAULT_API_PORT = 8090


def _engine(settings: HubSettings) -> Engine:
    # Imported lazily: the hub's core never imports projections at module level.
    from hub.sql import make_engine
    from projections import migrations

    engine = make_engine(settings.database_url)
    at, newest = migrations.current(engine), migrations.head()
    if at != newest:
        engine.dispose()
        raise ConfigError(
            f"HUB_DATABASE_URL: the read-model database is at revision {at or 'none'}, not {newest}; "
            "run `hub db upgrade` (or start the projections with `hub project run`)"
        )
    return engine


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
    engine = _engine(settings)
    try:
        service = ReportService(
            engine,
            reporting_currency=settings.reporting_currency,
            policy=Policy(threshold=threshold),
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


@api_app.command()
def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(DEFAULT_API_PORT, "--port", min=1, max=65535, help="Port to listen on."),
    tokens_file: Path | None = typer.Option(None, "--tokens-file", help="Default: HUB_TOKENS_FILE."),
    threshold: int = typer.Option(5, "--threshold", min=1, help="Counts below it are suppressed."),
    log_level: str = typer.Option("info", "--log-level", help="uvicorn log level."),
) -> None:
    """Serve the query API until interrupted (analyst and admin tokens may read)."""
    import uvicorn

    from hub.tokens import TokenFile, default_tokens_path
    from projections.api import create_query_app

    settings = settings_of(ctx)
    path = tokens_file if tokens_file is not None else (settings.tokens_file or default_tokens_path(settings.data_dir))
    tokens = TokenFile(path)
    count = len(tokens())  # a malformed file stops here with a message naming the entry and field
    if count == 0:
        err_console.print(
            f"[yellow]warning:[/] no tokens in {path}: every request will get 401 "
            "(create one with `hub tokens add --role analyst`)",
            highlight=False,
        )
    engine = _engine(settings)
    app = create_query_app(settings, engine, tokens, threshold=threshold)
    err_console.print(
        f"query API on http://{host}:{port} (docs at /docs), {count} token(s) from {path}", highlight=False
    )
    try:
        uvicorn.run(app, host=host, port=port, log_level=log_level)
    finally:
        engine.dispose()
