"""``hub api serve``: the query API (reports, indicators, projection status) until interrupted.

Checks before serving: the tokens file parses (a malformed entry stops the
command with an error naming it; an empty file is a warning, every request would
get 401) and the read-model database is at the newest revision
(:func:`projections.commands.db.read_model_engine`). The app is
:func:`projections.api.create_query_app`, served by uvicorn.
"""

from __future__ import annotations

from pathlib import Path

import typer

from hub.commandline import make_console, serving_tokens, settings_of
from projections.commands.db import read_model_engine

app = typer.Typer(help="The query API (reports, indicators, projection status).", no_args_is_help=True)
err_console = make_console(stderr=True)

DEFAULT_API_PORT = 8090


@app.command()
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

    from projections.api import create_query_app

    settings = settings_of(ctx)
    tokens, path, count = serving_tokens(settings, tokens_file, hint="hub tokens add --role analyst")
    engine = read_model_engine(settings)
    query_app = create_query_app(settings, engine, tokens, threshold=threshold)
    err_console.print(
        f"query API on http://{host}:{port} (docs at /docs), {count} token(s) from {path}", highlight=False
    )
    try:
        uvicorn.run(query_app, host=host, port=port, log_level=log_level)
    finally:
        engine.dispose()
